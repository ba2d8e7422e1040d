package professionalidentity

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/domain"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/store"
)

// ProfessionalProfile is a professional as the public API shows them:
// never the password.
type ProfessionalProfile struct {
	ID          string            `json:"id" format:"uuid"`
	ProNumber   string            `json:"proNumber" doc:"PRO-REGION-XXXXXX"`
	FirstName   string            `json:"firstName"`
	LastName    string            `json:"lastName"`
	Email       string            `json:"email" format:"email"`
	Specialties []vocab.Specialty `json:"specialties"`
	Languages   []vocab.Language  `json:"languages" doc:"ISO 639-1, lower case"`
	Country     string            `json:"country" doc:"ISO 3166-1 alpha-2, upper case"`
	Bio         string            `json:"bio"`
	Level       vocab.Level       `json:"level"`
	Status      string            `json:"status" enum:"PENDING,VERIFIED,SUSPENDED"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
}

func toProfile(p store.Professional) ProfessionalProfile {
	return ProfessionalProfile{
		ID: p.ID, ProNumber: p.ProNumber, FirstName: p.FirstName, LastName: p.LastName, Email: p.Email,
		Specialties: p.Specialties, Languages: p.Languages, Country: p.Country, Bio: p.Bio,
		Level: p.Level, Status: p.Status, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

// ProfessionalRegistration is what a professional signs up with: their
// profile and the password of their login.
type ProfessionalRegistration struct {
	FirstName   string            `json:"firstName" maxLength:"100"`
	LastName    string            `json:"lastName" maxLength:"100"`
	Email       string            `json:"email" maxLength:"254"`
	Specialties []vocab.Specialty `json:"specialties" minItems:"1"`
	Languages   []vocab.Language  `json:"languages" minItems:"1" maxItems:"20" doc:"ISO 639-1 codes, lower case, e.g. en"`
	Country     string            `json:"country" doc:"ISO 3166-1 alpha-2, upper case, e.g. DE"`
	Bio         string            `json:"bio,omitempty" doc:"at most 2000 characters"`
	// No length tags: huma would echo a refused password in its error.
	Password string `json:"password" writeOnly:"true" doc:"12 to 128 characters, not a common password; never returned"`
}

// ProfessionalUpdate changes the profile fields it sets. Email is the
// login's; level and status belong to credentialing.
type ProfessionalUpdate struct {
	FirstName   *string           `json:"firstName,omitempty" maxLength:"100"`
	LastName    *string           `json:"lastName,omitempty" maxLength:"100"`
	Specialties []vocab.Specialty `json:"specialties,omitempty" doc:"replaces the list; at least one"`
	Languages   []vocab.Language  `json:"languages,omitempty" doc:"replaces the list; ISO 639-1, lower case"`
	Country     *string           `json:"country,omitempty" doc:"ISO 3166-1 alpha-2, upper case"`
	Bio         *string           `json:"bio,omitempty" doc:"at most 2000 characters"`
}

type (
	registrationInput struct{ Body ProfessionalRegistration }
	profileOutput     struct {
		Location string `header:"Location"`
		Body     ProfessionalProfile
	}
	idInput struct {
		ID string `path:"id" format:"uuid"`
	}
	updateInput struct {
		ID   string `path:"id" format:"uuid"`
		Body ProfessionalUpdate
	}
)

func (s *Service) routes(api huma.API) {
	httpapi.Enum[vocab.Specialty](api)
	httpapi.Enum[vocab.Level](api)
	tags := []string{"professionals"}
	// Registration is open; a profile is its professional's own, or an
	// admin's. Patients are admitted by role only to be answered 404,
	// as another professional is: a profile's existence is not theirs to
	// learn.
	self := authz.Roles(authn.RoleProfessional, authn.RolePatient, authn.RoleAdmin).Owned()
	httpapi.Register(api, huma.Operation{OperationID: "register-professional", Method: http.MethodPost, Path: "/api/v1/professionals",
		Summary: "Register a professional", Tags: tags, DefaultStatus: http.StatusCreated}, authz.Public,
		func(ctx context.Context, in *registrationInput) (*profileOutput, error) {
			b := in.Body
			p, err := s.register(ctx, authn.FromContext(ctx), domain.Registration{
				FirstName: b.FirstName, LastName: b.LastName, Email: b.Email, Password: b.Password,
				Specialties: b.Specialties, Languages: b.Languages, Country: b.Country, Bio: b.Bio,
			})
			if err != nil {
				return nil, err
			}
			return &profileOutput{Location: "/api/v1/professionals/" + p.ID, Body: toProfile(p)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-professional", Method: http.MethodGet, Path: "/api/v1/professionals/{id}",
		Summary: "Read a professional's profile (the professional, or an admin)", Tags: tags}, self,
		func(ctx context.Context, in *idInput) (*profileOutput, error) {
			p, err := s.read(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &profileOutput{Body: toProfile(p)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "update-professional", Method: http.MethodPatch, Path: "/api/v1/professionals/{id}",
		Summary: "Change a professional's profile (the professional, or an admin); level and status belong to credentialing",
		Tags:    tags}, self,
		func(ctx context.Context, in *updateInput) (*profileOutput, error) {
			b := in.Body
			p, err := s.change(ctx, authn.FromContext(ctx), in.ID, domain.Patch{
				FirstName: b.FirstName, LastName: b.LastName, Specialties: b.Specialties, Languages: b.Languages,
				Country: b.Country, Bio: b.Bio,
			})
			if err != nil {
				return nil, err
			}
			return &profileOutput{Body: toProfile(p)}, nil
		})
}
