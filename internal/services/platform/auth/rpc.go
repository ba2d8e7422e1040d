package auth

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	authv1 "github.com/secondopinion/platform/api/gen/auth/v1"
	"github.com/secondopinion/platform/internal/kit/problem"
)

// rpcServer is the internal AuthService over the same rules as REST.
type rpcServer struct{ s *Service }

func (r *rpcServer) CreateUser(ctx context.Context, req *connect.Request[authv1.CreateUserRequest]) (*connect.Response[authv1.CreateUserResponse], error) {
	m := req.Msg
	id, err := r.s.createUser(ctx, NewUser{Email: m.Email, Password: m.Password, Role: m.Role, Phone: m.Phone, TwoFactorMethod: m.TwoFactorMethod})
	if err != nil {
		return nil, rpcError(ctx, err)
	}
	return connect.NewResponse(&authv1.CreateUserResponse{UserId: id}), nil
}

func (r *rpcServer) DeleteUser(ctx context.Context, req *connect.Request[authv1.DeleteUserRequest]) (*connect.Response[authv1.DeleteUserResponse], error) {
	if err := r.s.deleteUser(ctx, req.Msg.UserId); err != nil {
		return nil, rpcError(ctx, err)
	}
	return connect.NewResponse(&authv1.DeleteUserResponse{}), nil
}

// rpcError maps classified errors to gRPC codes; anything else is an
// internal error whose cause stays in this process.
func rpcError(ctx context.Context, err error) error {
	p, ok := problem.As(err)
	code := map[problem.Kind]connect.Code{
		problem.KindInvalid:         connect.CodeInvalidArgument,
		problem.KindNotFound:        connect.CodeNotFound,
		problem.KindConflict:        connect.CodeAlreadyExists,
		problem.KindUnauthenticated: connect.CodeUnauthenticated,
		problem.KindForbidden:       connect.CodePermissionDenied,
		problem.KindUnavailable:     connect.CodeUnavailable,
	}[kindOf(p, ok)]
	if !ok || code == 0 {
		slog.ErrorContext(ctx, "auth rpc failed", "err", err)
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	msg := p.Detail
	if p.Field != "" {
		msg = p.Field + ": " + msg
	}
	return connect.NewError(code, errors.New(msg))
}

func kindOf(p *problem.Error, ok bool) problem.Kind {
	if !ok {
		return problem.KindInternal
	}
	return p.Kind
}
