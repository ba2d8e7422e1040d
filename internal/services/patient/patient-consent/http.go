package patientconsent

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/domain"
)

// ConsentText is the text a patient agrees to for a purpose, at its
// current version.
type ConsentText struct {
	Purpose vocab.ConsentPurpose `json:"purpose"`
	Version string               `json:"version" doc:"what a grant names"`
	Title   string               `json:"title"`
	Text    string               `json:"text"`
}

// ConsentTexts are the consent texts in force, one per purpose.
type ConsentTexts struct {
	Items []ConsentText `json:"items"`
}

// Consent is where a patient's consent for a purpose stands.
type Consent struct {
	Purpose        vocab.ConsentPurpose `json:"purpose"`
	Status         domain.ConsentStatus `json:"status"`
	Version        string               `json:"version,omitempty" doc:"the text version of the latest grant (for a withdrawn consent, the one withdrawn); absent when never granted"`
	CurrentVersion string               `json:"currentVersion" doc:"the text in force: a grant of an older version is still a grant, and granting again names this one"`
	GrantedAt      *time.Time           `json:"grantedAt,omitempty" doc:"of the latest grant"`
	WithdrawnAt    *time.Time           `json:"withdrawnAt,omitempty" doc:"of the withdrawal of the latest grant, when withdrawn"`
}

func toConsent(st domain.State) Consent {
	cur := domain.Current(st.Purpose)
	c := Consent{Purpose: st.Purpose, Status: st.Status, Version: st.Version, CurrentVersion: cur.Version}
	if !st.GrantedAt.IsZero() {
		c.GrantedAt = &st.GrantedAt
	}
	if !st.WithdrawnAt.IsZero() {
		c.WithdrawnAt = &st.WithdrawnAt
	}
	return c
}

// ConsentWithdrawal is a consent as its withdrawal left it, with what the
// withdrawal means for the patient's cases where that needs saying.
type ConsentWithdrawal struct {
	Consent
	Notice string `json:"notice,omitempty" doc:"what the withdrawal means for the patient's cases; given for SHARE_WITH_PROFESSIONALS"`
}

// withdrawalNotices say what withdrawing a purpose's consent does to the
// patient's cases. They are static, as they must be honest without
// knowing the patient's cases, which this service does not: the pool
// (case-assignment) keeps a claimed case with its professional and holds
// every other one until the consent is granted again.
var withdrawalNotices = map[vocab.ConsentPurpose]string{
	vocab.ConsentShareWithProfessionals: "Cases a professional has already taken stay with that professional until their opinion. " +
		"Cases no professional has taken yet are no longer offered to professionals, and neither is a taken case its " +
		"professional gives back, until you give this consent again.",
}

// PatientConsents are a patient's consents, one per purpose.
type PatientConsents struct {
	PatientID string    `json:"patientId" format:"uuid"`
	Consents  []Consent `json:"consents"`
}

// ConsentGrant is a patient's consent to the current text of a purpose.
type ConsentGrant struct {
	Purpose vocab.ConsentPurpose `json:"purpose"`
	Version string               `json:"version" minLength:"1" maxLength:"64" doc:"the version of the text agreed to: the current one (GET /api/v1/consents/texts)"`
}

type (
	textsOutput struct{ Body ConsentTexts }
	listInput   struct {
		PatientID string `query:"patientId" format:"uuid" doc:"whose consents: a patient's own by default; required for an admin"`
	}
	listOutput    struct{ Body PatientConsents }
	grantInput    struct{ Body ConsentGrant }
	withdrawInput struct {
		Purpose vocab.ConsentPurpose `path:"purpose"`
	}
	consentOut    struct{ Body Consent }
	withdrawalOut struct{ Body ConsentWithdrawal }
)

func (s *Service) routes(api huma.API) {
	httpapi.Enum[vocab.ConsentPurpose](api)
	httpapi.Enum[domain.ConsentStatus](api)
	tags := []string{"Consents"}
	patient := authz.Roles(authn.RolePatient)
	httpapi.Register(api, huma.Operation{OperationID: "list-consent-texts", Method: http.MethodGet,
		Path: "/api/v1/consents/texts", Summary: "The consent texts in force, one per purpose",
		Description: "Public, so that they can be shown before registering. A grant names the version of the text it agrees to.",
		Tags:        tags}, authz.Public,
		func(context.Context, *struct{}) (*textsOutput, error) {
			out := ConsentTexts{Items: []ConsentText{}}
			for _, t := range domain.Texts() {
				out.Items = append(out.Items, ConsentText{t.Purpose, t.Version, t.Title, t.Body})
			}
			return &textsOutput{out}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "list-consents", Method: http.MethodGet,
		Path: "/api/v1/consents", Summary: "A patient's consents, one per purpose (the patient, or an admin)",
		Description: "A patient reads their own; an admin names the patient with patientId, and the read is audited.",
		Tags:        tags}, authz.Roles(authn.RolePatient, authn.RoleAdmin).Owned(),
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			id, states, err := s.consents(ctx, authn.FromContext(ctx), in.PatientID)
			if err != nil {
				return nil, err
			}
			out := PatientConsents{PatientID: id, Consents: []Consent{}}
			for _, p := range vocab.ConsentPurposes {
				out.Consents = append(out.Consents, toConsent(states[p]))
			}
			return &listOutput{out}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "grant-consent", Method: http.MethodPost,
		Path: "/api/v1/consents", Summary: "Grant a consent (the patient themself)",
		Description: "The version must be the purpose's current text: any other is 409 \"Consent text outdated\". " +
			"Granting again what is granted changes nothing. Publishes consent.granted. " +
			"An erased patient's consents are missing (404).",
		Tags: tags, Errors: []int{http.StatusConflict, http.StatusNotFound}}, patient,
		func(ctx context.Context, in *grantInput) (*consentOut, error) {
			st, err := s.grant(ctx, authn.FromContext(ctx), in.Body.Purpose, in.Body.Version)
			if err != nil {
				return nil, err
			}
			return &consentOut{toConsent(st)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "withdraw-consent", Method: http.MethodDelete,
		Path: "/api/v1/consents/{purpose}", Summary: "Withdraw a consent (the patient themself)",
		Description: "Withdrawing what is not granted changes nothing. Publishes consent.withdrawn. " +
			"For SHARE_WITH_PROFESSIONALS the answer's notice says what becomes of the patient's cases. " +
			"An erased patient's consents are missing (404).",
		Tags: tags}, patient,
		func(ctx context.Context, in *withdrawInput) (*withdrawalOut, error) {
			st, err := s.withdraw(ctx, authn.FromContext(ctx), in.Purpose)
			if err != nil {
				return nil, err
			}
			return &withdrawalOut{ConsentWithdrawal{toConsent(st), withdrawalNotices[st.Purpose]}}, nil
		})
}
