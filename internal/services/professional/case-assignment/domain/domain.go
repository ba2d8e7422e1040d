// Package domain holds the rules of the claim pool in plain Go: which
// professional matches which pool entry (verified, specialty, level,
// language, the early-access window), the level a case requires, the
// deadline an assignment gets, when an unclaimed case escalates, and how
// the patient's consent to share holds a case out of the pool. It does no
// I/O.
package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secondopinion/platform/api/vocab"
)

// Status is a professional's standing as credentialing reports it.
type Status string

const (
	Pending   Status = "PENDING"
	Verified  Status = "VERIFIED"
	Suspended Status = "SUSPENDED"
)

// Professional is what matching knows of a professional.
type Professional struct {
	ID          string
	Status      Status
	Level       vocab.Level
	Specialties []vocab.Specialty
	Languages   []vocab.Language
}

// Entry is what matching knows of a case in the pool.
type Entry struct {
	Specialty     vocab.Specialty
	Urgency       vocab.Urgency
	Language      vocab.Language
	RequiredLevel vocab.Level
	OpenedAt      time.Time // when the case entered the pool this time
}

// Mismatch says why a professional may not claim an entry; "" matches.
type Mismatch string

const (
	Match          Mismatch = ""
	NotVerified    Mismatch = "you are not a verified professional in good standing"
	WrongSpecialty Mismatch = "the case is outside your specialties"
	LevelTooLow    Mismatch = "the case requires a higher level"
	WrongLanguage  Mismatch = "the case is in a language you do not work in"
	EarlyAccess    Mismatch = "the case is still in its early-access window for EXPERT and DISTINGUISHED professionals"
)

// KeyFor names a required-level rule: Specialty "" is the fallback for
// the urgency.
type KeyFor struct {
	Specialty vocab.Specialty
	Urgency   vocab.Urgency
}

// Rules are the pool's configurable rules. Zero fields take the defaults
// (WithDefaults).
type Rules struct {
	// RequiredLevels is the minimum level per specialty and urgency; an
	// entry with an empty Specialty applies to every specialty of that
	// urgency without an entry of its own.
	RequiredLevels map[KeyFor]vocab.Level
	// Deadlines is how long an assignment has, per urgency.
	Deadlines map[vocab.Urgency]time.Duration
	// EarlyAccess is how long after entering the pool a case is seen and
	// claimed only by EXPERT and DISTINGUISHED professionals; 0 is off.
	EarlyAccess time.Duration
	// EscalateAfter is how long a case may wait unclaimed before admins are
	// alerted.
	EscalateAfter time.Duration
}

// Defaults of the rules, from the issue: STANDARD needs a JUNIOR and has
// 72 h, URGENT needs a SENIOR and has 24 h; escalation after 24 h.
var (
	defaultLevels    = map[vocab.Urgency]vocab.Level{vocab.Standard: vocab.Junior, vocab.Urgent: vocab.Senior}
	defaultDeadlines = map[vocab.Urgency]time.Duration{vocab.Standard: 72 * time.Hour, vocab.Urgent: 24 * time.Hour}
)

const defaultEscalateAfter = 24 * time.Hour

// WithDefaults returns r with every missing rule set to its default, and
// checks what was configured.
func (r Rules) WithDefaults() (Rules, error) {
	levels := map[KeyFor]vocab.Level{}
	for u, l := range defaultLevels {
		levels[KeyFor{Urgency: u}] = l
	}
	for k, l := range r.RequiredLevels {
		if !k.Urgency.Valid() || (k.Specialty != "" && !k.Specialty.Valid()) {
			return Rules{}, fmt.Errorf("required level rule %s/%s: unknown specialty or urgency", k.Specialty, k.Urgency)
		}
		if !l.Valid() {
			return Rules{}, fmt.Errorf("required level rule %s/%s: unknown level %q", k.Specialty, k.Urgency, l)
		}
		levels[k] = l
	}
	deadlines := map[vocab.Urgency]time.Duration{}
	for u, d := range defaultDeadlines {
		deadlines[u] = d
	}
	for u, d := range r.Deadlines {
		if !u.Valid() || d <= 0 {
			return Rules{}, fmt.Errorf("deadline for %q: want a known urgency and a positive duration, got %s", u, d)
		}
		deadlines[u] = d
	}
	if r.EarlyAccess < 0 || r.EscalateAfter < 0 {
		return Rules{}, fmt.Errorf("early access %s and escalation age %s must not be negative", r.EarlyAccess, r.EscalateAfter)
	}
	if r.EscalateAfter == 0 {
		r.EscalateAfter = defaultEscalateAfter
	}
	r.RequiredLevels, r.Deadlines = levels, deadlines
	return r, nil
}

// RequiredLevel is the minimum level for a case: the rule of its
// specialty and urgency, else its urgency's fallback, else JUNIOR.
func (r Rules) RequiredLevel(specialty vocab.Specialty, urgency vocab.Urgency) vocab.Level {
	if l, ok := r.RequiredLevels[KeyFor{specialty, urgency}]; ok {
		return l
	}
	if l, ok := r.RequiredLevels[KeyFor{Urgency: urgency}]; ok {
		return l
	}
	return vocab.Junior
}

// Deadline is when an assignment claimed at claimedAt is due; an urgency
// without a rule gets the shortest configured deadline, erring towards
// the patient.
func (r Rules) Deadline(urgency vocab.Urgency, claimedAt time.Time) time.Time {
	return claimedAt.Add(r.DeadlineFor(urgency))
}

// DeadlineFor is how long an assignment of a case of urgency has.
func (r Rules) DeadlineFor(urgency vocab.Urgency) time.Duration {
	if d, ok := r.Deadlines[urgency]; ok {
		return d
	}
	var shortest time.Duration
	for _, d := range r.Deadlines {
		if shortest == 0 || d < shortest {
			shortest = d
		}
	}
	return shortest
}

// Match says whether p may see and claim e at now, or why not.
func (r Rules) Match(p Professional, e Entry, now time.Time) Mismatch {
	switch {
	case p.Status != Verified:
		return NotVerified
	case !slices.Contains(p.Specialties, e.Specialty):
		return WrongSpecialty
	case !p.Level.AtLeast(e.RequiredLevel):
		return LevelTooLow
	case !slices.Contains(p.Languages, e.Language):
		return WrongLanguage
	case now.Before(e.OpenedAt.Add(r.EarlyAccess)) && !p.Level.AtLeast(vocab.Expert):
		return EarlyAccess
	}
	return Match
}

// EscalationCutoff is the latest pool entry time of a case that is
// overdue at now: one waiting since then or earlier escalates.
func (r Rules) EscalationCutoff(now time.Time) time.Time { return now.Add(-r.EscalateAfter) }

// ParseRequiredLevels reads required-level rules written as
// "URGENT=SENIOR,CARDIOLOGY/URGENT=EXPERT": an urgency alone is the
// fallback for every specialty. WithDefaults checks the names.
func ParseRequiredLevels(spec string) (map[KeyFor]vocab.Level, error) {
	out := map[KeyFor]vocab.Level{}
	for rule := range strings.SplitSeq(spec, ",") {
		rule = strings.TrimSpace(rule)
		if rule == "" {
			continue
		}
		key, level, ok := strings.Cut(rule, "=")
		if !ok {
			return nil, fmt.Errorf("required level rule %q: want [SPECIALTY/]URGENCY=LEVEL", rule)
		}
		var k KeyFor
		if sp, u, ok := strings.Cut(key, "/"); ok {
			k = KeyFor{Specialty: vocab.Specialty(sp), Urgency: vocab.Urgency(u)}
		} else {
			k = KeyFor{Urgency: vocab.Urgency(key)}
		}
		out[k] = vocab.Level(level)
	}
	return out, nil
}

// Matching returns the ids of the professionals of ps who may see and
// claim e at now (Match), in the order given.
func (r Rules) Matching(ps []Professional, e Entry, now time.Time) []string {
	ids := []string{}
	for _, p := range ps {
		if r.Match(p, e, now) == Match {
			ids = append(ids, p.ID)
		}
	}
	return ids
}
