package rpc

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/secondopinion/platform/internal/kit/problem"
)

// codes maps the problem kinds a service answers with to gRPC codes, as
// problem maps them to HTTP statuses for REST.
var codes = map[problem.Kind]connect.Code{
	problem.KindInvalid:         connect.CodeInvalidArgument,
	problem.KindNotFound:        connect.CodeNotFound,
	problem.KindConflict:        connect.CodeAlreadyExists,
	problem.KindUnauthenticated: connect.CodeUnauthenticated,
	problem.KindForbidden:       connect.CodePermissionDenied,
	problem.KindUnavailable:     connect.CodeUnavailable,
}

// Error is an internal API's answer for err: a classified problem keeps
// its meaning ("field: detail" as the message), anything else is logged
// here and leaves the process as a bare internal error.
func Error(ctx context.Context, err error) error {
	p, ok := problem.As(err)
	code := connect.Code(0)
	if ok {
		code = codes[p.Kind]
	}
	if code == 0 {
		slog.ErrorContext(ctx, "rpc failed", "err", err)
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	msg := p.Detail
	if p.Field != "" {
		msg = p.Field + ": " + msg
	}
	return connect.NewError(code, errors.New(msg))
}
