package credentialing

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/professional/credentialing/domain"
	"github.com/secondopinion/platform/internal/services/professional/credentialing/store"
)

// Credential is a licence and its review, as its professional and admins
// see it.
type Credential struct {
	ID               string                  `json:"id" format:"uuid"`
	ProfessionalID   string                  `json:"professionalId" format:"uuid"`
	LicenseNumber    string                  `json:"licenseNumber"`
	IssuingAuthority string                  `json:"issuingAuthority"`
	Country          string                  `json:"country" example:"DE"`
	Specialty        vocab.Specialty         `json:"specialty"`
	ExpiresAt        time.Time               `json:"expiresAt"`
	Status           domain.CredentialStatus `json:"status"`
	Reason           string                  `json:"reason,omitempty" doc:"why it was rejected"`
	SubmittedAt      time.Time               `json:"submittedAt"`
	ReviewedAt       *time.Time              `json:"reviewedAt,omitempty"`
	ReviewedBy       string                  `json:"reviewedBy,omitempty" format:"uuid" doc:"the reviewing admin"`
}

func toCredential(c store.Credential) Credential {
	b := Credential{c.ID, c.ProfessionalID, c.LicenseNumber, c.IssuingAuthority, c.Country, c.Specialty,
		c.ExpiresAt, c.Status, c.Reason, c.SubmittedAt, nil, c.ReviewedBy}
	if !c.ReviewedAt.IsZero() {
		b.ReviewedAt = &c.ReviewedAt
	}
	return b
}

// LicenceSubmission is a licence a professional submits for review.
type LicenceSubmission struct {
	LicenseNumber    string          `json:"licenseNumber" maxLength:"64"`
	IssuingAuthority string          `json:"issuingAuthority" maxLength:"200"`
	Country          string          `json:"country" pattern:"^[A-Z]{2}$" doc:"ISO 3166-1 alpha-2" example:"DE"`
	Specialty        vocab.Specialty `json:"specialty"`
	ExpiresAt        time.Time       `json:"expiresAt" doc:"RFC 3339, in the future"`
}

// CredentialRejection is an admin's reason for rejecting a licence.
type CredentialRejection struct {
	Reason string `json:"reason" minLength:"3" maxLength:"500"`
}

// LevelChange is the level an admin gives a professional.
type LevelChange struct {
	Level vocab.Level `json:"level"`
}

// ProfessionalStanding is whether a professional may work, and at which
// level.
type ProfessionalStanding struct {
	ProfessionalID string                `json:"professionalId" format:"uuid"`
	Status         domain.StandingStatus `json:"status"`
	Level          vocab.Level           `json:"level"`
	ValidUntil     *time.Time            `json:"validUntil,omitempty" doc:"latest expiry of the valid licences; absent without one"`
}

func toStanding(st standing) ProfessionalStanding {
	b := ProfessionalStanding{st.ProfessionalID, st.Status, st.Level, nil}
	if !st.ValidUntil.IsZero() {
		b.ValidUntil = &st.ValidUntil
	}
	return b
}

type (
	idInput struct {
		ID string `path:"id" format:"uuid"`
	}
	submitInput struct {
		ID   string `path:"id" format:"uuid" doc:"the professional"`
		Body LicenceSubmission
	}
	listInput struct {
		ID     string `path:"id" format:"uuid" doc:"the professional"`
		Cursor string `query:"cursor" doc:"nextCursor of the previous page"`
		Limit  int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
	}
	listOutput  struct{ Body page.Page[Credential] }
	rejectInput struct {
		ID   string `path:"id" format:"uuid"`
		Body CredentialRejection
	}
	levelInput struct {
		ID   string `path:"id" format:"uuid"`
		Body LevelChange
	}
	credentialOutput struct{ Body Credential }
	standingOutput   struct{ Body ProfessionalStanding }
)

func (s *Service) routes(api huma.API) {
	httpapi.Enum[vocab.Specialty](api)
	httpapi.Enum[vocab.Level](api)
	httpapi.Enum[domain.CredentialStatus](api)
	httpapi.Enum[domain.StandingStatus](api)
	creds, standings := []string{"Credentials"}, []string{"Professional standing"}
	own := authz.Roles(authn.RoleProfessional).Owned()
	ownOrAdmin := authz.Roles(authn.RoleProfessional, authn.RoleAdmin).Owned()
	admin := authz.Roles(authn.RoleAdmin)
	conflict := []int{http.StatusConflict}
	httpapi.Register(api, huma.Operation{OperationID: "submit-credential", Method: http.MethodPost,
		Path: "/api/v1/professionals/{id}/credentials", Summary: "Submit a licence for review (the professional themself)",
		Description: "404 until the professional's registration has reached credentialing (professional.registered, " +
			"usually a moment after registering); 409 when the licence is already pending or verified.",
		Tags: creds, DefaultStatus: http.StatusCreated, Errors: conflict}, own,
		func(ctx context.Context, in *submitInput) (*credentialOutput, error) {
			b := in.Body
			c, err := s.submit(ctx, authn.FromContext(ctx), domain.NewCredential{ProfessionalID: in.ID,
				LicenseNumber: b.LicenseNumber, IssuingAuthority: b.IssuingAuthority, Country: b.Country,
				Specialty: b.Specialty, ExpiresAt: b.ExpiresAt})
			if err != nil {
				return nil, err
			}
			return &credentialOutput{toCredential(c)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "list-credentials", Method: http.MethodGet,
		Path: "/api/v1/professionals/{id}/credentials", Summary: "A professional's licences, newest first", Tags: creds}, ownOrAdmin,
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			cs, next, err := s.list(ctx, authn.FromContext(ctx), in.ID, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			return &listOutput{page.Of(cs, next, toCredential)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "verify-credential", Method: http.MethodPost,
		Path: "/api/v1/credentials/{id}/verify", Summary: "Verify a pending, unexpired licence",
		Description: "409 when the credential is not PENDING or has expired.", Tags: creds, Errors: conflict}, admin,
		func(ctx context.Context, in *idInput) (*credentialOutput, error) {
			c, err := s.review(ctx, authn.FromContext(ctx), in.ID, domain.Verify, "")
			if err != nil {
				return nil, err
			}
			return &credentialOutput{toCredential(c)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "reject-credential", Method: http.MethodPost,
		Path: "/api/v1/credentials/{id}/reject", Summary: "Reject a pending licence with a reason",
		Description: "409 when the credential is not PENDING.", Tags: creds, Errors: conflict}, admin,
		func(ctx context.Context, in *rejectInput) (*credentialOutput, error) {
			c, err := s.review(ctx, authn.FromContext(ctx), in.ID, domain.Reject, in.Body.Reason)
			if err != nil {
				return nil, err
			}
			return &credentialOutput{toCredential(c)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "set-professional-level", Method: http.MethodPost,
		Path: "/api/v1/professionals/{id}/level", Summary: "Set a professional's level",
		Description: "Publishes professional.level_changed when the level changes.", Tags: standings}, admin,
		func(ctx context.Context, in *levelInput) (*standingOutput, error) {
			st, err := s.setLevel(ctx, authn.FromContext(ctx), in.ID, in.Body.Level)
			if err != nil {
				return nil, err
			}
			return &standingOutput{toStanding(st)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-professional-standing", Method: http.MethodGet,
		Path: "/api/v1/professionals/{id}/standing", Summary: "A professional's standing and level",
		Description: "The standing as of now: a licence that has just expired shows at once, its event follows with the next expiry check.",
		Tags:        standings}, ownOrAdmin,
		func(ctx context.Context, in *idInput) (*standingOutput, error) {
			st, err := s.standingNow(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &standingOutput{toStanding(st)}, nil
		})
}
