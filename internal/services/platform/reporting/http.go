package reporting

import (
	"context"
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/services/platform/reporting/domain"
)

// Amounts are integer minor units of the ISO 4217 currency beside them;
// currencies are never added together. Durations are seconds.

// StatusCount is how many of the cases submitted in a window are in a
// status now.
type StatusCount struct {
	Status vocab.CaseStatus `json:"status"`
	Count  int              `json:"count"`
}

// Turnaround is how long the cases submitted in a window that reached a
// step took from their submission.
type Turnaround struct {
	Count      int      `json:"count" doc:"cases that reached the step"`
	P50Seconds *float64 `json:"p50Seconds,omitempty" doc:"median; absent when no case reached the step"`
	P90Seconds *float64 `json:"p90Seconds,omitempty" doc:"90th percentile (nearest rank); absent when no case reached the step"`
}

// AIFigures is what the requests to AI providers in a window used and
// cost. Costs are ai-usage's prices (ai.request.priced), in millionths of
// a US dollar; a request not priced yet, or of a model without a price,
// costs 0.
type AIFigures struct {
	Requests          int     `json:"requests"`
	Failed            int     `json:"failed"`
	InputTokens       int64   `json:"inputTokens"`
	OutputTokens      int64   `json:"outputTokens"`
	CostMicros        int64   `json:"costMicros" doc:"what the requests cost, in millionths of a US dollar"`
	Cases             int     `json:"cases" doc:"cases the requests were made for"`
	TokensPerCase     float64 `json:"tokensPerCase" doc:"mean input and output tokens of those cases, to two decimals"`
	CostPerCaseMicros float64 `json:"costPerCaseMicros" doc:"mean cost of those cases' requests, in millionths of a US dollar, to two decimals"`
}

// Revenue is the payments and refunds of one currency in a window.
type Revenue struct {
	Currency string `json:"currency" example:"EUR"`
	Payments int    `json:"payments"`
	Gross    int64  `json:"gross" doc:"minor units paid"`
	Refunds  int    `json:"refunds"`
	Refunded int64  `json:"refunded" doc:"minor units refunded"`
	Net      int64  `json:"net" doc:"gross less refunded, minor units"`
}

// Figures are the KPIs of a window, or of one specialty or period of it.
// Cases count by their submission: their status and turnaround belong to
// the period they were submitted in. Everything else counts when it
// happened.
type Figures struct {
	CasesSubmitted    int           `json:"casesSubmitted"`
	CasesByStatus     []StatusCount `json:"casesByStatus" doc:"every status, in lifecycle order"`
	ToClaim           Turnaround    `json:"toClaim" doc:"from submission to the first claim"`
	ToOpinion         Turnaround    `json:"toOpinion" doc:"from submission to the first submitted opinion"`
	ToCompletion      Turnaround    `json:"toCompletion" doc:"from submission to completion (the opinion approved)"`
	Claims            int           `json:"claims" doc:"cases claimed"`
	DeadlineBreaches  int           `json:"deadlineBreaches" doc:"assignments that passed their deadline without an opinion"`
	Escalations       int           `json:"escalations" doc:"cases that waited unclaimed too long"`
	AI                AIFigures     `json:"ai"`
	OpinionsSubmitted int           `json:"opinionsSubmitted"`
	OpinionsApproved  int           `json:"opinionsApproved"`
	Revenue           []Revenue     `json:"revenue" doc:"one entry per currency, in order"`
}

// SpecialtyFigures are the figures of one specialty.
type SpecialtyFigures struct {
	Specialty vocab.Specialty `json:"specialty"`
	Figures
}

// PeriodFigures are the figures of one day or month of the window.
type PeriodFigures struct {
	Period string    `json:"period" example:"2026-05-01" doc:"the UTC day (YYYY-MM-DD) or month (YYYY-MM)"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to" doc:"exclusive"`
	Figures
}

// ProfessionalFigures are one professional's opinions in the window, by
// id: names stay with professional-identity.
type ProfessionalFigures struct {
	ProfessionalID    string `json:"professionalId" format:"uuid"`
	OpinionsSubmitted int    `json:"opinionsSubmitted"`
	OpinionsApproved  int    `json:"opinionsApproved"`
}

// ReportOverview is the KPIs of a window [from, to).
type ReportOverview struct {
	From          time.Time             `json:"from"`
	To            time.Time             `json:"to" doc:"exclusive"`
	Interval      domain.Interval       `json:"interval"`
	Specialty     vocab.Specialty       `json:"specialty,omitempty" doc:"the specialty the report is limited to; absent for all"`
	Total         Figures               `json:"total"`
	BySpecialty   []SpecialtyFigures    `json:"bySpecialty" doc:"every specialty in order, or the one asked for"`
	ByPeriod      []PeriodFigures       `json:"byPeriod"`
	Professionals []ProfessionalFigures `json:"professionals" doc:"most approved opinions first"`
}

// Report names a CSV report.
type Report string

const (
	PeriodsReport       Report = "periods"       // one line per day or month
	SpecialtiesReport   Report = "specialties"   // one line per specialty
	RevenueReport       Report = "revenue"       // one line per period and currency
	ProfessionalsReport Report = "professionals" // one line per professional
)

func (Report) Values() []string {
	return []string{string(PeriodsReport), string(SpecialtiesReport), string(RevenueReport), string(ProfessionalsReport)}
}

type (
	windowInput struct {
		From      string          `query:"from" example:"2026-05-01" doc:"start, inclusive: an RFC 3339 date (midnight UTC) or date-time; 30 days before to by default"`
		To        string          `query:"to" example:"2026-06-01" doc:"end, exclusive: an RFC 3339 date or date-time, at most 366 days after from; now by default"`
		Interval  domain.Interval `query:"interval" doc:"the periods of byPeriod; DAY up to 92 days, MONTH beyond, by default"`
		Specialty vocab.Specialty `query:"specialty" doc:"limit the report to one specialty"`
	}
	overviewOutput struct{ Body ReportOverview }
	// csvInput repeats windowInput's parameters: huma reads none of an
	// embedded unexported struct's.
	csvInput struct {
		Report    Report          `path:"report"`
		From      string          `query:"from" example:"2026-05-01" doc:"as the overview's"`
		To        string          `query:"to" example:"2026-06-01" doc:"as the overview's"`
		Interval  domain.Interval `query:"interval" doc:"as the overview's"`
		Specialty vocab.Specialty `query:"specialty" doc:"as the overview's"`
	}
	csvOutput struct {
		ContentType        string `header:"Content-Type"`
		ContentDisposition string `header:"Content-Disposition"`
		Body               []byte
	}
)

func (s *Service) routes(api huma.API) {
	httpapi.Enum[domain.Interval](api)
	httpapi.Enum[vocab.Specialty](api)
	httpapi.Enum[vocab.CaseStatus](api)
	httpapi.Enum[Report](api)
	admin := authz.Roles(authn.RoleAdmin)
	tags := []string{"Reports"}
	httpapi.Register(api, huma.Operation{OperationID: "get-report-overview", Method: http.MethodGet, Path: "/api/v1/reports/overview",
		Summary: "The platform's KPIs for a window, by specialty, by period and per professional (admins)",
		Description: "Cases by status, turnaround p50/p90, deadline breaches, escalations, AI usage and cost per case, revenue " +
			"per currency and opinions per professional, computed from the facts reporting keeps. 422 for a window " +
			"that ends before it starts or spans more than 366 days.",
		Tags: tags}, admin,
		func(ctx context.Context, in *windowInput) (*overviewOutput, error) {
			o, err := s.overview(ctx, in)
			if err != nil {
				return nil, err
			}
			return &overviewOutput{toOverview(o)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-report-csv", Method: http.MethodGet, Path: "/api/v1/reports/{report}/csv",
		Summary: "One table of the overview as CSV, for spreadsheets (admins)",
		Description: "periods: the figures per day or month; specialties: per specialty; revenue: per period and " +
			"currency; professionals: opinions per professional. The columns are the overview's fields; the " +
			"parameters are its.",
		Tags: tags,
		Responses: map[string]*huma.Response{"200": {Description: "the report", Content: map[string]*huma.MediaType{
			"text/csv": {Schema: &huma.Schema{Type: huma.TypeString}}}}}}, admin,
		func(ctx context.Context, in *csvInput) (*csvOutput, error) {
			o, err := s.overview(ctx, &windowInput{From: in.From, To: in.To, Interval: in.Interval, Specialty: in.Specialty})
			if err != nil {
				return nil, err
			}
			body, err := reportCSV(in.Report, toOverview(o))
			if err != nil {
				return nil, err
			}
			name := "reporting-" + string(in.Report) + "-" + o.Window.From.Format("20060102T150405Z") + "-" +
				o.Window.To.Format("20060102T150405Z") + ".csv"
			return &csvOutput{ContentType: "text/csv; charset=utf-8",
				ContentDisposition: `attachment; filename="` + name + `"`, Body: body}, nil
		})
}

// overview reads the window's facts and computes its KPIs.
func (s *Service) overview(ctx context.Context, in *windowInput) (domain.Overview, error) {
	w, err := domain.ParseWindow(in.From, in.To, in.Interval, s.cfg.Now())
	if bad, ok := errors.AsType[*domain.WindowError](err); ok {
		return domain.Overview{}, fault.Invalid(bad.Field, "%s", bad.Reason)
	}
	if err != nil {
		return domain.Overview{}, err
	}
	facts, err := s.store.Facts(ctx, w.From, w.To)
	if err != nil {
		return domain.Overview{}, err
	}
	return domain.Report(w, in.Specialty, facts), nil
}

func toOverview(o domain.Overview) ReportOverview {
	out := ReportOverview{From: o.Window.From, To: o.Window.To, Interval: o.Window.Interval, Specialty: o.Specialty,
		Total: toFigures(o.Total), BySpecialty: make([]SpecialtyFigures, 0, len(o.BySpecialty)),
		ByPeriod: make([]PeriodFigures, 0, len(o.ByPeriod)), Professionals: make([]ProfessionalFigures, 0, len(o.Professionals))}
	for _, f := range o.BySpecialty {
		out.BySpecialty = append(out.BySpecialty, SpecialtyFigures{Specialty: f.Specialty, Figures: toFigures(f.Figures)})
	}
	for _, f := range o.ByPeriod {
		out.ByPeriod = append(out.ByPeriod, PeriodFigures{Period: f.Period.Label, From: f.Period.From, To: f.Period.To,
			Figures: toFigures(f.Figures)})
	}
	for _, p := range o.Professionals {
		out.Professionals = append(out.Professionals, ProfessionalFigures{ProfessionalID: p.ProfessionalID,
			OpinionsSubmitted: p.Submitted, OpinionsApproved: p.Approved})
	}
	return out
}

func toFigures(f domain.Figures) Figures {
	out := Figures{CasesSubmitted: f.Submitted, CasesByStatus: make([]StatusCount, 0, len(vocab.CaseStatuses)),
		ToClaim: toTurnaround(f.ToClaim), ToOpinion: toTurnaround(f.ToOpinion), ToCompletion: toTurnaround(f.ToCompletion),
		Claims: f.Claims, DeadlineBreaches: f.Breaches, Escalations: f.Escalations,
		AI: AIFigures{Requests: f.AI.Requests, Failed: f.AI.Failed, InputTokens: f.AI.InputTokens, OutputTokens: f.AI.OutputTokens,
			CostMicros: f.AI.CostMicros, Cases: f.AI.Cases, TokensPerCase: math.Round(f.AI.TokensPerCase()*100) / 100,
			CostPerCaseMicros: math.Round(f.AI.CostPerCase()*100) / 100},
		OpinionsSubmitted: f.OpinionsSubmitted, OpinionsApproved: f.OpinionsApproved,
		Revenue: make([]Revenue, 0, len(f.Revenue))}
	for _, st := range vocab.CaseStatuses {
		out.CasesByStatus = append(out.CasesByStatus, StatusCount{Status: st, Count: f.ByStatus[st]})
	}
	for _, r := range f.Revenue {
		out.Revenue = append(out.Revenue, Revenue{Currency: r.Currency, Payments: r.Payments, Gross: r.Gross,
			Refunds: r.Refunds, Refunded: r.Refunded, Net: r.Net()})
	}
	return out
}

func toTurnaround(t domain.Turnaround) Turnaround {
	if t.Count == 0 {
		return Turnaround{}
	}
	return Turnaround{Count: t.Count, P50Seconds: seconds(t.P50), P90Seconds: seconds(t.P90)}
}

// seconds is d in seconds, to the millisecond the facts keep.
func seconds(d time.Duration) *float64 {
	s := float64(d.Milliseconds()) / 1000
	return &s
}
