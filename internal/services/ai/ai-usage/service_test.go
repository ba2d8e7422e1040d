package aiusage_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	aiusage "github.com/secondopinion/platform/internal/services/ai/ai-usage"
)

var may = time.Date(2031, 5, 20, 9, 0, 0, 0, time.UTC)

type tokens struct{}

func (tokens) Verify(_ context.Context, token string) (authn.Principal, error) {
	switch token {
	case "admin":
		return authn.Principal{Subject: "0190a0a0-0000-7000-8000-0000000000ad", Role: authn.RoleAdmin}, nil
	case "pro":
		return authn.Principal{Subject: "0190a0a0-0000-7000-8000-0000000000fe", Role: authn.RoleProfessional}, nil
	case "patient":
		return authn.Principal{Subject: "0190a0a0-0000-7000-8000-00000000000a", Role: authn.RolePatient}, nil
	}
	return authn.Principal{}, errors.New("unknown test token")
}

type harness struct {
	t    *testing.T
	svc  *aiusage.Service
	db   *sqldb.DB
	base string
}

func start(t *testing.T, db *sqldb.DB, cfg aiusage.Config) *harness {
	t.Helper()
	if err := aiusage.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	cfg.Now = func() time.Time { return may }
	svc, err := aiusage.New(cfg, service.Deps{Region: "EU", Log: slog.New(slog.DiscardHandler), DB: db, Bus: inproc.New()})
	if err != nil {
		t.Fatal(err)
	}
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: httpapi.Wrap(svc.Handler(), httpapi.Options{Service: aiusage.Name, Verifier: tokens{}}),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &harness{t: t, svc: svc, db: db, base: "http://" + ln.Addr().String()}
}

// request delivers one ai.request.completed (or, with failure, failed).
func (h *harness) request(id, caseID, provider, model string, in, out int64, failure string, at time.Time) {
	h.t.Helper()
	c := events.RequestCompletedV1
	if failure != "" {
		c = events.RequestFailedV1
	}
	e, err := c.New("ai-providers", id, events.AIRequest{RequestID: id, CaseID: caseID, Provider: provider, Model: model,
		InputTokens: in, OutputTokens: out, LatencyMs: 400, Error: failure, Timestamp: at})
	if err != nil {
		h.t.Fatal(err)
	}
	h.consume(e)
}

func (h *harness) consume(e bus.Event) {
	h.t.Helper()
	if err := h.svc.Consume(context.Background(), e); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) get(token, path string, into any) int {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if into != nil && res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, into); err != nil {
			h.t.Fatalf("%s: %v: %s", path, err, b)
		}
	}
	if res.StatusCode != http.StatusOK && res.Header.Get("Content-Type") != "application/problem+json" {
		h.t.Errorf("%s: %d is not a problem: %s", path, res.StatusCode, b)
	}
	return res.StatusCode
}

// alerts are the ai.budget.exceeded events queued, as "scope spent/limit".
func (h *harness) alerts() []string {
	var out []string
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.Type != events.BudgetExceededV1.Type {
			continue
		}
		p, err := events.BudgetExceededV1.Decode(e)
		if err != nil || events.Check(e) != nil {
			h.t.Fatalf("ai.budget.exceeded %s: %v", e.Payload, err)
		}
		out = append(out, p.Month+" "+p.Scope+" "+itoa(p.SpentMicros)+"/"+itoa(p.LimitMicros))
	}
	return out
}

// prices are the ai.request.priced events queued, as "request cost
// priced failed".
func (h *harness) prices() []string {
	var out []string
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.Type != events.RequestPricedV1.Type {
			continue
		}
		p, err := events.RequestPricedV1.Decode(e)
		if err != nil || events.Check(e) != nil || e.AggregateID != p.RequestID {
			h.t.Fatalf("ai.request.priced %s: %v", e.Payload, err)
		}
		out = append(out, p.RequestID+" "+p.CaseID+" "+p.Provider+"/"+p.Model+" "+itoa(p.CostMicros)+" "+
			strconv.FormatBool(p.Priced)+" "+strconv.FormatBool(p.Failed)+" "+p.Timestamp.UTC().Format(time.RFC3339))
	}
	slices.Sort(out)
	return out
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestLedgerAndBudgets(t *testing.T) {
	testkit.ForEachEngine(t, aiusage.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db, aiusage.Config{Prices: "openai/gpt-4o-mini=0.15:0.60,anthropic/*=3:15", Budgets: "total=1,openai=0.5"})
		caseA, caseB := uuid.NewString(), uuid.NewString()
		first := uuid.NewString()
		h.request(first, caseA, "openai", "gpt-4o-mini", 1_000_000, 0, "", may) // 0.15
		h.request(first, caseA, "openai", "gpt-4o-mini", 1_000_000, 0, "", may) // redelivered: once
		h.request(uuid.NewString(), caseA, "anthropic", "claude-sonnet-4", 1_000, 0, "RATE_LIMITED", may)
		h.request(uuid.NewString(), caseA, "local", "rules", 5_000, 800, "", may)
		h.request(uuid.NewString(), caseB, "openai", "o3", 10, 10, "", may) // no price
		if got := h.alerts(); len(got) != 0 {
			t.Fatalf("alerts before any budget is spent: %v", got)
		}
		h.request(uuid.NewString(), caseB, "openai", "gpt-4o-mini", 0, 600_000, "", may)        // openai 0.51 ≥ 0.5
		h.request(uuid.NewString(), caseB, "anthropic", "claude-sonnet-4", 200_000, 0, "", may) // total 1.113 ≥ 1
		h.request(uuid.NewString(), caseB, "openai", "gpt-4o-mini", 1_000, 0, "", may)          // spent already: no second alert
		h.request(uuid.NewString(), "", "openai", "gpt-4o-mini", 1_000_000, 0, "", may.AddDate(0, 1, 0))
		want := []string{"2031-05 openai 510000/500000", "2031-05 total 1113000/1000000"}
		if got := h.alerts(); !slices.Equal(got, want) {
			t.Errorf("alerts %v, want %v", got, want)
		}

		var u aiusage.AIUsage
		if code := h.get("admin", "/api/v1/ai/usage?month=2031-05", &u); code != http.StatusOK {
			t.Fatalf("usage: %d", code)
		}
		if tot := u.Total; tot.Requests != 7 || tot.Failed != 1 || tot.Unpriced != 1 || tot.CostMicros != 1_113_150 ||
			tot.CostUSD != "1.113150" || tot.InputTokens != 1_207_010 || tot.OutputTokens != 600_810 || tot.LatencyMs != 400 {
			t.Errorf("total %+v", tot)
		}
		var providers []string
		for _, p := range u.ByProvider {
			providers = append(providers, p.Provider+" "+itoa(p.Requests)+" "+itoa(p.CostMicros))
		}
		if want := []string{"anthropic 2 603000", "local 1 0", "openai 4 510150"}; !slices.Equal(providers, want) {
			t.Errorf("by provider %v, want %v", providers, want)
		}
		if len(u.ByModel) != 4 || u.ByModel[3].Model != "o3" || u.ByModel[3].Unpriced != 1 {
			t.Errorf("by model %+v", u.ByModel)
		}
		budgets, _ := json.Marshal(u.Budgets)
		if string(budgets) != `[{"scope":"total","limitMicros":1000000,"spentMicros":1113150,"exceeded":true},`+
			`{"scope":"openai","limitMicros":500000,"spentMicros":510150,"exceeded":true}]` {
			t.Errorf("budgets %s", budgets)
		}
		var june aiusage.AIUsage
		if h.get("admin", "/api/v1/ai/usage?month=2031-06", &june); june.Total.Requests != 1 || june.Budgets[0].Exceeded {
			t.Errorf("June: %+v", june)
		}
		var current aiusage.AIUsage
		if h.get("admin", "/api/v1/ai/usage", &current); current.Month != "2031-05" {
			t.Errorf("the current month is %s", current.Month)
		}

		var c aiusage.CaseAIUsage
		if code := h.get("admin", "/api/v1/ai/usage/cases/"+caseA, &c); code != http.StatusOK || c.Total.Requests != 3 ||
			c.Total.CostMicros != 153_000 || len(c.ByProvider) != 3 {
			t.Errorf("case A: %d %+v", code, c)
		}
		erased, err := events.CaseErasedV1.New("case-management", caseA, events.CaseErased{CaseID: caseA, Timestamp: may})
		if err != nil {
			t.Fatal(err)
		}
		h.consume(erased)
		if code := h.get("admin", "/api/v1/ai/usage/cases/"+caseA, nil); code != http.StatusNotFound {
			t.Errorf("an erased case's usage: %d, want 404", code)
		}
		if n := testkit.CountContaining(t, db, "ai_requests", caseA); n != 0 {
			t.Errorf("%d requests still name the erased case", n)
		}
		var after aiusage.AIUsage
		if h.get("admin", "/api/v1/ai/usage?month=2031-05", &after); after.Total != u.Total {
			t.Errorf("the erasure changed the totals: %+v, was %+v", after.Total, u.Total)
		}
	})
}

// Every request recorded is priced once on the bus, completed or failed,
// priced or not; a redelivered request is not priced again.
func TestEachRequestIsPricedOnce(t *testing.T) {
	testkit.ForEachEngine(t, aiusage.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db, aiusage.Config{Prices: "openai/gpt-4o-mini=0.15:0.60,anthropic/*=3:15"})
		caseID := uuid.NewString()
		priced, failed, unpriced := uuid.NewString(), uuid.NewString(), uuid.NewString()
		h.request(priced, caseID, "openai", "gpt-4o-mini", 2_000, 1_000, "", may) // 300 + 600
		h.request(failed, caseID, "anthropic", "claude-sonnet-4", 1_000, 0, "TIMEOUT", may.Add(time.Minute))
		h.request(unpriced, "", "openai", "o3", 10, 10, "", may)
		h.request(priced, caseID, "openai", "gpt-4o-mini", 2_000, 1_000, "", may) // redelivered
		h.request(unpriced, "", "openai", "o3", 10, 10, "", may)                  // redelivered
		want := []string{
			priced + " " + caseID + " openai/gpt-4o-mini 900 true false 2031-05-20T09:00:00Z",
			failed + " " + caseID + " anthropic/claude-sonnet-4 3000 true true 2031-05-20T09:01:00Z",
			unpriced + "  openai/o3 0 false false 2031-05-20T09:00:00Z",
		}
		slices.Sort(want)
		if got := h.prices(); !slices.Equal(got, want) {
			t.Errorf("prices\n%v\nwant\n%v", got, want)
		}
	})
}

func TestUsageIsForAdmins(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, aiusage.Name), aiusage.Config{})
	for token, want := range map[string]int{"": 401, "patient": 403, "pro": 403, "admin": 200} {
		if code := h.get(token, "/api/v1/ai/usage", nil); code != want {
			t.Errorf("usage as %q: %d, want %d", token, code, want)
		}
		if want == 200 {
			want = 404 // no request of that case
		}
		if code := h.get(token, "/api/v1/ai/usage/cases/"+uuid.NewString(), nil); code != want {
			t.Errorf("a case's usage as %q: %d, want %d", token, code, want)
		}
	}
	for _, month := range []string{"2031-13", "2031-5", "may", "2031-00"} {
		if code := h.get("admin", "/api/v1/ai/usage?month="+month, nil); code != http.StatusUnprocessableEntity {
			t.Errorf("month %q: %d, want 422", month, code)
		}
	}
}

// A request the ledger cannot take is not recorded, and does not stop the
// ones after it.
func TestMalformedRequest(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, aiusage.Name), aiusage.Config{})
	for _, p := range []map[string]any{
		{"requestId": "not-a-uuid", "provider": "openai", "model": "m", "inputTokens": 1, "outputTokens": 1, "latencyMs": 1},
		{"requestId": uuid.NewString(), "provider": "", "model": "m", "inputTokens": 1, "outputTokens": 1, "latencyMs": 1},
		{"requestId": uuid.NewString(), "caseId": "x", "provider": "openai", "model": "m", "inputTokens": 1, "outputTokens": 1, "latencyMs": 1},
		{"requestId": uuid.NewString(), "provider": "openai", "model": "m", "inputTokens": -1, "outputTokens": 1, "latencyMs": 1},
	} {
		p["timestamp"] = may
		e, err := bus.New("ai-providers", events.RequestCompletedV1.Type, uuid.NewString(), p)
		if err != nil {
			t.Fatal(err)
		}
		_ = h.svc.Consume(context.Background(), e)
	}
	h.request(uuid.NewString(), "", "openai", "gpt-4o-mini", 10, 10, "", may)
	var u aiusage.AIUsage
	if h.get("admin", "/api/v1/ai/usage", &u); u.Total.Requests != 1 {
		t.Errorf("%d requests recorded, want only the well-formed one", u.Total.Requests)
	}
}

func TestConfig(t *testing.T) {
	db := testkit.OpenDB(t, sqldb.SQLite, aiusage.Name)
	for _, cfg := range []aiusage.Config{{Prices: "gpt=1"}, {Budgets: "total=lots"}} {
		_, err := aiusage.New(cfg, service.Deps{Log: slog.New(slog.DiscardHandler), DB: db, Bus: inproc.New()})
		if err == nil || !strings.Contains(err.Error(), "AI_") {
			t.Errorf("%+v: %v, want an error naming the variable", cfg, err)
		}
	}
}
