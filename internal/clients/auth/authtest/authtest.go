// Package authtest stands in for auth's internal AuthService in the tests
// of the services that reach it through the auth client (the
// registrations, patients' and professionals'). Like net/http/httptest it
// is a real package, meant to be imported only by tests.
//
// Serve runs the stand-in in memory, as in `all` mode, over the protocol
// the client speaks, with the gRPC health service the client's readiness
// check asks. It keeps the logins CreateUser makes and DeleteUser removes,
// checks their passwords for CheckPassword, and refuses what auth refuses: a caller other than the one service
// admitted, an email another login has (compared lower-cased), and
// CommonPassword, with auth's "field: rule" message.
package authtest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/google/uuid"

	authv1 "github.com/secondopinion/platform/api/gen/auth/v1"
	"github.com/secondopinion/platform/api/gen/auth/v1/authv1connect"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// CommonPassword is a password auth's list refuses.
const CommonPassword = "password1234"

// Login is a login the stand-in holds; the email is stored lower-cased,
// as auth stores it.
type Login struct{ Email, Password, Role, Phone string }

// Server is the stand-in's state: the logins it holds, by user id. It is
// safe for concurrent use.
type Server struct {
	mu    sync.Mutex
	users map[string]Login
}

// Serve serves a stand-in auth in memory and closes it when the test
// ends. Like auth, it admits CreateUser, DeleteUser and CheckPassword only from the
// service identity caller, which v (the test's token verifier) must yield
// for the bearer token the caller presents. Dial the returned server with
// its Client and rpc.BaseURL; closing it early makes auth unreachable.
func Serve(t testing.TB, caller string, v authn.Verifier) (*Server, *rpc.InProcess) {
	t.Helper()
	s := &Server{users: map[string]Login{}}
	mux := http.NewServeMux()
	mux.Handle(authv1connect.NewAuthServiceHandler(handler{s: s}, rpc.Guard(rpc.Callers{
		authv1connect.AuthServiceCreateUserProcedure:    {caller},
		authv1connect.AuthServiceDeleteUserProcedure:    {caller},
		authv1connect.AuthServiceCheckPasswordProcedure: {caller},
	})))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(authv1connect.AuthServiceName)))
	mem := rpc.NewInProcess(httpapi.Wrap(mux, httpapi.Options{Service: "auth", Verifier: v}))
	t.Cleanup(func() { mem.Close() })
	return s, mem
}

// User is the login of user id.
func (s *Server) User(id string) (Login, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	return u, ok
}

// Count is the number of logins.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users)
}

// Forget drops every login behind the caller's back, as an operator
// deleting auth's users would.
func (s *Server) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.users)
}

// handler is the AuthService the stand-in serves; the methods it does not
// implement answer Unimplemented.
type handler struct {
	authv1connect.UnimplementedAuthServiceHandler
	s *Server
}

func (h handler) CreateUser(_ context.Context, req *connect.Request[authv1.CreateUserRequest]) (*connect.Response[authv1.CreateUserResponse], error) {
	m := req.Msg
	if strings.EqualFold(m.Password, CommonPassword) {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("password: is too common; choose another"))
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	for _, u := range h.s.users {
		if strings.EqualFold(u.Email, m.Email) {
			return nil, connect.NewError(connect.CodeAlreadyExists, errors.New("email: is taken"))
		}
	}
	id := uuid.NewString()
	h.s.users[id] = Login{Email: strings.ToLower(m.Email), Password: m.Password, Role: m.Role, Phone: m.Phone}
	return connect.NewResponse(&authv1.CreateUserResponse{UserId: id}), nil
}

func (h handler) DeleteUser(_ context.Context, req *connect.Request[authv1.DeleteUserRequest]) (*connect.Response[authv1.DeleteUserResponse], error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if _, ok := h.s.users[req.Msg.UserId]; !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("user not found"))
	}
	delete(h.s.users, req.Msg.UserId)
	return connect.NewResponse(&authv1.DeleteUserResponse{}), nil
}

func (h handler) CheckPassword(_ context.Context, req *connect.Request[authv1.CheckPasswordRequest]) (*connect.Response[authv1.CheckPasswordResponse], error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	u, ok := h.s.users[req.Msg.UserId]
	switch {
	case !ok:
		return nil, connect.NewError(connect.CodeNotFound, errors.New("user not found"))
	case u.Password != req.Msg.Password:
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("the password is wrong"))
	}
	return connect.NewResponse(&authv1.CheckPasswordResponse{}), nil
}
