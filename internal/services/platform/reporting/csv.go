package reporting

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"

	"github.com/secondopinion/platform/api/vocab"
)

// reportCSV is one table of an overview as CSV. Its cells are numbers,
// dates, enums and ids only, so none can start a spreadsheet formula; its
// numbers are written as the JSON writes them.
func reportCSV(r Report, o ReportOverview) ([]byte, error) {
	var rows [][]string
	switch r {
	case PeriodsReport:
		rows = append(rows, append([]string{"period"}, figureColumns()...))
		for _, p := range o.ByPeriod {
			rows = append(rows, append([]string{p.Period}, figureCells(p.Figures)...))
		}
	case SpecialtiesReport:
		rows = append(rows, append([]string{"specialty"}, figureColumns()...))
		for _, s := range o.BySpecialty {
			rows = append(rows, append([]string{string(s.Specialty)}, figureCells(s.Figures)...))
		}
	case RevenueReport:
		rows = append(rows, []string{"period", "currency", "payments", "gross", "refunds", "refunded", "net"})
		for _, p := range o.ByPeriod {
			for _, m := range p.Revenue {
				rows = append(rows, []string{p.Period, m.Currency, itoa(m.Payments), i64(m.Gross), itoa(m.Refunds),
					i64(m.Refunded), i64(m.Net)})
			}
		}
	case ProfessionalsReport:
		rows = append(rows, []string{"professionalId", "opinionsSubmitted", "opinionsApproved"})
		for _, p := range o.Professionals {
			rows = append(rows, []string{p.ProfessionalID, itoa(p.OpinionsSubmitted), itoa(p.OpinionsApproved)})
		}
	default:
		return nil, fmt.Errorf("no CSV report %q", r)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(rows); err != nil {
		return nil, fmt.Errorf("CSV report %s: %w", r, err)
	}
	return buf.Bytes(), nil
}

// figureColumns name the cells of figureCells, after the JSON's fields:
// one column per case status, and none for revenue, which has its own
// report (a line per currency).
func figureColumns() []string {
	cols := []string{"casesSubmitted"}
	for _, st := range vocab.CaseStatuses {
		cols = append(cols, "cases"+string(st))
	}
	for _, step := range []string{"toClaim", "toOpinion", "toCompletion"} {
		cols = append(cols, step+"Count", step+"P50Seconds", step+"P90Seconds")
	}
	return append(cols, "claims", "deadlineBreaches", "escalations", "aiRequests", "aiFailed", "aiInputTokens",
		"aiOutputTokens", "aiCostMicros", "aiCases", "aiTokensPerCase", "aiCostPerCaseMicros", "opinionsSubmitted",
		"opinionsApproved")
}

func figureCells(f Figures) []string {
	cells := []string{itoa(f.CasesSubmitted)}
	for _, c := range f.CasesByStatus {
		cells = append(cells, itoa(c.Count))
	}
	for _, t := range []Turnaround{f.ToClaim, f.ToOpinion, f.ToCompletion} {
		cells = append(cells, itoa(t.Count), float(t.P50Seconds), float(t.P90Seconds))
	}
	return append(cells, itoa(f.Claims), itoa(f.DeadlineBreaches), itoa(f.Escalations), itoa(f.AI.Requests),
		itoa(f.AI.Failed), i64(f.AI.InputTokens), i64(f.AI.OutputTokens), i64(f.AI.CostMicros), itoa(f.AI.Cases),
		strconv.FormatFloat(f.AI.TokensPerCase, 'f', -1, 64), strconv.FormatFloat(f.AI.CostPerCaseMicros, 'f', -1, 64),
		itoa(f.OpinionsSubmitted), itoa(f.OpinionsApproved))
}

func itoa(n int) string  { return strconv.Itoa(n) }
func i64(n int64) string { return strconv.FormatInt(n, 10) }

// float is an optional number: empty when absent.
func float(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}
