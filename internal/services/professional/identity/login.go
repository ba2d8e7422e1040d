package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/secondopinion/platform/api/gen/auth/v1"
	"github.com/secondopinion/platform/internal/kit/problem"
	"github.com/secondopinion/platform/internal/services/professional/identity/store"
)

// peerTimeout bounds a call to auth, which hashes the password at bcrypt
// cost 12 when creating a login.
const peerTimeout = 10 * time.Second

// roleProfessional is the role of every login this service creates.
const roleProfessional = "professional"

// createLogin creates the professional's login in auth and returns its
// user id.
func (s *Service) createLogin(ctx context.Context, email, password string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	res, err := s.auth.CreateUser(ctx, connect.NewRequest(&authv1.CreateUserRequest{
		Email: email, Password: password, Role: roleProfessional,
	}))
	if err != nil {
		return "", loginError(err, password, email)
	}
	return res.Msg.UserId, nil
}

// loginError classifies auth's refusal of a login. auth's messages are
// "field: rule"; a rule is passed on only when it repeats none of the
// submitted secrets.
func loginError(err error, secrets ...string) error {
	switch connect.CodeOf(err) {
	case connect.CodeAlreadyExists:
		return store.ErrEmailTaken
	case connect.CodeInvalidArgument:
		var ce *connect.Error
		errors.As(err, &ce) // CodeOf found one
		field, rule, _ := strings.Cut(ce.Message(), ": ")
		switch field {
		case "body.password", "body.email":
		default:
			return fmt.Errorf("create login: auth refused a field this service sets: %s", field)
		}
		for _, v := range secrets {
			if v != "" && strings.Contains(rule, v) {
				rule = "is not accepted"
			}
		}
		return problem.Invalid(field, "%s", rule)
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeResourceExhausted:
		return problem.Unavailable(authTarget, err)
	default:
		return fmt.Errorf("create login: %w", err)
	}
}

// dropLogin deletes the login of a registration whose profile was not
// stored. It runs even when the caller has gone: a login without a profile
// would keep the email from being registered again.
func (s *Service) dropLogin(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), peerTimeout)
	defer cancel()
	_, err := s.auth.DeleteUser(ctx, connect.NewRequest(&authv1.DeleteUserRequest{UserId: id}))
	if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
		s.log.ErrorContext(ctx, "login of an unstored registration not deleted", "userId", id, "code", connect.CodeOf(err).String())
		return
	}
	s.log.InfoContext(ctx, "login of an unstored registration deleted", "userId", id)
}
