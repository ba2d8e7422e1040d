// Package fault defines the errors with meaning that services return: a
// Kind that says what the caller can do about the failure, a title and
// detail safe to show, and the input field at fault. It knows no protocol:
// the HTTP edge (package httpapi) turns a fault into an RFC 9457 problem
// and the gRPC edge (package rpc) into a status code, each in one place.
package fault

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

const (
	KindInternal         Kind = iota // a fault of ours; details never shown
	KindInvalid                      // bad input, with the field at fault
	KindNotFound                     // no such resource (or not the caller's)
	KindConflict                     // duplicate or state clash
	KindUnauthenticated              // missing or bad credential
	KindForbidden                    // the caller may not do this
	KindTooMany                      // rate or attempt limit reached
	KindUnavailable                  // a dependency is down: retry later
	KindTimeout                      // a dependency did not answer in time
	KindTooLarge                     // the request is over a size limit
	KindBadGateway                   // a dependency answered wrongly
	KindMethodNotAllowed             // the resource exists, the method does not
	KindMalformed                    // the request breaks HTTP itself, so no field is at fault
	KindHeadersTooLarge              // the request's headers are over the size limit
	KindRequestTimeout               // the request did not arrive in time
	KindUnsupported                  // the content is of a type the operation does not take
	KindPaymentRequired              // a payment was declined: another means of payment may succeed
)

// Error is a classified error. Title and Detail are shown to callers, so
// they must never carry personal data, SQL or a stack.
type Error struct {
	Kind   Kind
	Title  string // short, stable summary, e.g. "Case already claimed"
	Detail string
	// Field names the input at fault as the caller wrote it: a JSON field
	// path ("email", "diagnoses[0].code") or a parameter name ("cursor").
	// The edge says where it was (body, query, path, header).
	Field string
	Err   error // the cause, for logs and errors.Is; never shown
	// RetryAfter, when set, tells the caller when to try again.
	RetryAfter time.Duration
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
	var f *Error
	ok := errors.As(err, &f)
	return f, ok
}

// KindOf is the kind of err: that of the classified error in its chain,
// KindInternal for anything else.
func KindOf(err error) Kind {
	if f, ok := As(err); ok {
		return f.Kind
	}
	return KindInternal
}

// Is reports whether err is classified as kind.
func Is(err error, kind Kind) bool {
	f, ok := As(err)
	return ok && f.Kind == kind
}
