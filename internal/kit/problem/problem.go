// Package problem defines the errors with meaning that services return and
// maps each kind to one HTTP status, so the edge answers every failure as an
// RFC 9457 problem in one place.
package problem

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

const (
	KindInternal         Kind = iota // a fault of ours: 500, details never shown
	KindInvalid                      // bad input: 422 with the field at fault
	KindNotFound                     // 404
	KindConflict                     // 409: duplicate or state clash
	KindUnauthenticated              // 401
	KindForbidden                    // 403
	KindTooMany                      // 429
	KindUnavailable                  // 503: a dependency is down, retry later
	KindTimeout                      // 504: a dependency did not answer in time
	KindTooLarge                     // 413: the request body is over the limit
	KindBadGateway                   // 502: a dependency answered wrongly
	KindMethodNotAllowed             // 405: the path exists, the method does not
)

// Error is a classified error. Title and Detail are shown to callers, so
// they must never carry personal data, SQL or a stack.
type Error struct {
	Kind   Kind
	Title  string // short, stable summary, e.g. "Case already claimed"
	Detail string
	Field  string // JSON pointer-ish location of the bad input, e.g. "body.email"
	Err    error  // the cause, for logs and errors.Is; never shown
	// RetryAfter, when set, is sent as the Retry-After header (429, 503).
	RetryAfter time.Duration
}

// GetHeaders gives the response headers the error asks for.
func (e *Error) GetHeaders() http.Header {
	h := http.Header{}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	return h
}

func (e *Error) Error() string {
	msg := e.Title
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status for the error's kind.
func (e *Error) Status() int { return status[e.Kind] }

var status = map[Kind]int{
	KindInternal:         http.StatusInternalServerError,
	KindInvalid:          http.StatusUnprocessableEntity,
	KindNotFound:         http.StatusNotFound,
	KindConflict:         http.StatusConflict,
	KindUnauthenticated:  http.StatusUnauthorized,
	KindForbidden:        http.StatusForbidden,
	KindTooMany:          http.StatusTooManyRequests,
	KindUnavailable:      http.StatusServiceUnavailable,
	KindTimeout:          http.StatusGatewayTimeout,
	KindTooLarge:         http.StatusRequestEntityTooLarge,
	KindBadGateway:       http.StatusBadGateway,
	KindMethodNotAllowed: http.StatusMethodNotAllowed,
}

// Invalid reports bad input in field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Title: "Invalid input", Field: field, Detail: fmt.Sprintf(format, args...)}
}

// NotFound reports a missing resource; what names its kind, e.g. "case".
func NotFound(what string) *Error {
	return &Error{Kind: KindNotFound, Title: "Not found", Detail: what + " not found"}
}

// Conflict reports a clash with existing state under a stable title.
func Conflict(title, detail string) *Error {
	return &Error{Kind: KindConflict, Title: title, Detail: detail}
}

// Unauthenticated reports a missing or bad credential.
func Unauthenticated(detail string) *Error {
	return &Error{Kind: KindUnauthenticated, Title: "Unauthenticated", Detail: detail}
}

// Forbidden reports an authenticated caller without the right.
func Forbidden(detail string) *Error {
	return &Error{Kind: KindForbidden, Title: "Forbidden", Detail: detail}
}

// Unavailable reports a dependency that is down; cause is kept for logs.
func Unavailable(what string, cause error) *Error {
	return &Error{Kind: KindUnavailable, Title: "Service unavailable", Detail: what + " is unavailable", Err: cause, RetryAfter: 5 * time.Second}
}

// As finds the classified error in err's chain.
func As(err error) (*Error, bool) {
	var p *Error
	ok := errors.As(err, &p)
	return p, ok
}

// StatusOf is the HTTP status for any error: classified errors by kind,
// everything else 500.
func StatusOf(err error) int {
	if p, ok := As(err); ok {
		return p.Status()
	}
	return http.StatusInternalServerError
}
