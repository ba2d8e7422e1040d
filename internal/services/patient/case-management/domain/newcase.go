package domain

import (
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// NewCase is what a patient asks when opening a case.
type NewCase struct {
	CustomerID string
	Specialty  string
	Title      string
	Question   string
	Urgency    string // "" means STANDARD
	// Language of the consultation, ISO 639-1; "" means
	// vocab.DefaultLanguage. The pool matches it against the
	// professionals' languages.
	Language string
}

// Validate returns n trimmed and with defaults, or the first field at
// fault. Details never echo the input: it may be health data.
func (n NewCase) Validate() (NewCase, error) {
	n.Title = strings.TrimSpace(n.Title)
	n.Question = strings.TrimSpace(n.Question)
	if n.Urgency == "" {
		n.Urgency = string(vocab.Urgencies[0])
	}
	if n.Language == "" {
		n.Language = string(vocab.DefaultLanguage)
	}
	id, err := uuid.Parse(n.CustomerID)
	if err != nil {
		return n, fault.Invalid("customerId", "must be a UUID")
	}
	n.CustomerID = id.String()
	if !vocab.Specialty(n.Specialty).Valid() {
		return n, fault.Invalid("specialty", "must be one of %s", strings.Join(vocab.Specialty("").Values(), ", "))
	}
	if l := utf8.RuneCountInString(n.Title); l < 3 || l > 200 {
		return n, fault.Invalid("title", "must be 3 to 200 characters")
	}
	if l := utf8.RuneCountInString(n.Question); l < 10 || l > 5000 {
		return n, fault.Invalid("question", "must be 10 to 5000 characters")
	}
	if !vocab.Urgency(n.Urgency).Valid() {
		return n, fault.Invalid("urgency", "must be one of %s", strings.Join(vocab.Urgency("").Values(), ", "))
	}
	if !vocab.Language(n.Language).Valid() {
		return n, fault.Invalid("language", "must be an ISO 639-1 code in lower case, e.g. en")
	}
	return n, nil
}
