package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// codes maps the problem kinds a service answers with to gRPC codes, as
// problem maps them to HTTP statuses for REST.
var codes = map[fault.Kind]connect.Code{
	fault.KindInvalid:         connect.CodeInvalidArgument,
	fault.KindNotFound:        connect.CodeNotFound,
	fault.KindConflict:        connect.CodeAlreadyExists,
	fault.KindUnauthenticated: connect.CodeUnauthenticated,
	fault.KindForbidden:       connect.CodePermissionDenied,
	fault.KindTooMany:         connect.CodeResourceExhausted,
	fault.KindUnavailable:     connect.CodeUnavailable,
}

// Error is an internal API's answer for err: a classified problem keeps
// its meaning ("field: detail" as the message), a store that is down or
// too slow is Unavailable (sqldb.Classify), anything else is logged here
// and leaves the process as a bare internal error.
func Error(ctx context.Context, err error) error {
	p, ok := fault.As(sqldb.Classify(err))
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

// PeerError classifies a failed call to peer for what (e.g. "case") id:
// NotFound is the caller's missing what, a peer that is down, slow or
// overloaded is Unavailable (503 with Retry-After), anything else is our
// fault and keeps its cause.
func PeerError(peer, what, id string, err error) error {
	switch connect.CodeOf(err) {
	case connect.CodeNotFound:
		return fault.NotFound(what)
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeResourceExhausted:
		return fault.Unavailable(peer, err)
	}
	return fmt.Errorf("look up %s %s at %s: %w", what, id, peer, err)
}
