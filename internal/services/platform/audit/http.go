package audit

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/platform/audit/store"
)

// AuditEntry is a link of the audit chain as admins see it.
type AuditEntry struct {
	Seq           int64     `json:"seq"`
	ID            string    `json:"id"`
	At            time.Time `json:"at"`
	Actor         string    `json:"actor"`
	ActorRole     string    `json:"actorRole"`
	Action        string    `json:"action"`
	ResourceType  string    `json:"resourceType"`
	ResourceID    string    `json:"resourceId"`
	PatientID     string    `json:"patientId"`
	Purpose       string    `json:"purpose"`
	ClientAddr    string    `json:"clientAddr"`
	UserAgent     string    `json:"userAgent"`
	RequestID     string    `json:"requestId"`
	Outcome       string    `json:"outcome"`
	SourceEventID string    `json:"sourceEventId"`
	PrevHash      string    `json:"prevHash"`
	Hash          string    `json:"hash"`
	Pseudonymised []string  `json:"pseudonymised" doc:"the personal fields that hold the digest of their value, not the value: those that named an erased person, and the address and user agent they acted from"`
}

// AccessLogEntry is an entry as the patient whose data it concerns sees
// it: who reached what, when and why — not where from, which is the
// actor's. The actor is named — a professional, an admin, a service —
// unless it is another patient: their identity is theirs, not the
// reader's.
type AccessLogEntry struct {
	At           time.Time `json:"at"`
	Actor        string    `json:"actor"`
	ActorRole    string    `json:"actorRole"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resourceType"`
	ResourceID   string    `json:"resourceId"`
	Purpose      string    `json:"purpose"`
	Outcome      string    `json:"outcome"`
}

// AuditVerification is the outcome of recomputing the chain.
type AuditVerification struct {
	OK      bool `json:"ok"`
	Entries int  `json:"entries" doc:"entries read"`
	// FirstBrokenEntry is nil when OK.
	FirstBrokenEntry *int64 `json:"firstBrokenEntry" doc:"seq of the first entry that is missing or does not match its hash or its predecessor"`
	Reason           string `json:"reason,omitempty"`
}

type (
	listInput struct {
		PatientID    string    `query:"patientId" doc:"the patient whose data was reached: their id, or the pseudonym of an erased patient"`
		Actor        string    `query:"actor" doc:"subject id of the actor, the emitting service, or the pseudonym of an erased patient"`
		ResourceType string    `query:"resourceType"`
		ResourceID   string    `query:"resourceId" doc:"the resource's id, or the pseudonym of an erased patient"`
		From         time.Time `query:"from" doc:"entries at or after this time"`
		To           time.Time `query:"to" doc:"entries before this time"`
		Cursor       string    `query:"cursor" doc:"opaque cursor from the previous page's nextCursor"`
		Limit        int       `query:"limit" minimum:"1" maximum:"200" default:"50"`
	}
	listOutput     struct{ Body page.Page[AuditEntry] }
	accessLogInput struct {
		ID     string `path:"id" format:"uuid" doc:"patient id"`
		Cursor string `query:"cursor" doc:"opaque cursor from the previous page's nextCursor"`
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
	}
	accessLogOutput struct{ Body page.Page[AccessLogEntry] }
	verifyOutput    struct{ Body AuditVerification }
)

func (s *Service) routes(api huma.API) {
	tags := []string{"Audit"}
	admin := authz.Roles(authn.RoleAdmin)
	httpapi.Register(api, huma.Operation{OperationID: "verify-audit", Method: http.MethodGet, Path: "/api/v1/audit/verify",
		Summary: "Recompute the audit hash chain (admin)", Tags: tags}, admin, s.verify)
	httpapi.Register(api, huma.Operation{OperationID: "list-audit", Method: http.MethodGet, Path: "/api/v1/audit",
		Summary: "List audit entries, newest first (admin)", Tags: tags}, admin, s.list)
	httpapi.Register(api, huma.Operation{OperationID: "patient-access-log", Method: http.MethodGet,
		Path: "/api/v1/patients/{id}/access-log", Summary: "Who reached a patient's data (the patient, or an admin)",
		Tags: tags}, authz.Roles(authn.RolePatient, authn.RoleAdmin).Owned(), s.accessLog)
}

// record queues the entry for a read of the trail itself: who read whose
// access records is as sensitive as the records. Without it the read is
// refused (503).
func (s *Service) record(ctx context.Context, action, patientID, purpose string) error {
	e := kitaudit.FromContext(ctx)
	e.Action, e.ResourceType, e.ResourceID, e.PatientID = action, "audit", patientID, patientID
	e.Purpose, e.Outcome = purpose, kitaudit.Allowed
	return s.Record(ctx, e)
}

func (s *Service) verify(ctx context.Context, _ *struct{}) (*verifyOutput, error) {
	r, err := Verify(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	return &verifyOutput{Body: r}, nil
}

func (s *Service) list(ctx context.Context, in *listInput) (*listOutput, error) {
	after, err := page.Decode(in.Cursor)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, "audit.list", in.PatientID, "oversight"); err != nil {
		return nil, err
	}
	f := store.Filter{PatientID: in.PatientID, Actor: in.Actor, ResourceType: in.ResourceType,
		ResourceID: in.ResourceID, From: in.From, To: in.To}
	es, next, err := s.store.List(ctx, f, after, in.Limit)
	if err != nil {
		return nil, err
	}
	return &listOutput{page.Of(es, next, toAuditEntry)}, nil
}

func (s *Service) accessLog(ctx context.Context, in *accessLogInput) (*accessLogOutput, error) {
	p := authn.FromContext(ctx)
	if err := authz.OwnerOrAdmin(p, in.ID, "patient"); err != nil {
		return nil, err
	}
	after, err := page.Decode(in.Cursor)
	if err != nil {
		return nil, err
	}
	purpose := "patient-self-access"
	if p.Role == authn.RoleAdmin {
		purpose = "oversight"
	}
	if err := s.record(ctx, "audit.access_log.read", in.ID, purpose); err != nil {
		return nil, err
	}
	es, next, err := s.store.List(ctx, store.Filter{PatientID: in.ID}, after, in.Limit)
	if err != nil {
		return nil, err
	}
	return &accessLogOutput{page.Of(es, next, func(e store.Entry) AccessLogEntry { return toAccessLogEntry(e, in.ID) })}, nil
}

func toAuditEntry(e store.Entry) AuditEntry {
	masked := []string{}
	for _, f := range store.Fields {
		if e.Pseudonymised&f != 0 {
			masked = append(masked, f.Name())
		}
	}
	return AuditEntry{Seq: e.Seq, ID: e.ID, At: e.At, Actor: e.Actor, ActorRole: e.ActorRole, Action: e.Action,
		ResourceType: e.ResourceType, ResourceID: e.ResourceID, PatientID: e.PatientID, Purpose: e.Purpose,
		ClientAddr: e.ClientAddr, UserAgent: e.UserAgent, RequestID: e.RequestID, Outcome: e.Outcome,
		SourceEventID: e.SourceEventID, PrevHash: e.PrevHash, Hash: e.Hash, Pseudonymised: masked}
}

// toAccessLogEntry is e as patient sees it.
func toAccessLogEntry(e store.Entry, patient string) AccessLogEntry {
	actor := e.Actor
	if actor != patient && e.ActorRole == string(authn.RolePatient) {
		actor = ""
	}
	return AccessLogEntry{At: e.At, Actor: actor, ActorRole: e.ActorRole, Action: e.Action,
		ResourceType: e.ResourceType, ResourceID: e.ResourceID, Purpose: e.Purpose, Outcome: e.Outcome}
}
