// Package httpapi is the platform's HTTP plumbing for public REST APIs:
// a huma API on the standard library mux (OpenAPI 3.1 generated from the
// handlers), the one middleware chain every service runs (request id,
// tracing, metrics, access log, panic recovery, verified identity, body
// limit), RFC 9457 problem responses from classified errors, the
// operational endpoints and cursor pagination.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/secondopinion/platform/internal/kit/problem"
)

// NewAPI returns a huma API registering its operations on mux. It serves
// no spec or docs itself: the service's Spec is merged and published by
// Ops and by the gateway.
func NewAPI(mux *http.ServeMux, title, version string) huma.API {
	installErrors()
	cfg := huma.DefaultConfig(title, version)
	cfg.CreateHooks = nil // no $schema links in bodies: responses are our contract
	cfg.OpenAPIPath = ""
	cfg.DocsPath = ""
	cfg.SchemasPath = ""
	cfg.Info.Description = "Second Opinion " + title
	return humago.New(mux, cfg)
}

var installOnce sync.Once

// installErrors routes every huma error through problemFor, so classified
// errors keep their status and title and nothing internal (SQL, causes)
// reaches a response. huma exposes this only as a package variable.
func installErrors() {
	installOnce.Do(func() {
		def := huma.NewErrorWithContext
		huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
			for _, e := range errs {
				if e == nil {
					continue
				}
				if _, ok := problem.As(e); ok || status >= 500 {
					return problemFor(hctx.Context(), e)
				}
			}
			if status >= 500 {
				return problemFor(hctx.Context(), errors.New(msg))
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

// problemFor turns any error into the problem document sent to callers.
// Unclassified errors become a bare 500 and are logged with their cause.
func problemFor(ctx context.Context, err error) *huma.ErrorModel {
	p, ok := problem.As(err)
	if !ok {
		slog.ErrorContext(ctx, "internal error", "err", err)
		return &huma.ErrorModel{Status: http.StatusInternalServerError, Title: "Internal Server Error",
			Detail: "an unexpected error occurred; quote the request id when reporting it"}
	}
	status := p.Status()
	if status >= 500 && p.Err != nil {
		slog.WarnContext(ctx, "dependency failure", "status", status, "err", p.Err)
	}
	m := &huma.ErrorModel{Status: status, Title: p.Title, Detail: p.Detail}
	if p.Field != "" {
		m.Errors = []*huma.ErrorDetail{{Message: p.Detail, Location: p.Field}}
	}
	return m
}

// WriteProblem answers err as application/problem+json outside a huma
// handler (middleware, gateway, operational endpoints).
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	m := problemFor(r.Context(), err)
	if p, ok := problem.As(err); ok {
		for k, v := range p.GetHeaders() {
			w.Header()[k] = v
		}
	}
	writeJSON(w, "application/problem+json", m.Status, m)
}
