package domain

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/problem"
)

// Specialties is the platform's specialty vocabulary (ARCHITECTURE.md §5).
var Specialties = []string{
	"CARDIOLOGY", "ONCOLOGY", "NEUROLOGY", "ORTHOPEDICS", "RADIOLOGY", "DERMATOLOGY",
	"GASTROENTEROLOGY", "PULMONOLOGY", "ENDOCRINOLOGY", "NEPHROLOGY", "UROLOGY",
	"GYNECOLOGY", "PEDIATRICS", "PSYCHIATRY", "RHEUMATOLOGY", "GENERAL_MEDICINE",
}

// Urgencies is the urgency vocabulary; the first is the default.
var Urgencies = []string{"STANDARD", "URGENT"}

// NewCase is what a patient asks when opening a case.
type NewCase struct {
	CustomerID string
	Specialty  string
	Title      string
	Question   string
	Urgency    string // "" means STANDARD
	// Language of the consultation, ISO 639-1; "" means DefaultLanguage.
	// The pool matches it against the professionals' languages.
	Language string
}

// DefaultLanguage is a case's language when the patient names none.
const DefaultLanguage = "en"

// ValidLanguage reports whether l is an ISO 639-1 code in lower case.
func ValidLanguage(l string) bool {
	return len(l) == 2 && 'a' <= l[0] && l[0] <= 'z' && 'a' <= l[1] && l[1] <= 'z'
}

// Validate returns n trimmed and with defaults, or the first field at
// fault. Details never echo the input: it may be health data.
func (n NewCase) Validate() (NewCase, error) {
	n.Title = strings.TrimSpace(n.Title)
	n.Question = strings.TrimSpace(n.Question)
	if n.Urgency == "" {
		n.Urgency = Urgencies[0]
	}
	if n.Language == "" {
		n.Language = DefaultLanguage
	}
	id, err := uuid.Parse(n.CustomerID)
	if err != nil {
		return n, problem.Invalid("body.customerId", "must be a UUID")
	}
	n.CustomerID = id.String()
	if !slices.Contains(Specialties, n.Specialty) {
		return n, problem.Invalid("body.specialty", "must be one of %s", strings.Join(Specialties, ", "))
	}
	if l := utf8.RuneCountInString(n.Title); l < 3 || l > 200 {
		return n, problem.Invalid("body.title", "must be 3 to 200 characters")
	}
	if l := utf8.RuneCountInString(n.Question); l < 10 || l > 5000 {
		return n, problem.Invalid("body.question", "must be 10 to 5000 characters")
	}
	if !slices.Contains(Urgencies, n.Urgency) {
		return n, problem.Invalid("body.urgency", "must be one of %s", strings.Join(Urgencies, ", "))
	}
	if !ValidLanguage(n.Language) {
		return n, problem.Invalid("body.language", "must be an ISO 639-1 code in lower case, e.g. en")
	}
	return n, nil
}
