package patientidentity

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/services/patient/patient-identity/store"
)

// PatientProfile is a patient as the public API shows it: never the
// password.
type PatientProfile struct {
	ID                 string        `json:"id" format:"uuid"`
	FirstName          string        `json:"firstName"`
	MiddleName         string        `json:"middleName,omitempty"`
	LastName           string        `json:"lastName"`
	DateOfBirth        string        `json:"dateOfBirth" format:"date"`
	Email              string        `json:"email" format:"email"`
	Phone              string        `json:"phone,omitempty"`
	PreferredChannel   vocab.Channel `json:"preferredChannel"`
	EmailNotifications bool          `json:"emailNotifications"`
	SMSNotifications   bool          `json:"smsNotifications"`
	Metadata           metadata      `json:"metadata,omitempty"`
	CreatedAt          time.Time     `json:"createdAt"`
	UpdatedAt          time.Time     `json:"updatedAt"`
}

// PatientRegistration is what a patient sends to register: their profile
// and the password of their login.
type PatientRegistration struct {
	FirstName          string        `json:"firstName" maxLength:"100"`
	MiddleName         string        `json:"middleName,omitempty" maxLength:"100"`
	LastName           string        `json:"lastName" maxLength:"100"`
	DateOfBirth        string        `json:"dateOfBirth" format:"date" doc:"YYYY-MM-DD, in the past"`
	Email              string        `json:"email" maxLength:"254"`
	Phone              string        `json:"phone,omitempty" doc:"E.164, e.g. +4915112345678; required for SMS"`
	PreferredChannel   vocab.Channel `json:"preferredChannel,omitempty" doc:"default EMAIL"`
	EmailNotifications *bool         `json:"emailNotifications,omitempty" doc:"default true"`
	SMSNotifications   *bool         `json:"smsNotifications,omitempty" doc:"default false"`
	Metadata           metadata      `json:"metadata,omitempty"`
	// No length tags: huma would echo a refused password in its error.
	Password string `json:"password" writeOnly:"true" doc:"12 to 128 characters, not a common password; never returned"`
}

// PatientProfileChanges are the profile fields a patient changes; absent
// fields keep their value. Email and date of birth are not among them.
type PatientProfileChanges struct {
	FirstName          *string        `json:"firstName,omitempty" maxLength:"100"`
	MiddleName         *string        `json:"middleName,omitempty" maxLength:"100"`
	LastName           *string        `json:"lastName,omitempty" maxLength:"100"`
	Phone              *string        `json:"phone,omitempty"`
	PreferredChannel   *vocab.Channel `json:"preferredChannel,omitempty"`
	EmailNotifications *bool          `json:"emailNotifications,omitempty"`
	SMSNotifications   *bool          `json:"smsNotifications,omitempty"`
	Metadata           metadata       `json:"metadata,omitempty"`
}

type (
	registerInput struct{ Body PatientRegistration }
	patientOutput struct {
		Location string `header:"Location"`
		Body     PatientProfile
	}
	idInput struct {
		ID string `path:"id" format:"uuid"`
	}
	patchInput struct {
		ID   string `path:"id" format:"uuid"`
		Body PatientProfileChanges
	}
)

// metadata is a patient's free-form JSON object, passed on as sent: the
// domain rules check its shape and size.
type metadata json.RawMessage

func (m metadata) MarshalJSON() ([]byte, error)  { return json.RawMessage(m).MarshalJSON() }
func (m *metadata) UnmarshalJSON(b []byte) error { return (*json.RawMessage)(m).UnmarshalJSON(b) }

// Schema documents metadata as an object; null removes it in a PATCH.
func (metadata) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, Nullable: true, AdditionalProperties: true,
		Description: "free-form JSON object of at most 16 KiB"}
}

func (s *Service) routes(api huma.API) {
	httpapi.Enum[vocab.Channel](api)
	tags := []string{"patients"}
	// Registration is open; a profile is its patient's own, or an admin's.
	self := authz.Roles(authn.RolePatient, authn.RoleAdmin).Owned()
	httpapi.Register(api, huma.Operation{
		OperationID: "register-patient", Method: http.MethodPost, Path: "/api/v1/patients",
		Summary: "Register a patient", Tags: tags, DefaultStatus: http.StatusCreated,
	}, authz.Public, s.postPatient)
	httpapi.Register(api, huma.Operation{
		OperationID: "get-own-patient", Method: http.MethodGet, Path: "/api/v1/patients/me",
		Summary: "Read the calling patient's own profile", Tags: tags,
	}, authz.Roles(authn.RolePatient), s.getMe)
	httpapi.Register(api, huma.Operation{
		OperationID: "get-patient", Method: http.MethodGet, Path: "/api/v1/patients/{id}",
		Summary: "Read a patient's profile (the patient, or an admin)", Tags: tags,
	}, self, s.getPatient)
	httpapi.Register(api, huma.Operation{
		OperationID: "update-patient", Method: http.MethodPatch, Path: "/api/v1/patients/{id}",
		Summary: "Change a patient's profile (the patient, or an admin)", Tags: tags,
	}, self, s.patchPatient)
}

func (s *Service) postPatient(ctx context.Context, in *registerInput) (*patientOutput, error) {
	b := in.Body
	p, err := s.register(ctx, authn.FromContext(ctx), Registration{
		FirstName: b.FirstName, MiddleName: b.MiddleName, LastName: b.LastName, DateOfBirth: b.DateOfBirth,
		Email: b.Email, Phone: b.Phone, PreferredChannel: b.PreferredChannel,
		EmailNotifications: b.EmailNotifications, SMSNotifications: b.SMSNotifications,
		Metadata: json.RawMessage(b.Metadata), Password: b.Password,
	})
	if err != nil {
		return nil, err
	}
	return &patientOutput{Location: "/api/v1/patients/" + p.ID, Body: toProfile(p)}, nil
}

func (s *Service) getPatient(ctx context.Context, in *idInput) (*patientOutput, error) {
	p, err := s.read(ctx, authn.FromContext(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return &patientOutput{Body: toProfile(p)}, nil
}

// getMe is the profile of the caller, whose id a client knows from the
// token only.
func (s *Service) getMe(ctx context.Context, _ *struct{}) (*patientOutput, error) {
	who := authn.FromContext(ctx)
	return s.getPatient(ctx, &idInput{ID: who.Subject})
}

func (s *Service) patchPatient(ctx context.Context, in *patchInput) (*patientOutput, error) {
	b := in.Body
	p, err := s.change(ctx, authn.FromContext(ctx), in.ID, Patch{
		FirstName: b.FirstName, MiddleName: b.MiddleName, LastName: b.LastName, Phone: b.Phone,
		PreferredChannel: b.PreferredChannel, EmailNotifications: b.EmailNotifications,
		SMSNotifications: b.SMSNotifications, Metadata: json.RawMessage(b.Metadata),
	})
	if err != nil {
		return nil, err
	}
	return &patientOutput{Body: toProfile(p)}, nil
}

func toProfile(p store.Patient) PatientProfile {
	return PatientProfile{
		ID: p.ID, FirstName: p.FirstName, MiddleName: p.MiddleName, LastName: p.LastName,
		DateOfBirth: p.DateOfBirth.Format(time.DateOnly), Email: p.Email, Phone: p.Phone,
		PreferredChannel: vocab.Channel(p.PreferredChannel), EmailNotifications: p.EmailNotifications,
		SMSNotifications: p.SMSNotifications, Metadata: metadata(p.Metadata), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}
