package credentialing

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/services/professional/credentialing/domain"
	"github.com/secondopinion/platform/internal/services/professional/credentialing/store"
)

// Vocabulary types publish their values as enums in the OpenAPI document
// from the domain's lists, so the two cannot drift.
type (
	specialty        string
	level            string
	credentialStatus string
	standingStatus   string
)

func enum[T ~string](values []T) *huma.Schema {
	s := &huma.Schema{Type: huma.TypeString}
	for _, v := range values {
		s.Enum = append(s.Enum, string(v))
	}
	return s
}

func (specialty) Schema(huma.Registry) *huma.Schema        { return enum(domain.Specialties) }
func (level) Schema(huma.Registry) *huma.Schema            { return enum(domain.Levels) }
func (credentialStatus) Schema(huma.Registry) *huma.Schema { return enum(domain.CredentialStatuses) }
func (standingStatus) Schema(huma.Registry) *huma.Schema   { return enum(domain.Statuses) }

type credentialBody struct {
	ID               string           `json:"id" format:"uuid"`
	ProfessionalID   string           `json:"professionalId" format:"uuid"`
	LicenseNumber    string           `json:"licenseNumber"`
	IssuingAuthority string           `json:"issuingAuthority"`
	Country          string           `json:"country" example:"DE"`
	Specialty        specialty        `json:"specialty"`
	ExpiresAt        time.Time        `json:"expiresAt"`
	Status           credentialStatus `json:"status"`
	Reason           string           `json:"reason,omitempty" doc:"why it was rejected"`
	SubmittedAt      time.Time        `json:"submittedAt"`
	ReviewedAt       *time.Time       `json:"reviewedAt,omitempty"`
	ReviewedBy       string           `json:"reviewedBy,omitempty" format:"uuid" doc:"the reviewing admin"`
}

func toBody(c store.Credential) credentialBody {
	b := credentialBody{c.ID, c.ProfessionalID, c.LicenseNumber, c.IssuingAuthority, c.Country, specialty(c.Specialty),
		c.ExpiresAt, credentialStatus(c.Status), c.Reason, c.SubmittedAt, nil, c.ReviewedBy}
	if !c.ReviewedAt.IsZero() {
		b.ReviewedAt = &c.ReviewedAt
	}
	return b
}

type standingBody struct {
	ProfessionalID string         `json:"professionalId" format:"uuid"`
	Status         standingStatus `json:"status"`
	Level          level          `json:"level"`
	ValidUntil     *time.Time     `json:"validUntil,omitempty" doc:"latest expiry of the valid licences; absent without one"`
}

func toStanding(st standing) *struct{ Body standingBody } {
	b := standingBody{st.ProfessionalID, standingStatus(st.Status), level(st.Level), nil}
	if !st.ValidUntil.IsZero() {
		b.ValidUntil = &st.ValidUntil
	}
	return &struct{ Body standingBody }{b}
}

type idInput struct {
	ID string `path:"id" format:"uuid"`
}

type submitInput struct {
	ID   string `path:"id" format:"uuid" doc:"the professional"`
	Body struct {
		LicenseNumber    string    `json:"licenseNumber" maxLength:"64"`
		IssuingAuthority string    `json:"issuingAuthority" maxLength:"200"`
		Country          string    `json:"country" pattern:"^[A-Z]{2}$" doc:"ISO 3166-1 alpha-2" example:"DE"`
		Specialty        specialty `json:"specialty"`
		ExpiresAt        time.Time `json:"expiresAt" doc:"RFC 3339, in the future"`
	}
}

type listInput struct {
	ID     string `path:"id" format:"uuid" doc:"the professional"`
	Cursor string `query:"cursor" doc:"nextCursor of the previous page"`
	Limit  int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
}

type listOutput struct {
	Body struct {
		Items      []credentialBody `json:"items"`
		NextCursor string           `json:"nextCursor,omitempty" doc:"absent on the last page"`
	}
}

type rejectInput struct {
	ID   string `path:"id" format:"uuid"`
	Body struct {
		Reason string `json:"reason" minLength:"3" maxLength:"500"`
	}
}

type levelInput struct {
	ID   string `path:"id" format:"uuid"`
	Body struct {
		Level level `json:"level"`
	}
}

type credentialOutput struct {
	Body credentialBody
}

func (s *Service) routes() {
	creds, standings := []string{"Credentials"}, []string{"Professional standing"}
	own := authz.Roles(authn.RoleProfessional).Owned()
	ownOrAdmin := authz.Roles(authn.RoleProfessional, authn.RoleAdmin).Owned()
	admin := authz.Roles(authn.RoleAdmin)
	authz.Register(s.api, huma.Operation{OperationID: "submit-credential", Method: http.MethodPost,
		Path: "/api/v1/professionals/{id}/credentials", Summary: "Submit a licence for review (the professional themself)",
		Description: "404 until the professional's registration has reached credentialing (professional.registered, " +
			"usually a moment after registering); 409 when the licence is already pending or verified.",
		Tags: creds, DefaultStatus: http.StatusCreated}, own,
		func(ctx context.Context, in *submitInput) (*credentialOutput, error) {
			c, err := s.submit(ctx, authn.FromContext(ctx), domain.NewCredential{ProfessionalID: in.ID,
				LicenseNumber: in.Body.LicenseNumber, IssuingAuthority: in.Body.IssuingAuthority, Country: in.Body.Country,
				Specialty: string(in.Body.Specialty), ExpiresAt: in.Body.ExpiresAt})
			if err != nil {
				return nil, err
			}
			return &credentialOutput{toBody(c)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "list-credentials", Method: http.MethodGet,
		Path: "/api/v1/professionals/{id}/credentials", Summary: "A professional's licences, newest first", Tags: creds}, ownOrAdmin,
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			cs, next, err := s.list(ctx, authn.FromContext(ctx), in.ID, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			out := &listOutput{}
			out.Body.Items, out.Body.NextCursor = make([]credentialBody, 0, len(cs)), next
			for _, c := range cs {
				out.Body.Items = append(out.Body.Items, toBody(c))
			}
			return out, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "verify-credential", Method: http.MethodPost,
		Path: "/api/v1/credentials/{id}/verify", Summary: "Verify a pending, unexpired licence",
		Description: "409 when the credential is not PENDING or has expired.", Tags: creds}, admin,
		func(ctx context.Context, in *idInput) (*credentialOutput, error) {
			c, err := s.review(ctx, authn.FromContext(ctx), in.ID, domain.Verify, "")
			if err != nil {
				return nil, err
			}
			return &credentialOutput{toBody(c)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "reject-credential", Method: http.MethodPost,
		Path: "/api/v1/credentials/{id}/reject", Summary: "Reject a pending licence with a reason",
		Description: "409 when the credential is not PENDING.", Tags: creds}, admin,
		func(ctx context.Context, in *rejectInput) (*credentialOutput, error) {
			c, err := s.review(ctx, authn.FromContext(ctx), in.ID, domain.Reject, in.Body.Reason)
			if err != nil {
				return nil, err
			}
			return &credentialOutput{toBody(c)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "set-professional-level", Method: http.MethodPost,
		Path: "/api/v1/professionals/{id}/level", Summary: "Set a professional's level",
		Description: "Publishes professional.level_changed when the level changes.", Tags: standings}, admin,
		func(ctx context.Context, in *levelInput) (*struct{ Body standingBody }, error) {
			st, err := s.setLevel(ctx, authn.FromContext(ctx), in.ID, string(in.Body.Level))
			if err != nil {
				return nil, err
			}
			return toStanding(st), nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "get-professional-standing", Method: http.MethodGet,
		Path: "/api/v1/professionals/{id}/standing", Summary: "A professional's standing and level",
		Description: "The standing as of now: a licence that has just expired shows at once, its event follows with the next expiry check.",
		Tags:        standings}, ownOrAdmin,
		func(ctx context.Context, in *idInput) (*struct{ Body standingBody }, error) {
			st, err := s.standingNow(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return toStanding(st), nil
		})
}
