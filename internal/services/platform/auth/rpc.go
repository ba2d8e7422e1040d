package auth

import (
	"context"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	authv1 "github.com/secondopinion/platform/api/gen/auth/v1"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// rpcServer is the internal AuthService over the same rules as REST.
type rpcServer struct{ s *Service }

func (r *rpcServer) CreateUser(ctx context.Context, req *connect.Request[authv1.CreateUserRequest]) (*connect.Response[authv1.CreateUserResponse], error) {
	m := req.Msg
	id, err := r.s.createUser(ctx, NewUser{Email: m.Email, Password: m.Password, Role: m.Role, Phone: m.Phone, TwoFactorMethod: m.TwoFactorMethod})
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(&authv1.CreateUserResponse{UserId: id}), nil
}

func (r *rpcServer) DeleteUser(ctx context.Context, req *connect.Request[authv1.DeleteUserRequest]) (*connect.Response[authv1.DeleteUserResponse], error) {
	if err := r.s.deleteUser(ctx, req.Msg.UserId); err != nil {
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(&authv1.DeleteUserResponse{}), nil
}

// CheckPassword confirms the password of a patient about to be erased.
// Failures count on the login throttling of the user and of the end
// user's address, as any other re-authentication does.
func (r *rpcServer) CheckPassword(ctx context.Context, req *connect.Request[authv1.CheckPasswordRequest]) (*connect.Response[authv1.CheckPasswordResponse], error) {
	m := req.Msg
	if _, err := uuid.Parse(m.UserId); err != nil {
		return nil, rpc.Error(ctx, fault.Invalid("user_id", "must be a UUID"))
	}
	if _, err := r.s.reauthenticate(ctx, authn.Principal{Subject: m.UserId, Role: authn.RolePatient}, m.Password, m.ClientAddr); err != nil {
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(&authv1.CheckPasswordResponse{}), nil
}
