// Package vocab holds the platform's shared vocabularies (ARCHITECTURE.md
// §5): the upper-case JSON enums every service and event speaks —
// specialty, urgency, level, channel, case status, age band — and the
// codes with a fixed form — region, language. It is plain Go: domain code
// validates with it, the HTTP edge publishes each enum as a named schema
// (httpapi.Enum), and event contracts use its types.
package vocab

import "slices"

// Specialty is a medical specialty of a case or a professional.
type Specialty string

// Specialties lists every specialty.
var Specialties = []Specialty{
	"CARDIOLOGY", "ONCOLOGY", "NEUROLOGY", "ORTHOPEDICS", "RADIOLOGY", "DERMATOLOGY",
	"GASTROENTEROLOGY", "PULMONOLOGY", "ENDOCRINOLOGY", "NEPHROLOGY", "UROLOGY",
	"GYNECOLOGY", "PEDIATRICS", "PSYCHIATRY", "RHEUMATOLOGY", "GENERAL_MEDICINE",
}

func (Specialty) Values() []string { return strings(Specialties) }

// Valid reports whether s is a specialty.
func (s Specialty) Valid() bool { return slices.Contains(Specialties, s) }

// Urgency is how fast a case needs its opinion.
type Urgency string

const (
	Standard Urgency = "STANDARD"
	Urgent   Urgency = "URGENT"
)

// Urgencies lists every urgency; the first is the default.
var Urgencies = []Urgency{Standard, Urgent}

func (Urgency) Values() []string { return strings(Urgencies) }

// Valid reports whether u is an urgency.
func (u Urgency) Valid() bool { return slices.Contains(Urgencies, u) }

// Level is a professional's seniority.
type Level string

const (
	Junior        Level = "JUNIOR"
	Senior        Level = "SENIOR"
	Expert        Level = "EXPERT"
	Distinguished Level = "DISTINGUISHED"
)

// Levels lists every level from the lowest up.
var Levels = []Level{Junior, Senior, Expert, Distinguished}

func (Level) Values() []string { return strings(Levels) }

// Valid reports whether l is a level.
func (l Level) Valid() bool { return slices.Contains(Levels, l) }

// Rank orders levels: JUNIOR 0 up to DISTINGUISHED 3; -1 for no level.
func (l Level) Rank() int { return slices.Index(Levels, l) }

// AtLeast reports whether l is a level no lower than min.
func (l Level) AtLeast(min Level) bool { return l.Valid() && l.Rank() >= min.Rank() }

// Channel is how a person is reached: by email or by SMS.
type Channel string

const (
	Email Channel = "EMAIL"
	SMS   Channel = "SMS"
)

// Channels lists every channel; the first is the default.
var Channels = []Channel{Email, SMS}

func (Channel) Values() []string { return strings(Channels) }

// Valid reports whether c is a channel.
func (c Channel) Valid() bool { return slices.Contains(Channels, c) }

// CaseStatus is where a case is in its lifecycle (ARCHITECTURE.md §4).
type CaseStatus string

const (
	Draft              CaseStatus = "DRAFT"
	AwaitingPayment    CaseStatus = "AWAITING_PAYMENT"
	Submitted          CaseStatus = "SUBMITTED"
	AIProcessing       CaseStatus = "AI_PROCESSING"
	AwaitingAssignment CaseStatus = "AWAITING_ASSIGNMENT"
	Assigned           CaseStatus = "ASSIGNED"
	UnderReview        CaseStatus = "UNDER_REVIEW"
	Completed          CaseStatus = "COMPLETED"
	Cancelled          CaseStatus = "CANCELLED"
	Orphaned           CaseStatus = "ORPHANED"
)

// CaseStatuses lists every case status in lifecycle order.
var CaseStatuses = []CaseStatus{Draft, AwaitingPayment, Submitted, AIProcessing, AwaitingAssignment,
	Assigned, UnderReview, Completed, Cancelled, Orphaned}

func (CaseStatus) Values() []string { return strings(CaseStatuses) }

// Valid reports whether s is a case status.
func (s CaseStatus) Valid() bool { return slices.Contains(CaseStatuses, s) }

func strings[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
