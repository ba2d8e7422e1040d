package domain

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// Rate is what an approved opinion earns by its author's level: Opinion to
// its author, and ReviewerFee to the peer reviewer who approved it (only a
// JUNIOR's opinion is reviewed today, so in practice JUNIOR's fee is the
// one paid; a fee per level keeps the table honest if that rule changes).
// Amounts are minor units of the table's currency.
type Rate struct {
	Level       vocab.Level
	Opinion     int64
	ReviewerFee int64
}

// RateTable is the rates in force from EffectiveFrom until the next
// table's. An earning is priced by the table in force when the opinion was
// approved, so a change of rates never reprices what was already earned.
type RateTable struct {
	ID            string
	Currency      string
	Rates         []Rate
	EffectiveFrom time.Time
}

// Validate checks a table an admin sets: a currency code and one rate per
// level, each opinion paying something (an earning of nothing would be
// paid as nothing) and no fee negative.
func (t RateTable) Validate() error {
	if !ValidCurrency(t.Currency) {
		return fault.Invalid("currency", "an ISO 4217 code such as EUR")
	}
	seen := map[vocab.Level]bool{}
	for i, r := range t.Rates {
		field := fmt.Sprintf("rates[%d]", i)
		switch {
		case !r.Level.Valid():
			return fault.Invalid(field+".level", "one of %v", vocab.Levels)
		case seen[r.Level]:
			return fault.Invalid(field+".level", "%s is given twice", r.Level)
		case r.Opinion < 1 || r.Opinion > MaxAmount:
			return fault.Invalid(field+".opinion", "minor units, at least 1")
		case r.ReviewerFee < 0 || r.ReviewerFee > MaxAmount:
			return fault.Invalid(field+".reviewerFee", "minor units, 0 or more")
		}
		seen[r.Level] = true
	}
	for _, l := range vocab.Levels {
		if !seen[l] {
			return fault.Invalid("rates", "no rate for %s: every level needs one", l)
		}
	}
	return nil
}

// For is the rate of level.
func (t RateTable) For(level vocab.Level) (Rate, bool) {
	i := slices.IndexFunc(t.Rates, func(r Rate) bool { return r.Level == level })
	if i < 0 {
		return Rate{}, false
	}
	return t.Rates[i], true
}

// Kind is what an earning pays for.
type Kind string

const (
	OpinionEarning Kind = "OPINION" // writing an approved opinion
	ReviewEarning  Kind = "REVIEW"  // approving a JUNIOR's opinion as peer reviewer
)

// Kinds lists every kind.
var Kinds = []Kind{OpinionEarning, ReviewEarning}

func (Kind) Values() []string { return []string{string(OpinionEarning), string(ReviewEarning)} }

// Approval is an approved opinion as opinion.approved tells it.
type Approval struct {
	OpinionID   string
	CaseID      string
	AuthorID    string
	AuthorLevel vocab.Level
	ReviewerID  string // "" when approved without review
	At          time.Time
}

// Accrual is one earning an approval gives a professional.
type Accrual struct {
	ProfessionalID string
	Kind           Kind
	Level          vocab.Level // the author's level, by which it was priced
	Amount         int64
	Currency       string
}

// ErrUnpriceable is an approval no rate can price.
var ErrUnpriceable = errors.New("no rate prices this approval")

// Accrue is what an approval earns under table t: exactly one earning for
// the author, at their level's rate, and the reviewer's fee when a peer
// reviewer approved it and the fee is not nothing.
func Accrue(t RateTable, a Approval) ([]Accrual, error) {
	if !a.AuthorLevel.Valid() {
		return nil, fmt.Errorf("%w: author level %q", ErrUnpriceable, a.AuthorLevel)
	}
	if a.ReviewerID != "" && a.ReviewerID == a.AuthorID {
		return nil, fmt.Errorf("%w: the author cannot be their own reviewer", ErrUnpriceable)
	}
	r, ok := t.For(a.AuthorLevel)
	if !ok {
		return nil, fmt.Errorf("%w: the rate table has no %s", ErrUnpriceable, a.AuthorLevel)
	}
	out := []Accrual{{ProfessionalID: a.AuthorID, Kind: OpinionEarning, Level: a.AuthorLevel, Amount: r.Opinion, Currency: t.Currency}}
	if a.ReviewerID != "" && r.ReviewerFee > 0 {
		out = append(out, Accrual{ProfessionalID: a.ReviewerID, Kind: ReviewEarning, Level: a.AuthorLevel,
			Amount: r.ReviewerFee, Currency: t.Currency})
	}
	return out, nil
}
