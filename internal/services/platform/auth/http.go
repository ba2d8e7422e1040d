package auth

import (
	"context"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
)

// clientAddr keys per-address throttling: the client the platform
// middleware found, believing X-Forwarded-For only from trusted proxies
// (TRUSTED_PROXIES: the gateway, a sidecar). Keying on the peer alone
// would put every caller behind the gateway in one bucket, so that a few
// failed logins by anyone would lock everyone out; a caller reaching auth
// directly cannot name another address to dodge the limit.
func clientAddr(ctx context.Context) string { return kitaudit.FromContext(ctx).ClientAddr }

// Passwords carry no length tags: huma would echo a refused value.

// LoginRequest is an email and password, at /api/v1/auth/login and the
// plan's /api/v1/professionals/auth.
type LoginRequest struct {
	Email    string `json:"email" maxLength:"254"`
	Password string `json:"password" writeOnly:"true"`
}

// LoginOutcome is a completed login (tokens) or, for a user with a second
// factor, the challenge that /api/v1/auth/2fa/verify completes.
type LoginOutcome struct {
	AccessToken  string `json:"accessToken,omitempty"`
	RefreshToken string `json:"refreshToken,omitempty"`
	ExpiresIn    int    `json:"expiresIn,omitempty" doc:"seconds until the access token expires"`
	TokenType    string `json:"tokenType,omitempty" enum:"Bearer"`
	ChallengeID  string `json:"challengeId,omitempty" format:"uuid"`
	Method       string `json:"method,omitempty" enum:"EMAIL,SMS,TOTP"`
}

// TokenPair is a new access token and the refresh token that replaces it.
type TokenPair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresIn    int    `json:"expiresIn" doc:"seconds until the access token expires"`
	TokenType    string `json:"tokenType" enum:"Bearer"`
}

// TwoFactorAnswer completes a login's challenge with the code sent by
// EMAIL or SMS, a TOTP code, or a TOTP recovery code.
type TwoFactorAnswer struct {
	ChallengeID string `json:"challengeId" format:"uuid"`
	Code        string `json:"code" maxLength:"16" writeOnly:"true"`
}

// TokenRefresh is the refresh token to exchange.
type TokenRefresh struct {
	RefreshToken string `json:"refreshToken" maxLength:"128" writeOnly:"true"`
}

// PasswordResetRequest names the account to send a reset token to.
type PasswordResetRequest struct {
	Email string `json:"email" maxLength:"254"`
}

// PasswordResetConfirmation sets a new password with a reset token.
type PasswordResetConfirmation struct {
	Token       string `json:"token" maxLength:"128" writeOnly:"true"`
	NewPassword string `json:"newPassword" writeOnly:"true"`
}

// CurrentPassword is the caller's password again, which a change of their
// second factor needs.
type CurrentPassword struct {
	Password string `json:"password" writeOnly:"true" doc:"the current password"`
}

// TOTPEnrolment is a started TOTP enrolment, for an authenticator app.
type TOTPEnrolment struct {
	ProvisioningURI string `json:"provisioningUri" doc:"otpauth:// URI for an authenticator app"`
}

// TOTPConfirmation is a code of the enrolled authenticator, which proves
// it works.
type TOTPConfirmation struct {
	Code string `json:"code" maxLength:"16" writeOnly:"true"`
}

// RecoveryCodeSet shows recovery codes the only time they exist in clear.
type RecoveryCodeSet struct {
	RecoveryCodes []string `json:"recoveryCodes" doc:"one-time codes that replace a TOTP code at /api/v1/auth/2fa/verify; shown only now"`
}

// TwoFactorMethodChoice chooses the caller's second factor.
type TwoFactorMethodChoice struct {
	Method   string `json:"method" enum:"NONE,EMAIL,SMS" doc:"TOTP is enrolled through /api/v1/auth/2fa/totp"`
	Password string `json:"password" writeOnly:"true" doc:"the current password"`
}

// ProfessionalLogin is the plan's answer of POST /api/v1/professionals/auth.
type ProfessionalLogin struct {
	Token        string               `json:"token"`
	Professional LoggedInProfessional `json:"professional"`
}

// LoggedInProfessional is who a ProfessionalLogin is for.
type LoggedInProfessional struct {
	ID    string `json:"id" format:"uuid"`
	Email string `json:"email"`
}

// Every answer that carries a secret is marked no-store.
type (
	loginInput  struct{ Body LoginRequest }
	loginOutput struct {
		CacheControl string `header:"Cache-Control"`
		Body         LoginOutcome
	}
	tokensOutput struct {
		CacheControl string `header:"Cache-Control"`
		Body         TokenPair
	}
	verifyInput       struct{ Body TwoFactorAnswer }
	refreshInput      struct{ Body TokenRefresh }
	resetInput        struct{ Body PasswordResetRequest }
	resetConfirmInput struct{ Body PasswordResetConfirmation }
	passwordInput     struct{ Body CurrentPassword }
	totpOutput        struct {
		CacheControl string `header:"Cache-Control"`
		Body         TOTPEnrolment
	}
	totpConfirmInput    struct{ Body TOTPConfirmation }
	recoveryCodesOutput struct {
		CacheControl string `header:"Cache-Control"`
		Body         RecoveryCodeSet
	}
	twoFactorInput struct{ Body TwoFactorMethodChoice }
	// JSONWebKeySet is the published form of the keyring (RFC 7517): the
	// body is written by the keyring itself, this describes it.
	JSONWebKeySet struct {
		Keys []JSONWebKey `json:"keys"`
	}
	// JSONWebKey is one Ed25519 public key (RFC 8037).
	JSONWebKey struct {
		KeyType   string `json:"kty" enum:"OKP"`
		Curve     string `json:"crv" enum:"Ed25519"`
		X         string `json:"x" doc:"the public key, base64url"`
		KeyID     string `json:"kid"`
		Use       string `json:"use,omitempty" enum:"sig"`
		Algorithm string `json:"alg,omitempty" enum:"EdDSA"`
	}
	jwksOutput struct {
		ContentType  string `header:"Content-Type"`
		CacheControl string `header:"Cache-Control"`
		Body         []byte
	}
	professionalAuthOutput struct {
		CacheControl string `header:"Cache-Control"`
		Body         ProfessionalLogin
	}
)

func tokensOut(t Tokens) *tokensOutput {
	return &tokensOutput{CacheControl: "no-store", Body: TokenPair{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken,
		ExpiresIn: t.ExpiresIn, TokenType: "Bearer"}}
}

func recoveryCodesOut(codes []string) *recoveryCodesOutput {
	return &recoveryCodesOutput{CacheControl: "no-store", Body: RecoveryCodeSet{RecoveryCodes: codes}}
}

func (s *Service) routes(api huma.API) {
	tags := []string{"auth"}
	// Signing in, resetting a password and the public keys serve callers
	// who have no token yet (or only an expired one): public, with the
	// credentials themselves as the check. Managing one's own session or
	// second factor needs a signed-in person; service principals have no
	// session or second factor to manage.
	person := authz.Roles(authn.RolePatient, authn.RoleProfessional, authn.RoleAdmin)
	// Routes that check a password, a code or a reset token lock out
	// repeated failures with 429.
	throttled := []int{http.StatusTooManyRequests}
	httpapi.Register(api, huma.Operation{OperationID: "login", Method: http.MethodPost, Path: "/api/v1/auth/login",
		Summary: "Log in with email and password", Tags: tags, Errors: throttled}, authz.Public, s.postLogin)
	httpapi.Register(api, huma.Operation{OperationID: "verify-2fa", Method: http.MethodPost, Path: "/api/v1/auth/2fa/verify",
		Summary: "Complete a login with the second factor", Tags: tags, Errors: throttled}, authz.Public, s.postVerify)
	httpapi.Register(api, huma.Operation{OperationID: "refresh-token", Method: http.MethodPost, Path: "/api/v1/auth/refresh",
		Summary: "Exchange a refresh token for new tokens", Tags: tags}, authz.Public, s.postRefresh)
	httpapi.Register(api, huma.Operation{OperationID: "logout", Method: http.MethodPost, Path: "/api/v1/auth/logout",
		Summary: "End the caller's session", Tags: tags, DefaultStatus: http.StatusNoContent}, person, s.postLogout)
	httpapi.Register(api, huma.Operation{OperationID: "request-password-reset", Method: http.MethodPost, Path: "/api/v1/auth/password-reset",
		Summary: "Send a password reset token (always accepted)", Tags: tags, DefaultStatus: http.StatusAccepted,
		Errors: throttled}, authz.Public, s.postReset)
	httpapi.Register(api, huma.Operation{OperationID: "confirm-password-reset", Method: http.MethodPost, Path: "/api/v1/auth/password-reset/confirm",
		Summary: "Set a new password with a reset token", Tags: tags, DefaultStatus: http.StatusNoContent,
		Errors: throttled}, authz.Public, s.postResetConfirm)
	httpapi.Register(api, huma.Operation{OperationID: "enrol-totp", Method: http.MethodPost, Path: "/api/v1/auth/2fa/totp",
		Summary: "Start TOTP enrolment (needs the current password)", Tags: tags, Errors: throttled}, person, s.postTOTP)
	httpapi.Register(api, huma.Operation{OperationID: "confirm-totp", Method: http.MethodPost, Path: "/api/v1/auth/2fa/totp/confirm",
		Summary: "Make TOTP the second factor and get recovery codes", Tags: tags,
		Errors: []int{http.StatusConflict}}, person, s.postTOTPConfirm)
	httpapi.Register(api, huma.Operation{OperationID: "replace-recovery-codes", Method: http.MethodPost, Path: "/api/v1/auth/2fa/recovery-codes",
		Summary: "Replace the TOTP recovery codes by a new set", Tags: tags,
		Errors: []int{http.StatusConflict, http.StatusTooManyRequests}}, person, s.postRecoveryCodes)
	httpapi.Register(api, huma.Operation{OperationID: "set-2fa-method", Method: http.MethodPost, Path: "/api/v1/auth/2fa/method",
		Summary: "Choose the second factor: NONE, EMAIL or SMS", Tags: tags, DefaultStatus: http.StatusNoContent,
		Errors: throttled}, person, s.post2FAMethod)
	httpapi.Register(api, huma.Operation{OperationID: "jwks", Method: http.MethodGet, Path: "/.well-known/jwks.json",
		Summary: "Public keys that verify access tokens", Tags: tags, Responses: map[string]*huma.Response{
			"200": {Description: "the current and previous signing keys (RFC 7517)", Content: map[string]*huma.MediaType{
				"application/jwk-set+json": {Schema: api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[JSONWebKeySet](), true, "")},
			}},
		}}, authz.Public, s.getJWKS)
	httpapi.Register(api, huma.Operation{OperationID: "professional-auth", Method: http.MethodPost, Path: "/api/v1/professionals/auth",
		Summary: "Log a professional in (the plan's shape)", Tags: []string{"professionals"},
		// 403: the account has a second factor, which this shape cannot ask for.
		Errors: []int{http.StatusForbidden, http.StatusTooManyRequests}}, authz.Public, s.postProfessionalAuth)
}

func (s *Service) postLogin(ctx context.Context, in *loginInput) (*loginOutput, error) {
	r, err := s.login(ctx, in.Body.Email, in.Body.Password, clientAddr(ctx))
	if err != nil {
		return nil, err
	}
	out := LoginOutcome{ChallengeID: r.ChallengeID, Method: r.Method}
	if t := r.Tokens; t != nil {
		out = LoginOutcome{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, ExpiresIn: t.ExpiresIn, TokenType: "Bearer"}
	}
	return &loginOutput{CacheControl: "no-store", Body: out}, nil
}

func (s *Service) postVerify(ctx context.Context, in *verifyInput) (*tokensOutput, error) {
	t, err := s.verifyCode(ctx, in.Body.ChallengeID, in.Body.Code, clientAddr(ctx))
	if err != nil {
		return nil, err
	}
	return tokensOut(t), nil
}

func (s *Service) postRefresh(ctx context.Context, in *refreshInput) (*tokensOutput, error) {
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
	return &totpOutput{CacheControl: "no-store", Body: TOTPEnrolment{ProvisioningURI: uri}}, nil
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
		return nil, fault.Forbidden("this account uses a second factor: log in through /api/v1/auth/login")
	}
	return &professionalAuthOutput{CacheControl: "no-store", Body: ProfessionalLogin{Token: r.Tokens.AccessToken,
		Professional: LoggedInProfessional{ID: r.Tokens.UserID, Email: normEmail(in.Body.Email)}}}, nil
}

func (s *Service) endSessionOf(ctx context.Context, accessToken string) error {
	p, err := s.tokens.Verify(ctx, accessToken)
	if err != nil {
		return err
	}
	return s.logout(ctx, p)
}
