package domain

import (
	"cmp"
	"slices"
	"time"

	"github.com/secondopinion/platform/api/vocab"
)

// Fact places one fact of the store in a report: the specialty of its case
// ("" while the case's submission is unknown, or for none) and the time
// that puts it in a window and a period.
type Fact struct {
	Specialty vocab.Specialty
	At        time.Time
}

func (f Fact) fact() Fact { return f }

// Case is a submitted case: At is its submission. Its steps are the zero
// time until they happen.
type Case struct {
	Fact
	Status vocab.CaseStatus // its status now
	// Claimed is its first claim, Opinion its first submitted opinion,
	// Completed its completion (the opinion approved).
	Claimed, Opinion, Completed time.Time
}

// AIRequest is one request to an AI provider, At when it was made.
type AIRequest struct {
	Fact
	CaseID                    string // "" for a request for no case
	Failed                    bool
	InputTokens, OutputTokens int64
	CostMicros                int64 // millionths of a US dollar; 0 until ai-usage priced it
}

// Opinion is an opinion's submission or approval, At when it happened.
type Opinion struct {
	Fact
	ProfessionalID string
}

// Money is a payment or a refund, in minor units of Currency.
type Money struct {
	Fact
	Currency string
	Amount   int64
}

// Facts are the facts of a window. Cases are placed by their submission,
// so the KPIs of a case (its status, its turnaround) belong to the period
// it was submitted in; every other fact by the time it happened.
type Facts struct {
	Cases       []Case
	Claims      []Fact // case.assigned
	Breaches    []Fact // assignment.expired: a deadline passed without an opinion
	Escalations []Fact // assignment.escalated: a case waited unclaimed too long
	AI          []AIRequest
	Submitted   []Opinion // each opinion's first submission
	Approved    []Opinion
	Payments    []Money
	Refunds     []Money
}

// Turnaround is how long the cases that reached a step took from their
// submission: how many did, the median and the 90th percentile.
type Turnaround struct {
	Count    int
	P50, P90 time.Duration
}

// AIUsage sums requests to AI providers. CaseTokens, CaseCostMicros and
// Cases count only the requests made for a case, which TokensPerCase and
// CostPerCase divide. Costs are in millionths of a US dollar.
type AIUsage struct {
	Requests, Failed          int
	InputTokens, OutputTokens int64
	CostMicros                int64
	CaseTokens                int64
	CaseCostMicros            int64
	Cases                     int
}

// TokensPerCase is the mean tokens (input and output) of the cases that
// made requests; 0 without any.
func (u AIUsage) TokensPerCase() float64 {
	if u.Cases == 0 {
		return 0
	}
	return float64(u.CaseTokens) / float64(u.Cases)
}

// CostPerCase is the mean cost, in millionths of a US dollar, of the
// cases that made requests; 0 without any.
func (u AIUsage) CostPerCase() float64 {
	if u.Cases == 0 {
		return 0
	}
	return float64(u.CaseCostMicros) / float64(u.Cases)
}

// Revenue is the payments and refunds of one currency. Currencies are
// never added together.
type Revenue struct {
	Currency string
	Payments int
	Gross    int64 // minor units paid
	Refunds  int
	Refunded int64 // minor units refunded
}

// Net is what was paid less what was refunded.
func (r Revenue) Net() int64 { return r.Gross - r.Refunded }

// Figures are the KPIs of a set of facts.
type Figures struct {
	Submitted                           int // cases submitted
	ByStatus                            map[vocab.CaseStatus]int
	ToClaim, ToOpinion, ToCompletion    Turnaround
	Claims, Breaches, Escalations       int
	AI                                  AIUsage
	OpinionsSubmitted, OpinionsApproved int
	Revenue                             []Revenue // by currency, in order
}

// SpecialtyFigures are the figures of one specialty.
type SpecialtyFigures struct {
	Specialty vocab.Specialty
	Figures
}

// PeriodFigures are the figures of one period.
type PeriodFigures struct {
	Period Period
	Figures
}

// ProfessionalFigures are one professional's opinions, by id only.
type ProfessionalFigures struct {
	ProfessionalID      string
	Submitted, Approved int
}

// Overview is a report: the figures of a window (of one specialty, or of
// all), by specialty, by period, and per professional.
type Overview struct {
	Window        Window
	Specialty     vocab.Specialty // "" for every specialty
	Total         Figures
	BySpecialty   []SpecialtyFigures // every specialty in order, or the one asked for
	ByPeriod      []PeriodFigures
	Professionals []ProfessionalFigures // most approved opinions first
}

// Report computes the overview of w from f, of specialty alone unless it
// is "". Facts outside w are ignored.
func Report(w Window, specialty vocab.Specialty, f Facts) Overview {
	f = f.Where(func(x Fact) bool { return w.Contains(x.At) && (specialty == "" || x.Specialty == specialty) })
	o := Overview{Window: w, Specialty: specialty, Total: Compute(f)}
	specialties := vocab.Specialties
	if specialty != "" {
		specialties = []vocab.Specialty{specialty}
	}
	for _, s := range specialties {
		o.BySpecialty = append(o.BySpecialty, SpecialtyFigures{s, Compute(f.Where(func(x Fact) bool { return x.Specialty == s }))})
	}
	for _, p := range w.Periods() {
		in := Window{From: p.From, To: p.To}
		o.ByPeriod = append(o.ByPeriod, PeriodFigures{p, Compute(f.Where(func(x Fact) bool { return in.Contains(x.At) }))})
	}
	o.Professionals = professionals(f)
	return o
}

// Where keeps the facts that keep admits.
func (f Facts) Where(keep func(Fact) bool) Facts {
	return Facts{Cases: where(f.Cases, keep), Claims: where(f.Claims, keep), Breaches: where(f.Breaches, keep),
		Escalations: where(f.Escalations, keep), AI: where(f.AI, keep), Submitted: where(f.Submitted, keep),
		Approved: where(f.Approved, keep), Payments: where(f.Payments, keep), Refunds: where(f.Refunds, keep)}
}

func where[T interface{ fact() Fact }](xs []T, keep func(Fact) bool) []T {
	var out []T
	for _, x := range xs {
		if keep(x.fact()) {
			out = append(out, x)
		}
	}
	return out
}

// Compute sums facts into figures.
func Compute(f Facts) Figures {
	out := Figures{Submitted: len(f.Cases), ByStatus: map[vocab.CaseStatus]int{}, Claims: len(f.Claims),
		Breaches: len(f.Breaches), Escalations: len(f.Escalations),
		OpinionsSubmitted: len(f.Submitted), OpinionsApproved: len(f.Approved)}
	var toClaim, toOpinion, toCompletion []time.Duration
	for _, c := range f.Cases {
		out.ByStatus[c.Status]++
		toClaim = since(toClaim, c.At, c.Claimed)
		toOpinion = since(toOpinion, c.At, c.Opinion)
		toCompletion = since(toCompletion, c.At, c.Completed)
	}
	out.ToClaim, out.ToOpinion, out.ToCompletion = turnaround(toClaim), turnaround(toOpinion), turnaround(toCompletion)
	out.AI = aiUsage(f.AI)
	out.Revenue = revenue(f.Payments, f.Refunds)
	return out
}

// since adds the time from start to step when the step happened. A step
// stamped before the submission (clocks of two services apart) took no
// time rather than a negative one.
func since(ds []time.Duration, start, step time.Time) []time.Duration {
	if step.IsZero() {
		return ds
	}
	return append(ds, max(step.Sub(start), 0))
}

func turnaround(ds []time.Duration) Turnaround {
	if len(ds) == 0 {
		return Turnaround{}
	}
	return Turnaround{Count: len(ds), P50: Percentile(ds, 50), P90: Percentile(ds, 90)}
}

// Percentile is the p-th percentile (0 < p ≤ 100) of ds by nearest rank:
// the smallest value that at least p % of them do not exceed, always one
// of ds. ds is not changed; it must not be empty.
func Percentile(ds []time.Duration, p int) time.Duration {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := (p*len(sorted) + 99) / 100 // ⌈p·n/100⌉ in integers, exact
	return sorted[max(rank, 1)-1]
}

func aiUsage(rs []AIRequest) AIUsage {
	var u AIUsage
	cases := map[string]bool{}
	for _, r := range rs {
		u.Requests++
		if r.Failed {
			u.Failed++
		}
		u.InputTokens += r.InputTokens
		u.OutputTokens += r.OutputTokens
		u.CostMicros += r.CostMicros
		if r.CaseID != "" {
			u.CaseTokens += r.InputTokens + r.OutputTokens
			u.CaseCostMicros += r.CostMicros
			cases[r.CaseID] = true
		}
	}
	u.Cases = len(cases)
	return u
}

// revenue sums payments and refunds per currency, in currency order.
func revenue(payments, refunds []Money) []Revenue {
	by := map[string]*Revenue{}
	get := func(currency string) *Revenue {
		r, ok := by[currency]
		if !ok {
			r = &Revenue{Currency: currency}
			by[currency] = r
		}
		return r
	}
	for _, p := range payments {
		r := get(p.Currency)
		r.Payments++
		r.Gross += p.Amount
	}
	for _, p := range refunds {
		r := get(p.Currency)
		r.Refunds++
		r.Refunded += p.Amount
	}
	out := make([]Revenue, 0, len(by))
	for _, r := range by {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Revenue) int { return cmp.Compare(a.Currency, b.Currency) })
	return out
}

func professionals(f Facts) []ProfessionalFigures {
	by := map[string]*ProfessionalFigures{}
	get := func(id string) *ProfessionalFigures {
		p, ok := by[id]
		if !ok {
			p = &ProfessionalFigures{ProfessionalID: id}
			by[id] = p
		}
		return p
	}
	for _, o := range f.Submitted {
		get(o.ProfessionalID).Submitted++
	}
	for _, o := range f.Approved {
		get(o.ProfessionalID).Approved++
	}
	out := make([]ProfessionalFigures, 0, len(by))
	for _, p := range by {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b ProfessionalFigures) int {
		return cmp.Or(cmp.Compare(b.Approved, a.Approved), cmp.Compare(b.Submitted, a.Submitted),
			cmp.Compare(a.ProfessionalID, b.ProfessionalID))
	})
	return out
}
