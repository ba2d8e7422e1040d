// Package domain holds patient-consent's rules in plain Go: the consent
// texts in force, what a patient's history of grants and withdrawals
// amounts to, and which grant or withdrawal changes it.
package domain

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// Kind is what one change of a consent did.
type Kind string

const (
	Granted   Kind = "GRANTED"
	Withdrawn Kind = "WITHDRAWN"
)

// ConsentStatus is where a patient's consent for a purpose stands.
type ConsentStatus string

const (
	StatusGranted    ConsentStatus = "GRANTED"
	StatusWithdrawn  ConsentStatus = "WITHDRAWN"
	StatusNotGranted ConsentStatus = "NOT_GRANTED" // never granted
)

// ConsentStatuses lists every status.
var ConsentStatuses = []ConsentStatus{StatusGranted, StatusWithdrawn, StatusNotGranted}

func (ConsentStatus) Values() []string {
	out := make([]string, len(ConsentStatuses))
	for i, s := range ConsentStatuses {
		out[i] = string(s)
	}
	return out
}

// Change is one entry of a patient's history for a purpose: Revision
// counts the purpose's changes from 1, so two writers that both saw
// revision n cannot both append n+1.
type Change struct {
	Purpose  vocab.ConsentPurpose
	Revision int
	Kind     Kind
	Version  string // the text granted, or the grant's text that was withdrawn
	At       time.Time
}

// State is where a patient's consent for a purpose stands after its
// history.
type State struct {
	Purpose     vocab.ConsentPurpose
	Status      ConsentStatus
	Revision    int       // of the latest change, 0 without one
	Version     string    // of the latest grant, "" without one
	GrantedAt   time.Time // of the latest grant, zero without one
	WithdrawnAt time.Time // of the withdrawal after the latest grant, zero when none
}

// Fold is the state of every purpose after history (in any order),
// NOT_GRANTED for a purpose without a change.
func Fold(history []Change) map[vocab.ConsentPurpose]State {
	out := make(map[vocab.ConsentPurpose]State, len(vocab.ConsentPurposes))
	for _, p := range vocab.ConsentPurposes {
		out[p] = State{Purpose: p, Status: StatusNotGranted}
	}
	ordered := slices.Clone(history)
	slices.SortStableFunc(ordered, func(a, b Change) int { return cmp.Compare(a.Revision, b.Revision) })
	for _, c := range ordered {
		s, ok := out[c.Purpose]
		if !ok {
			continue // a purpose no longer offered
		}
		s.Revision = c.Revision
		switch c.Kind {
		case Granted:
			s.Status, s.Version, s.GrantedAt, s.WithdrawnAt = StatusGranted, c.Version, c.At, time.Time{}
		case Withdrawn:
			s.Status, s.WithdrawnAt = StatusWithdrawn, c.At
		}
		out[c.Purpose] = s
	}
	return out
}

// ValidPurpose refuses what is not a consent purpose, naming field.
func ValidPurpose(field string, p vocab.ConsentPurpose) error {
	if !p.Valid() {
		return fault.Invalid(field, "must be one of %s", strings.Join(p.Values(), ", "))
	}
	return nil
}

// ErrOutdated is the title of a grant that names a text other than the
// one in force.
const ErrOutdated = "Consent text outdated"

// Grant is the change that grants s's purpose for the text version, at:
// false when the consent is already granted for that version (nothing to
// record). A grant must name the text in force, so that nobody agrees to
// a text they were not shown.
func Grant(s State, version string, at time.Time) (Change, bool, error) {
	if err := ValidPurpose("purpose", s.Purpose); err != nil {
		return Change{}, false, err
	}
	cur := Current(s.Purpose)
	if version != cur.Version {
		return Change{}, false, fault.Conflict(ErrOutdated, fmt.Sprintf(
			"the version named is not the current %s consent text: read GET /api/v1/consents/texts and grant version %s",
			s.Purpose, cur.Version))
	}
	if s.Status == StatusGranted && s.Version == version {
		return Change{}, false, nil
	}
	return Change{Purpose: s.Purpose, Revision: s.Revision + 1, Kind: Granted, Version: version, At: at}, true, nil
}

// Withdraw is the change that withdraws s's consent, at: false when it is
// not granted (nothing to withdraw, nothing to record).
func Withdraw(s State, at time.Time) (Change, bool) {
	if s.Status != StatusGranted {
		return Change{}, false
	}
	return Change{Purpose: s.Purpose, Revision: s.Revision + 1, Kind: Withdrawn, Version: s.Version, At: at}, true
}
