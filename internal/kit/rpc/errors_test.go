package rpc

import (
	"context"
	"errors"
	"testing"

	"connectrpc.com/connect"

	"github.com/secondopinion/platform/internal/kit/fault"
)

func TestError(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		err     error
		code    connect.Code
		message string
	}{
		{fault.Invalid("body.email", "must be an email address"), connect.CodeInvalidArgument, "body.email: must be an email address"},
		{fault.NotFound("case"), connect.CodeNotFound, "case not found"},
		{fault.Unavailable("auth", errors.New("dial: refused")), connect.CodeUnavailable, ""},
		{errors.New("select from cases: connection reset by peer"), connect.CodeInternal, "internal error"},
	} {
		var ce *connect.Error
		if !errors.As(Error(ctx, tc.err), &ce) || ce.Code() != tc.code || (tc.message != "" && ce.Message() != tc.message) {
			t.Errorf("%v: %v, want %v %q", tc.err, ce, tc.code, tc.message)
		}
	}
}
