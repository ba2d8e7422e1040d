package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/secondopinion/platform/api/gen/auth/v1"
	"github.com/secondopinion/platform/api/gen/auth/v1/authv1connect"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// rpcCallers is who may call the internal AuthService: the registrations
// create and compensate logins; anyone may try a service credential.
var rpcCallers = rpc.Callers{
	authv1connect.AuthServiceCreateUserProcedure:        {"patient-identity", "professional-identity"},
	authv1connect.AuthServiceDeleteUserProcedure:        {"patient-identity", "professional-identity"},
	authv1connect.AuthServiceCheckPasswordProcedure:     {"patient-identity"},
	authv1connect.AuthServiceIssueServiceTokenProcedure: {rpc.Anyone},
}

// ServiceToken issues the access token service name presents to its peers.
// Only the app calls it, for services in the same process.
func (s *Service) ServiceToken(name string) rpc.TokenSource {
	return func(context.Context) (string, time.Time, error) {
		return s.issuer.Issue(authn.Principal{Subject: name, Role: authn.RoleService})
	}
}

// ServiceSecrets is SERVICE_SECRETS: target=secret pairs, comma-separated.
type ServiceSecrets map[string]string

// UnmarshalText reads the pairs; a secret shorter than minServiceSecret is
// refused. Its error never repeats the value.
func (s *ServiceSecrets) UnmarshalText(b []byte) error {
	m := ServiceSecrets{}
	for _, pair := range config.SplitList(string(b)) {
		name, secret, ok := strings.Cut(pair, "=")
		if !ok || name == "" || len(secret) < minServiceSecret {
			return fmt.Errorf("want target=secret pairs with secrets of at least %d characters", minServiceSecret)
		}
		m[name] = secret
	}
	*s = m
	return nil
}

// minServiceSecret is the shortest service secret accepted.
const minServiceSecret = 16

var errBadServiceCredential = errors.New("unknown service or wrong secret")

// serviceToken exchanges a service's credential for its token.
func (s *Service) serviceToken(name, secret string) (string, time.Time, error) {
	want, ok := s.cfg.ServiceSecrets[name]
	// Compare even for an unknown name, so timing does not tell names.
	if subtle.ConstantTimeCompare([]byte(want+"\x00"), []byte(secret+"\x00")) != 1 || !ok || want == "" {
		return "", time.Time{}, errBadServiceCredential
	}
	tok, exp, err := s.issuer.Issue(authn.Principal{Subject: name, Role: authn.RoleService})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("service token for %s: %w", name, err)
	}
	s.Log.Info("service token issued", "caller", name)
	return tok, exp, nil
}

func (r *rpcServer) IssueServiceToken(ctx context.Context, req *connect.Request[authv1.IssueServiceTokenRequest]) (*connect.Response[authv1.IssueServiceTokenResponse], error) {
	tok, exp, err := r.s.serviceToken(req.Msg.Service, req.Msg.Secret)
	if errors.Is(err, errBadServiceCredential) {
		r.s.Log.WarnContext(ctx, "service credential refused")
		return nil, connect.NewError(connect.CodeUnauthenticated, err)
	}
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(&authv1.IssueServiceTokenResponse{Token: tok, ExpiresAt: exp.UTC().Format(time.RFC3339)}), nil
}
