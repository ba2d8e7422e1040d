package reporting_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/reporting"
)

const twoDays = "?from=2031-05-01&to=2031-05-03"

// The module consumes what the KPIs are made of and the erasures, needs
// no peer, and every route declares its policy.
func TestModule(t *testing.T) {
	m := reporting.Module
	if m.Name != "reporting" || m.Domain != service.Platform || len(m.Requires) != 0 {
		t.Errorf("module %+v", m)
	}
	for _, typ := range []string{events.CaseSubmittedV1.Type, events.CaseStatusChangedV1.Type, events.CaseAssignedV1.Type,
		events.AssignmentExpiredV1.Type, events.AssignmentEscalatedV1.Type, events.RequestCompletedV1.Type,
		events.RequestPricedV1.Type, events.OpinionApprovedV1.Type, events.PaymentSucceededV1.Type, events.PaymentRefundedV1.Type,
		events.CaseErasedV1.Type, events.PatientErasedV1.Type} {
		if !slices.Contains(m.Consumes, typ) {
			t.Errorf("does not consume %s", typ)
		}
	}
	spec := m.Spec()
	if missing := authz.Missing(spec); len(missing) != 0 {
		t.Errorf("routes without a policy: %v", missing)
	}
	for _, path := range []string{"/api/v1/reports/overview", "/api/v1/reports/{report}/csv"} {
		if spec.Paths[path] == nil || spec.Paths[path].Get.Extensions[authz.Extension] != "authenticated:admin" {
			t.Errorf("no admin route %s", path)
		}
	}
}

func TestOverview(t *testing.T) {
	testkit.ForEachEngine(t, reporting.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		w := newWorld(t)
		h.consume(w.all()...)
		o := h.overview(twoDays)
		if !o.From.Equal(may1) || o.To.Sub(o.From).Hours() != 48 || o.Interval != "DAY" || o.Specialty != "" {
			t.Errorf("window %v %v %s", o.From, o.To, o.Interval)
		}
		tot := o.Total
		if tot.CasesSubmitted != 3 || count(tot, vocab.Completed) != 1 || count(tot, vocab.Assigned) != 1 ||
			count(tot, vocab.AwaitingAssignment) != 1 || len(tot.CasesByStatus) != len(vocab.CaseStatuses) {
			t.Errorf("cases %d %+v", tot.CasesSubmitted, tot.CasesByStatus)
		}
		if got := turnaround(tot.ToClaim); got != "2 7200 86400" {
			t.Errorf("to claim %s", got)
		}
		if got := turnaround(tot.ToOpinion); got != "2 100800 108000" {
			t.Errorf("to opinion %s (the late opinion on the erased case counts)", got)
		}
		if got := turnaround(tot.ToCompletion); got != "1 104400 104400" {
			t.Errorf("to completion %s", got)
		}
		if tot.Claims != 3 || tot.DeadlineBreaches != 1 || tot.Escalations != 1 || tot.OpinionsSubmitted != 2 || tot.OpinionsApproved != 1 {
			t.Errorf("counts %+v", tot)
		}
		if want := (reporting.AIFigures{Requests: 3, Failed: 1, InputTokens: 2300, OutputTokens: 200, CostMicros: 2901, Cases: 2,
			TokensPerCase: 750, CostPerCaseMicros: 950.5}); tot.AI != want {
			t.Errorf("AI %+v", tot.AI)
		}
		if want := []reporting.Revenue{{Currency: "CHF", Payments: 1, Gross: 20000, Refunds: 1, Refunded: 5000, Net: 15000},
			{Currency: "EUR", Payments: 2, Gross: 27000, Net: 27000}}; !slices.Equal(tot.Revenue, want) {
			t.Errorf("revenue %+v", tot.Revenue)
		}
		if want := []reporting.ProfessionalFigures{{w.pro2, 1, 1}, {w.pro1, 1, 0}}; !slices.Equal(o.Professionals, want) {
			t.Errorf("professionals %+v", o.Professionals)
		}
		if len(o.BySpecialty) != len(vocab.Specialties) {
			t.Fatalf("%d specialties", len(o.BySpecialty))
		}
		for _, s := range o.BySpecialty {
			want := map[vocab.Specialty]int{"CARDIOLOGY": 1, "ONCOLOGY": 2}[s.Specialty]
			if s.CasesSubmitted != want {
				t.Errorf("%s: %d cases, want %d", s.Specialty, s.CasesSubmitted, want)
			}
			// The erased case B's request, known from late events, counts.
			cost := map[vocab.Specialty]int64{"CARDIOLOGY": 1500, "ONCOLOGY": 401}[s.Specialty]
			if s.AI.CostMicros != cost || s.AI.CostPerCaseMicros != float64(cost) {
				t.Errorf("%s: AI cost %d, per case %v; want %d", s.Specialty, s.AI.CostMicros, s.AI.CostPerCaseMicros, cost)
			}
		}
		if len(o.ByPeriod) != 2 || o.ByPeriod[0].Period != "2031-05-01" || o.ByPeriod[0].CasesSubmitted != 2 ||
			o.ByPeriod[1].CasesSubmitted != 1 || o.ByPeriod[0].Claims != 1 || o.ByPeriod[1].Claims != 2 ||
			o.ByPeriod[1].DeadlineBreaches != 1 || len(o.ByPeriod[0].Revenue) != 2 || o.ByPeriod[1].Revenue[0].Refunded != 5000 {
			t.Errorf("periods %+v", o.ByPeriod)
		}

		onco := h.overview(twoDays + "&specialty=ONCOLOGY")
		if onco.Specialty != "ONCOLOGY" || onco.Total.CasesSubmitted != 2 || turnaround(onco.Total.ToClaim) != "1 86400 86400" ||
			len(onco.BySpecialty) != 1 || len(onco.Professionals) != 1 || onco.Total.Escalations != 1 || onco.Total.DeadlineBreaches != 0 {
			t.Errorf("oncology %+v", onco)
		}
		months := h.overview("?from=2031-01-01&to=2031-06-01")
		if months.Interval != "MONTH" || len(months.ByPeriod) != 5 || months.ByPeriod[4].Period != "2031-05" ||
			months.ByPeriod[4].CasesSubmitted != 3 || months.ByPeriod[0].CasesSubmitted != 0 {
			t.Errorf("months %s %+v", months.Interval, months.ByPeriod)
		}
		// By default, the 30 days before now: all of May but its first day.
		if d := h.overview(""); d.Total.CasesSubmitted != 1 || len(d.ByPeriod) != 30 || d.ByPeriod[0].Period != "2031-05-02" {
			t.Errorf("default window %v–%v: %d cases", d.From, d.To, d.Total.CasesSubmitted)
		}
	})
}

func count(f reporting.Figures, st vocab.CaseStatus) int {
	for _, c := range f.CasesByStatus {
		if c.Status == st {
			return c.Count
		}
	}
	return -1
}

func turnaround(t reporting.Turnaround) string {
	s := strconv.Itoa(t.Count)
	for _, v := range []*float64{t.P50Seconds, t.P90Seconds} {
		if v != nil {
			s += " " + strconv.FormatFloat(*v, 'f', -1, 64)
		}
	}
	return s
}

// An AI event the facts cannot take is parked, not recorded.
func TestMalformedAIEventsAreRefused(t *testing.T) {
	db := testkit.OpenDB(t, sqldb.SQLite, reporting.Name)
	h := start(t, db)
	id := uuid.NewString()
	for _, e := range []bus.Event{
		ev(t, events.RequestPricedV1, id, events.AIRequestPriced{RequestID: id, Provider: "openai", Model: "m", CostMicros: -1,
			Priced: true, Timestamp: may1}),
		ev(t, events.RequestPricedV1, id, events.AIRequestPriced{RequestID: "not-a-uuid", Provider: "openai", Model: "m",
			Timestamp: may1}),
		ev(t, events.RequestPricedV1, id, events.AIRequestPriced{RequestID: id, CaseID: "not-a-uuid", Provider: "openai",
			Model: "m", Timestamp: may1}),
		ev(t, events.RequestCompletedV1, id, events.AIRequest{RequestID: id, Provider: "openai", Model: "m", InputTokens: -1,
			Timestamp: may1}),
	} {
		if err := h.svc.Consume(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	var parked, facts int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM inbox WHERE status <> 'done'`).Scan(&parked); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM ai_requests`).Scan(&facts); err != nil {
		t.Fatal(err)
	}
	if parked != 4 || facts != 0 {
		t.Errorf("%d of 4 events parked, %d facts recorded", parked, facts)
	}
}

func TestReportsAreForAdmins(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, reporting.Name))
	for token, want := range map[string]int{"": 401, "patient": 403, "pro": 403, "admin": 200} {
		for _, path := range []string{"/api/v1/reports/overview", "/api/v1/reports/periods/csv"} {
			if r := h.get(token, path); r.status != want {
				t.Errorf("%s as %q: %d, want %d", path, token, r.status, want)
			}
		}
	}
}

// A bad window is a 422 naming the parameter at fault.
func TestBadWindows(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, reporting.Name))
	for query, field := range map[string]string{
		"?from=2031-05-03&to=2031-05-01":          "to",
		"?from=2031-05-01&to=2031-05-01":          "to",
		"?from=2030-01-01&to=2031-06-01":          "to",
		"?from=first-of-may":                      "from",
		"?to=2031-02-30":                          "to",
		"?interval=WEEK":                          "interval",
		"?specialty=ASTROLOGY":                    "specialty",
		"?from=2031-05-01T00:00:00&to=2031-05-02": "from",
	} {
		for _, path := range []string{"/api/v1/reports/overview", "/api/v1/reports/revenue/csv"} {
			r := h.get("admin", path+query)
			var p struct {
				Errors []struct{ Location string } `json:"errors"`
			}
			_ = json.Unmarshal(r.body, &p)
			if r.status != http.StatusUnprocessableEntity || len(p.Errors) == 0 || p.Errors[0].Location != "query."+field {
				t.Errorf("%s%s: %d %s, want 422 at query.%s", path, query, r.status, r.body, field)
			}
		}
	}
	if r := h.get("admin", "/api/v1/reports/everything/csv"); r.status != http.StatusUnprocessableEntity {
		t.Errorf("an unknown report: %d", r.status)
	}
}

// Every CSV report parses, and its cells are the overview's figures.
func TestCSVReportsMatchTheOverview(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, reporting.Name))
	w := newWorld(t)
	h.consume(w.beforeErasure...)
	o := h.overview(twoDays)
	read := func(report string) []map[string]string {
		t.Helper()
		r := h.get("admin", "/api/v1/reports/"+report+"/csv"+twoDays)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") ||
			!strings.Contains(r.header.Get("Content-Disposition"), "reporting-"+report+"-20310501T000000Z-20310503T000000Z.csv") {
			t.Fatalf("%s: %d %v %s", report, r.status, r.header, r.body)
		}
		rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil || len(rows) == 0 {
			t.Fatalf("%s: %v\n%s", report, err, r.body)
		}
		var out []map[string]string
		for _, row := range rows[1:] {
			m := map[string]string{}
			for i, col := range rows[0] {
				m[col] = row[i]
			}
			out = append(out, m)
		}
		return out
	}
	periods := read("periods")
	if len(periods) != len(o.ByPeriod) {
		t.Fatalf("%d period lines, want %d", len(periods), len(o.ByPeriod))
	}
	for i, p := range o.ByPeriod {
		if periods[i]["period"] != p.Period {
			t.Errorf("line %d is %s, want %s", i, periods[i]["period"], p.Period)
		}
		sameFigures(t, p.Period, periods[i], p.Figures)
	}
	specialties := read("specialties")
	if len(specialties) != len(vocab.Specialties) {
		t.Fatalf("%d specialty lines", len(specialties))
	}
	for i, s := range o.BySpecialty {
		if specialties[i]["specialty"] != string(s.Specialty) {
			t.Errorf("line %d is %s", i, specialties[i]["specialty"])
		}
		sameFigures(t, string(s.Specialty), specialties[i], s.Figures)
	}
	var revenue []string
	for _, l := range read("revenue") {
		revenue = append(revenue, l["period"]+" "+l["currency"]+" "+l["payments"]+" "+l["gross"]+" "+l["refunds"]+" "+l["refunded"]+" "+l["net"])
	}
	var want []string
	for _, p := range o.ByPeriod {
		for _, m := range p.Revenue {
			want = append(want, p.Period+" "+m.Currency+" "+strconv.Itoa(m.Payments)+" "+strconv.FormatInt(m.Gross, 10)+" "+
				strconv.Itoa(m.Refunds)+" "+strconv.FormatInt(m.Refunded, 10)+" "+strconv.FormatInt(m.Net, 10))
		}
	}
	if !slices.Equal(revenue, want) || len(want) != 4 {
		t.Errorf("revenue %v, want %v", revenue, want)
	}
	var pros []string
	for _, l := range read("professionals") {
		pros = append(pros, l["professionalId"]+" "+l["opinionsSubmitted"]+" "+l["opinionsApproved"])
	}
	if want := []string{w.pro2 + " 1 1"}; !slices.Equal(pros, want) {
		t.Errorf("professionals %v, want %v", pros, want)
	}
}

// sameFigures compares a CSV line with the JSON figures, field by field
// through their JSON names.
func sameFigures(t *testing.T, what string, line map[string]string, f reporting.Figures) {
	t.Helper()
	raw, _ := json.Marshal(f)
	var j map[string]any
	_ = json.Unmarshal(raw, &j)
	num := func(v any) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(v.(float64), 'f', -1, 64)
	}
	want := map[string]string{"casesSubmitted": num(j["casesSubmitted"]), "claims": num(j["claims"]),
		"deadlineBreaches": num(j["deadlineBreaches"]), "escalations": num(j["escalations"]),
		"opinionsSubmitted": num(j["opinionsSubmitted"]), "opinionsApproved": num(j["opinionsApproved"])}
	for _, s := range j["casesByStatus"].([]any) {
		c := s.(map[string]any)
		want["cases"+c["status"].(string)] = num(c["count"])
	}
	for _, step := range []string{"toClaim", "toOpinion", "toCompletion"} {
		st := j[step].(map[string]any)
		want[step+"Count"], want[step+"P50Seconds"], want[step+"P90Seconds"] = num(st["count"]), num(st["p50Seconds"]), num(st["p90Seconds"])
	}
	ai := j["ai"].(map[string]any)
	for k, v := range map[string]string{"aiRequests": "requests", "aiFailed": "failed", "aiInputTokens": "inputTokens",
		"aiOutputTokens": "outputTokens", "aiCostMicros": "costMicros", "aiCases": "cases", "aiTokensPerCase": "tokensPerCase",
		"aiCostPerCaseMicros": "costPerCaseMicros"} {
		want[k] = num(ai[v])
	}
	for k, v := range want {
		if got, ok := line[k]; !ok || got != v {
			t.Errorf("%s: CSV %s = %q, JSON %q", what, k, got, v)
		}
	}
	if len(line) != len(want)+1 {
		t.Errorf("%s: %d CSV columns, %d compared", what, len(line), len(want)+1)
	}
}
