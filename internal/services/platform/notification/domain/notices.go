// Package domain holds notification's rules, without I/O: who is told
// what of an event (Notices), in which words (Render, over the embedded
// templates), on which channel (Choose), and when a failed delivery is
// tried again (Retry).
//
// What a message may say is fixed here: a notice carries ids, a case
// number, a percentage and an amount of money — never a diagnosis, a
// question, a case title, a free-text reason or the name of anyone but
// the addressee — so no template can show more.
package domain

import (
	"slices"
)

// Audience is who a notice is for.
type Audience string

const (
	Patient      Audience = "patient"
	Professional Audience = "professional"
	// Admin notices are addressed to the role: every admin sees them.
	Admin Audience = "admin"
	// User is the addressee of a secret sent for auth: any role.
	User Audience = "user"
)

// Kind names what a notice tells, and its templates.
type Kind string

// The notices of patients.
const (
	CaseSubmitted    Kind = "case_submitted"
	AnalysisDone     Kind = "analysis_done"
	CaseClaimed      Kind = "case_claimed"
	OpinionReady     Kind = "opinion_ready"
	QuestionAnswered Kind = "question_answered"
	PaymentReceived  Kind = "payment_received"
	PaymentFailed    Kind = "payment_failed"
	RefundIssued     Kind = "refund_issued"
)

// The notices of professionals.
const (
	CaseOffered         Kind = "case_offered"
	DeadlineApproaching Kind = "deadline_approaching"
	AssignmentExpired   Kind = "assignment_expired"
	QuestionAsked       Kind = "question_asked"
	ReviewRequested     Kind = "review_requested"
	ChangesRequested    Kind = "changes_requested"
	OpinionApproved     Kind = "opinion_approved"
	PayoutPaid          Kind = "payout_paid"
)

// The notices of admins.
const (
	CaseEscalated       Kind = "case_escalated"
	CaseOrphaned        Kind = "case_orphaned"
	CredentialSubmitted Kind = "credential_submitted"
	EventDeadLettered   Kind = "event_dead_lettered"
)

// The secrets auth sends (never stored, never in-app).
const (
	SecretLogin         Kind = "secret_login"
	SecretPasswordReset Kind = "secret_password_reset"
)

// route is a kind's audience.
type route struct {
	kind Kind
	to   Audience
}

// audiences is each kind's audience; Kinds lists them in this order.
var audiences = []route{
	{CaseSubmitted, Patient}, {AnalysisDone, Patient}, {CaseClaimed, Patient}, {OpinionReady, Patient},
	{QuestionAnswered, Patient}, {PaymentReceived, Patient}, {PaymentFailed, Patient}, {RefundIssued, Patient},
	{CaseOffered, Professional}, {DeadlineApproaching, Professional}, {AssignmentExpired, Professional},
	{QuestionAsked, Professional}, {ReviewRequested, Professional}, {ChangesRequested, Professional},
	{OpinionApproved, Professional}, {PayoutPaid, Professional},
	{CaseEscalated, Admin}, {CaseOrphaned, Admin}, {CredentialSubmitted, Admin}, {EventDeadLettered, Admin},
	{SecretLogin, User}, {SecretPasswordReset, User},
}

// Kinds lists every kind.
func Kinds() []Kind {
	out := make([]Kind, len(audiences))
	for i, a := range audiences {
		out[i] = a.kind
	}
	return out
}

// AudienceOf is the audience of kind k ("" for an unknown kind).
func AudienceOf(k Kind) Audience {
	i := slices.IndexFunc(audiences, func(r route) bool { return r.kind == k })
	if i < 0 {
		return ""
	}
	return audiences[i].to
}

// SecretKind is the kind of a secret sent for purpose (LOGIN,
// PASSWORD_RESET); false for another purpose.
func SecretKind(purpose string) (Kind, bool) {
	switch purpose {
	case "LOGIN":
		return SecretLogin, true
	case "PASSWORD_RESET":
		return SecretPasswordReset, true
	}
	return "", false
}

// Params are what a notice may show, and all a template can reach.
// Stored with the notice as JSON: ids, numbers and amounts only.
type Params struct {
	CaseID     string `json:"caseId,omitempty"`
	CaseNumber string `json:"caseNumber,omitempty"`
	Percent    int    `json:"percent,omitempty"`
	Amount     int64  `json:"amount,omitempty"`
	Currency   string `json:"currency,omitempty"`
	// Ref is the id another link names: a credential, an event.
	Ref string `json:"ref,omitempty"`
	// Code is a secret's code; it is never stored.
	Code string `json:"-"`
}

// Notice is one person's (or the admins') notice of an event.
type Notice struct {
	To          Audience
	RecipientID string // the patient or professional; "" for admins
	Kind        Kind
	Params      Params
}

// Fact is an event as Notices needs it: the payload's ids and numbers,
// completed from the read model (the patient of a case, its assignee).
// Fields the event does not carry stay zero.
type Fact struct {
	Type            string // the event type, e.g. "case.submitted"
	CaseID          string
	CaseNumber      string
	PatientID       string // of the case, from the read model
	ProfessionalID  string // of the event, or the case's assignee
	ProfessionalIDs []string
	Percent         int
	Amount          int64
	Currency        string
	ReviewRequired  bool
	Ref             string
}

// Notices says who is told what of an event. A patient or professional
// who is not known (a case the read model has not seen) gets nothing:
// there is nobody to address.
func Notices(f Fact) []Notice {
	p := Params{CaseID: f.CaseID, CaseNumber: f.CaseNumber}
	var out []Notice
	patient := func(k Kind, p Params) {
		if f.PatientID != "" {
			out = append(out, Notice{To: Patient, RecipientID: f.PatientID, Kind: k, Params: p})
		}
	}
	pro := func(id string, k Kind, p Params) {
		if id != "" {
			out = append(out, Notice{To: Professional, RecipientID: id, Kind: k, Params: p})
		}
	}
	admins := func(k Kind, p Params) { out = append(out, Notice{To: Admin, Kind: k, Params: p}) }
	money := p
	money.Amount, money.Currency = f.Amount, f.Currency
	switch f.Type {
	case "case.submitted":
		patient(CaseSubmitted, p)
	case "ai.analysis.completed":
		patient(AnalysisDone, p)
	case "case.assigned":
		patient(CaseClaimed, p)
	case "opinion.approved":
		patient(OpinionReady, p)
		pro(f.ProfessionalID, OpinionApproved, p)
	case "opinion.question_answered":
		patient(QuestionAnswered, p)
	case "opinion.question_asked":
		pro(f.ProfessionalID, QuestionAsked, p)
	case "payment.succeeded":
		patient(PaymentReceived, money)
	case "payment.failed":
		patient(PaymentFailed, money)
	case "payment.refunded":
		patient(RefundIssued, money)
	case "assignment.case_offered":
		for _, id := range f.ProfessionalIDs {
			pro(id, CaseOffered, p)
		}
	case "assignment.deadline_approaching":
		d := p
		d.Percent = f.Percent
		pro(f.ProfessionalID, DeadlineApproaching, d)
	case "assignment.expired":
		pro(f.ProfessionalID, AssignmentExpired, p)
	case "opinion.submitted":
		if f.ReviewRequired {
			pro(f.ProfessionalID, ReviewRequested, p)
		}
	case "opinion.changes_requested":
		pro(f.ProfessionalID, ChangesRequested, p)
	case "payout.paid":
		m := Params{Amount: f.Amount, Currency: f.Currency, Ref: f.Ref}
		pro(f.ProfessionalID, PayoutPaid, m)
	case "assignment.escalated":
		admins(CaseEscalated, p)
	case "case.orphaned":
		admins(CaseOrphaned, p)
	case "credential.submitted":
		admins(CredentialSubmitted, Params{Ref: f.Ref})
	case "event.dead_lettered":
		admins(EventDeadLettered, Params{Ref: f.Ref})
	}
	return out
}
