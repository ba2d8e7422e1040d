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
	"github.com/secondopinion/platform/internal/kit/export"
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

// ErasureConfirmation is what a patient sends to erase themself: their
// password. An admin sends none.
type ErasureConfirmation struct {
	// No length tags: huma would echo a refused password in its error.
	Password string `json:"password,omitempty" writeOnly:"true" doc:"the patient's password; not needed from an admin"`
}

// Erasure is the answer to an erasure: the profile is gone, and every
// other service removes or anonymises what it holds within moments.
type Erasure struct {
	ID       string    `json:"id" format:"uuid"`
	ErasedAt time.Time `json:"erasedAt"`
	Detail   string    `json:"detail"`
}

type (
	registerInput struct{ Body PatientRegistration }
	eraseInput    struct {
		ID   string `path:"id" format:"uuid"`
		Body *ErasureConfirmation
	}
	erasureOutput struct{ Body Erasure }
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
	httpapi.Register(api, huma.Operation{
		OperationID: "erase-patient", Method: http.MethodDelete, Path: "/api/v1/patients/{id}",
		Summary: "Erase a patient and their data (GDPR Art. 17): the patient with their password, or an admin", Tags: tags,
		Description: "Deletes the profile and publishes patient.erased: every service then removes or anonymises what it " +
			"holds of the patient (their login, cases, documents, consents; the audit trail keeps its entries under a " +
			"pseudonym). What the law requires to be kept is listed in docs/retention.md. The erasure cannot be undone.",
		DefaultStatus: http.StatusAccepted,
	}, self, s.deletePatient)
	httpapi.RegisterStream(api, huma.Operation{
		OperationID: "export-patient", Method: http.MethodGet, Path: "/api/v1/patients/{id}/export",
		Summary: "Export a patient's data (GDPR Art. 20): a ZIP from every service, streamed", Tags: tags,
		Description: "Profile, consents, cases with their timelines, documents with the original files, opinions with " +
			"their PDF reports and follow-ups, and the access log, as JSON plus files. The archive is streamed; a " +
			"failure after the first byte cuts the connection, so an incomplete archive never looks whole.",
		Parameters: []*huma.Param{{Name: "id", In: "path", Required: true, Schema: &huma.Schema{Type: huma.TypeString, Format: "uuid"}}},
		Responses: map[string]*huma.Response{"200": {Description: "the archive", Content: map[string]*huma.MediaType{
			"application/zip": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}}},
	}, self, s.exportPatient)
}

func (s *Service) deletePatient(ctx context.Context, in *eraseInput) (*erasureOutput, error) {
	password := ""
	if in.Body != nil {
		password = in.Body.Password
	}
	at, err := s.erase(ctx, authn.FromContext(ctx), in.ID, password)
	if err != nil {
		return nil, err
	}
	return &erasureOutput{Body: Erasure{ID: in.ID, ErasedAt: at,
		Detail: "the profile is erased; the rest of the patient's data follows within moments"}}, nil
}

// exportIdle bounds the pause between two writes of an export: a slow
// client is served as long as it keeps reading.
const exportIdle = 30 * time.Second

func (s *Service) exportPatient(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	parts, err := s.exportParts(ctx, authn.FromContext(ctx), id)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="secondopinion-export-`+now.Format("2006-01-02")+`.zip"`)
	w.Header().Set("Cache-Control", "no-store")
	if err := export.Zip(httpapi.Idle(w, r, exportIdle), now, exportReadme, parts); err != nil {
		s.Log.ErrorContext(ctx, "patient export failed", "patientId", id, "err", err)
		// Headers are gone: only a cut connection tells the client.
		panic(http.ErrAbortHandler)
	}
	return nil
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
