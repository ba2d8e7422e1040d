package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// statuses is the one mapping of fault kinds to HTTP statuses.
var statuses = map[fault.Kind]int{
	fault.KindInternal:         http.StatusInternalServerError,
	fault.KindInvalid:          http.StatusUnprocessableEntity,
	fault.KindNotFound:         http.StatusNotFound,
	fault.KindConflict:         http.StatusConflict,
	fault.KindUnauthenticated:  http.StatusUnauthorized,
	fault.KindForbidden:        http.StatusForbidden,
	fault.KindTooMany:          http.StatusTooManyRequests,
	fault.KindUnavailable:      http.StatusServiceUnavailable,
	fault.KindTimeout:          http.StatusGatewayTimeout,
	fault.KindTooLarge:         http.StatusRequestEntityTooLarge,
	fault.KindBadGateway:       http.StatusBadGateway,
	fault.KindMethodNotAllowed: http.StatusMethodNotAllowed,
	fault.KindMalformed:        http.StatusBadRequest,
	fault.KindHeadersTooLarge:  http.StatusRequestHeaderFieldsTooLarge,
	fault.KindRequestTimeout:   http.StatusRequestTimeout,
	fault.KindUnsupported:      http.StatusUnsupportedMediaType,
	fault.KindPaymentRequired:  http.StatusPaymentRequired,
}

// StatusOf is the HTTP status of any error: a fault's by its kind,
// anything else 500.
func StatusOf(err error) int { return statuses[fault.KindOf(err)] }

// Problem is a fault as the HTTP edge answers it: an RFC 9457 document
// with the status of its kind, the field at fault located in the request,
// and the headers it asks for (Retry-After).
type Problem struct {
	*huma.ErrorModel
	headers http.Header
}

// GetHeaders gives the response headers of the problem.
func (p *Problem) GetHeaders() http.Header { return p.headers }

// Unwrap lets huma and errors.As see the document inside.
func (p *Problem) Unwrap() error { return p.ErrorModel }

// locator says where in the request a field the caller sent was: by
// default the body; an operation locates its parameters by name.
type locator func(field string) string

func inBody(field string) string { return "body." + field }

// locate qualifies a fault's field, unless the fault already said where it
// was ("header.Idempotency-Key").
func (l locator) locate(field string) string {
	switch {
	case field == "" || field == "body":
		return field
	case hasLocation(field):
		return field
	case l == nil:
		return inBody(field)
	}
	return l(field)
}

func hasLocation(field string) bool {
	for _, in := range []string{"body.", "query.", "path.", "header.", "cookie."} {
		if strings.HasPrefix(field, in) {
			return true
		}
	}
	return false
}

// StatusClientClosed is nginx's code for a request its caller abandoned.
const StatusClientClosed = 499

// problemFor turns any error into the problem sent to callers. A store
// that is down or too slow is 503 (sqldb.Classify); other unclassified
// errors become a bare 500 and are logged with their cause; nothing
// internal (SQL, causes) reaches a response.
func problemFor(ctx context.Context, err error, where locator) *Problem {
	f, ok := fault.As(sqldb.Classify(err))
	if !ok && errors.Is(ctx.Err(), context.Canceled) {
		// The caller hung up, and the handler failed for it (a body cut
		// off, a query cancelled): nobody reads this answer, and nothing
		// failed here. 499, as nginx and the gateway log it, keeps it out
		// of the 5xx an operator is paged for.
		return &Problem{ErrorModel: &huma.ErrorModel{Status: StatusClientClosed, Title: "Client Closed Request"}}
	}
	if !ok {
		slog.ErrorContext(ctx, "internal error", "err", err)
		return &Problem{ErrorModel: &huma.ErrorModel{Status: http.StatusInternalServerError, Title: "Internal Server Error",
			Detail: "an unexpected error occurred; quote the request id when reporting it"}}
	}
	status := statuses[f.Kind]
	if status >= 500 && f.Err != nil {
		slog.WarnContext(ctx, "dependency failure", "status", status, "err", f.Err)
	}
	p := &Problem{ErrorModel: &huma.ErrorModel{Status: status, Title: f.Title, Detail: f.Detail}, headers: http.Header{}}
	if f.Field != "" {
		p.Errors = []*huma.ErrorDetail{{Message: f.Detail, Location: where.locate(f.Field)}}
	}
	if f.RetryAfter > 0 {
		p.headers.Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	return p
}

// WriteProblem answers err as application/problem+json outside a huma
// handler (middleware, gateway, operational endpoints).
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(r.Context(), err, nil)
	for k, v := range p.headers {
		w.Header()[k] = v
	}
	writeJSON(w, "application/problem+json", p.Status, p.ErrorModel)
}

// RenderProblem is the problem WriteProblem sends for err: its status,
// headers and body, for a library that writes its own responses (tusd).
func RenderProblem(ctx context.Context, err error) (int, http.Header, []byte) {
	p := problemFor(ctx, err, nil)
	h := p.headers.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/problem+json")
	body, _ := json.Marshal(p.ErrorModel)
	return p.Status, h, body
}

// installErrors routes every huma error through problemFor, so faults
// keep their status and title and nothing internal reaches a response.
// huma exposes this only as a package variable.
func installErrors() {
	installOnce.Do(func() {
		def := huma.NewErrorWithContext
		huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
			for _, e := range errs {
				if e == nil {
					continue
				}
				var p *Problem
				if errors.As(e, &p) {
					return p.ErrorModel
				}
				if _, ok := fault.As(e); ok || status >= 500 {
					return problemFor(hctx.Context(), e, nil).ErrorModel
				}
			}
			if status >= 500 {
				return problemFor(hctx.Context(), errors.New(msg), nil).ErrorModel
			}
			se := def(hctx, status, msg, errs...)
			// huma echoes the rejected value — for an unknown or missing
			// property the whole body, passwords and health data included.
			if m, ok := se.(*huma.ErrorModel); ok {
				for _, d := range m.Errors {
					if d != nil {
						d.Value = nil
					}
				}
			}
			return se
		}
	})
}
