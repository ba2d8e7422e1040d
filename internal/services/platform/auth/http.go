package auth

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/problem"
)

// clientAddr keys per-address throttling: the client the platform
// middleware found, believing X-Forwarded-For only from trusted proxies
// (TRUSTED_PROXIES: the gateway, a sidecar). Keying on the peer alone
// would put every caller behind the gateway in one bucket, so that a few
// failed logins by anyone would lock everyone out; a caller reaching auth
// directly cannot name another address to dodge the limit.
func clientAddr(ctx context.Context) string { return kitaudit.FromContext(ctx).ClientAddr }

// Passwords carry no length tags: huma would echo a refused value.
type loginInput struct {
	Body struct {
		Email    string `json:"email" maxLength:"254"`
		Password string `json:"password" writeOnly:"true"`
	}
}

// LoginBody is a completed login (tokens) or a second-factor challenge.
type LoginBody struct {
	AccessToken  string `json:"accessToken,omitempty"`
	RefreshToken string `json:"refreshToken,omitempty"`
	ExpiresIn    int    `json:"expiresIn,omitempty" doc:"seconds until the access token expires"`
	TokenType    string `json:"tokenType,omitempty" enum:"Bearer"`
	ChallengeID  string `json:"challengeId,omitempty" format:"uuid"`
	Method       string `json:"method,omitempty" enum:"EMAIL,SMS,TOTP"`
}

type loginOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         LoginBody
}

func tokensOut(t Tokens) *loginOutput {
	return &loginOutput{CacheControl: "no-store", Body: LoginBody{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken,
		ExpiresIn: t.ExpiresIn, TokenType: "Bearer"}}
}

type verifyInput struct {
	Body struct {
		ChallengeID string `json:"challengeId" format:"uuid"`
		Code        string `json:"code" maxLength:"16" writeOnly:"true"`
	}
}

type refreshInput struct {
	Body struct {
		RefreshToken string `json:"refreshToken" maxLength:"128" writeOnly:"true"`
	}
}

type resetInput struct {
	Body struct {
		Email string `json:"email" maxLength:"254"`
	}
}

type resetConfirmInput struct {
	Body struct {
		Token       string `json:"token" maxLength:"128" writeOnly:"true"`
		NewPassword string `json:"newPassword" writeOnly:"true"`
	}
}

type totpOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		ProvisioningURI string `json:"provisioningUri" doc:"otpauth:// URI for an authenticator app"`
	}
}

type totpConfirmInput struct {
	Body struct {
		Code string `json:"code" maxLength:"16" writeOnly:"true"`
	}
}

// recoveryCodesOutput shows recovery codes the only time they exist in
// clear.
type recoveryCodesOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		RecoveryCodes []string `json:"recoveryCodes" doc:"one-time codes that replace a TOTP code at /api/v1/auth/2fa/verify; shown only now"`
	}
}

func recoveryCodesOut(codes []string) *recoveryCodesOutput {
	out := &recoveryCodesOutput{CacheControl: "no-store"}
	out.Body.RecoveryCodes = codes
	return out
}

// passwordInput is the body of a change to the caller's second factor,
// which needs the current password again.
type passwordInput struct {
	Body struct {
		Password string `json:"password" writeOnly:"true" doc:"the current password"`
	}
}

type twoFactorInput struct {
	Body struct {
		Method   string `json:"method" enum:"NONE,EMAIL,SMS" doc:"TOTP is enrolled through /api/v1/auth/2fa/totp"`
		Password string `json:"password" writeOnly:"true" doc:"the current password"`
	}
}

type jwksOutput struct {
	ContentType  string `header:"Content-Type"`
	CacheControl string `header:"Cache-Control"`
	Body         []byte
}

// ProfessionalAuthBody is the plan's answer of POST /api/v1/professionals/auth.
type ProfessionalAuthBody struct {
	Token        string `json:"token"`
	Professional struct {
		ID    string `json:"id" format:"uuid"`
		Email string `json:"email"`
	} `json:"professional"`
}

type professionalAuthOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         ProfessionalAuthBody
}

func (s *Service) routes() {
	tags := []string{"auth"}
	// Signing in, resetting a password and the public keys serve callers
	// who have no token yet (or only an expired one): public, with the
	// credentials themselves as the check. Managing one's own session or
	// second factor needs a signed-in person; service principals have no
	// session or second factor to manage.
	person := authz.Roles(authn.RolePatient, authn.RoleProfessional, authn.RoleAdmin)
	authz.Register(s.api, huma.Operation{OperationID: "login", Method: http.MethodPost, Path: "/api/v1/auth/login",
		Summary: "Log in with email and password", Tags: tags}, authz.Public, s.postLogin)
	authz.Register(s.api, huma.Operation{OperationID: "verify-2fa", Method: http.MethodPost, Path: "/api/v1/auth/2fa/verify",
		Summary: "Complete a login with the second factor", Tags: tags}, authz.Public, s.postVerify)
	authz.Register(s.api, huma.Operation{OperationID: "refresh-token", Method: http.MethodPost, Path: "/api/v1/auth/refresh",
		Summary: "Exchange a refresh token for new tokens", Tags: tags}, authz.Public, s.postRefresh)
	authz.Register(s.api, huma.Operation{OperationID: "logout", Method: http.MethodPost, Path: "/api/v1/auth/logout",
		Summary: "End the caller's session", Tags: tags, DefaultStatus: http.StatusNoContent}, person, s.postLogout)
	authz.Register(s.api, huma.Operation{OperationID: "request-password-reset", Method: http.MethodPost, Path: "/api/v1/auth/password-reset",
		Summary: "Send a password reset token (always accepted)", Tags: tags, DefaultStatus: http.StatusAccepted}, authz.Public, s.postReset)
	authz.Register(s.api, huma.Operation{OperationID: "confirm-password-reset", Method: http.MethodPost, Path: "/api/v1/auth/password-reset/confirm",
		Summary: "Set a new password with a reset token", Tags: tags, DefaultStatus: http.StatusNoContent}, authz.Public, s.postResetConfirm)
	authz.Register(s.api, huma.Operation{OperationID: "enrol-totp", Method: http.MethodPost, Path: "/api/v1/auth/2fa/totp",
		Summary: "Start TOTP enrolment (needs the current password)", Tags: tags}, person, s.postTOTP)
	authz.Register(s.api, huma.Operation{OperationID: "confirm-totp", Method: http.MethodPost, Path: "/api/v1/auth/2fa/totp/confirm",
		Summary: "Make TOTP the second factor and get recovery codes", Tags: tags}, person, s.postTOTPConfirm)
	authz.Register(s.api, huma.Operation{OperationID: "replace-recovery-codes", Method: http.MethodPost, Path: "/api/v1/auth/2fa/recovery-codes",
		Summary: "Replace the TOTP recovery codes by a new set", Tags: tags}, person, s.postRecoveryCodes)
	authz.Register(s.api, huma.Operation{OperationID: "set-2fa-method", Method: http.MethodPost, Path: "/api/v1/auth/2fa/method",
		Summary: "Choose the second factor: NONE, EMAIL or SMS", Tags: tags, DefaultStatus: http.StatusNoContent}, person, s.post2FAMethod)
	authz.Register(s.api, huma.Operation{OperationID: "jwks", Method: http.MethodGet, Path: "/.well-known/jwks.json",
		Summary: "Public keys that verify access tokens", Tags: tags}, authz.Public, s.getJWKS)
	authz.Register(s.api, huma.Operation{OperationID: "professional-auth", Method: http.MethodPost, Path: "/api/v1/professionals/auth",
		Summary: "Log a professional in (the plan's shape)", Tags: []string{"professionals"}}, authz.Public, s.postProfessionalAuth)
}

func (s *Service) postLogin(ctx context.Context, in *loginInput) (*loginOutput, error) {
	r, err := s.login(ctx, in.Body.Email, in.Body.Password, clientAddr(ctx))
	if err != nil {
		return nil, err
	}
	if r.Tokens != nil {
		return tokensOut(*r.Tokens), nil
	}
	return &loginOutput{CacheControl: "no-store", Body: LoginBody{ChallengeID: r.ChallengeID, Method: r.Method}}, nil
}

func (s *Service) postVerify(ctx context.Context, in *verifyInput) (*loginOutput, error) {
	t, err := s.verifyCode(ctx, in.Body.ChallengeID, in.Body.Code, clientAddr(ctx))
	if err != nil {
		return nil, err
	}
	return tokensOut(t), nil
}

func (s *Service) postRefresh(ctx context.Context, in *refreshInput) (*loginOutput, error) {
	t, err := s.refresh(ctx, in.Body.RefreshToken)
	if err != nil {
		return nil, err
	}
	return tokensOut(t), nil
}

func (s *Service) postLogout(ctx context.Context, _ *struct{}) (*struct{}, error) {
	return nil, s.logout(ctx, authn.FromContext(ctx))
}

func (s *Service) postReset(ctx context.Context, in *resetInput) (*struct{}, error) {
	return nil, s.requestReset(ctx, in.Body.Email, clientAddr(ctx))
}

func (s *Service) postResetConfirm(ctx context.Context, in *resetConfirmInput) (*struct{}, error) {
	return nil, s.confirmReset(ctx, in.Body.Token, in.Body.NewPassword, clientAddr(ctx))
}

func (s *Service) postTOTP(ctx context.Context, in *passwordInput) (*totpOutput, error) {
	uri, err := s.enrolTOTP(ctx, authn.FromContext(ctx), in.Body.Password, clientAddr(ctx))
	if err != nil {
		return nil, err
	}
	out := &totpOutput{CacheControl: "no-store"}
	out.Body.ProvisioningURI = uri
	return out, nil
}

func (s *Service) postTOTPConfirm(ctx context.Context, in *totpConfirmInput) (*recoveryCodesOutput, error) {
	codes, err := s.confirmTOTP(ctx, authn.FromContext(ctx), in.Body.Code)
	if err != nil {
		return nil, err
	}
	return recoveryCodesOut(codes), nil
}

func (s *Service) postRecoveryCodes(ctx context.Context, in *passwordInput) (*recoveryCodesOutput, error) {
	codes, err := s.replaceRecoveryCodes(ctx, authn.FromContext(ctx), in.Body.Password, clientAddr(ctx))
	if err != nil {
		return nil, err
	}
	return recoveryCodesOut(codes), nil
}

func (s *Service) post2FAMethod(ctx context.Context, in *twoFactorInput) (*struct{}, error) {
	return nil, s.setTwoFactor(ctx, authn.FromContext(ctx), in.Body.Method, in.Body.Password, clientAddr(ctx))
}

func (s *Service) getJWKS(context.Context, *struct{}) (*jwksOutput, error) {
	b, err := s.keys.JWKS()
	if err != nil {
		return nil, err
	}
	return &jwksOutput{ContentType: "application/jwk-set+json", CacheControl: "public, max-age=300", Body: b}, nil
}

func (s *Service) postProfessionalAuth(ctx context.Context, in *loginInput) (*professionalAuthOutput, error) {
	r, err := s.login(ctx, in.Body.Email, in.Body.Password, clientAddr(ctx))
	if err != nil {
		return nil, err
	}
	if r.Role != authn.RoleProfessional {
		// A session was opened for a non-professional: close it again and
		// answer as for wrong credentials.
		if r.Tokens != nil {
			if err := s.endSessionOf(ctx, r.Tokens.AccessToken); err != nil {
				return nil, err
			}
		}
		return nil, errBadCredentials
	}
	if r.Tokens == nil {
		return nil, problem.Forbidden("this account uses a second factor: log in through /api/v1/auth/login")
	}
	out := &professionalAuthOutput{CacheControl: "no-store"}
	out.Body.Token = r.Tokens.AccessToken
	out.Body.Professional.ID = r.Tokens.UserID
	out.Body.Professional.Email = normEmail(in.Body.Email)
	return out, nil
}

func (s *Service) endSessionOf(ctx context.Context, accessToken string) error {
	p, err := s.tokens.Verify(ctx, accessToken)
	if err != nil {
		return err
	}
	return s.logout(ctx, p)
}
