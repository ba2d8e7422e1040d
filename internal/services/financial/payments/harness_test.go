package payments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payments"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider"
)

const (
	patient = "0190a4b2-0000-7000-8000-00000000fa7e"
	other   = "0190a4b2-0000-7000-8000-00000000fa7f"
	adminID = "0190a0a0-0000-7000-8000-0000000000ad"
)

var tokens = testkit.Tokens{
	"admin":   {Subject: adminID, Role: "admin"},
	"patient": {Subject: patient, Role: "patient"},
	"other":   {Subject: other, Role: "patient"},
	"pro":     {Subject: "0190a0a0-0000-7000-8000-0000000000fe", Role: "professional"},
}

// cases stands in for case-management.
type cases struct {
	mu    sync.Mutex
	cases map[string]casemanagement.Case
}

func (c *cases) Case(_ context.Context, id, purpose string) (casemanagement.Case, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if purpose == "" {
		return casemanagement.Case{}, fault.Invalid("purpose", "required")
	}
	k, ok := c.cases[id]
	if !ok {
		return casemanagement.Case{}, fault.NotFound("case")
	}
	return k, nil
}

// quotes stands in for pricing: "quote:<case>" is a quote of 108.00 EUR
// for the case (100.00 net, 10.00 off, 20 % tax on the rest).
type quotes struct{ redeemed atomic.Int32 }

func (q *quotes) Redeem(_ context.Context, token, caseID, patientID string) (payments.Quote, error) {
	q.redeemed.Add(1)
	if token != "quote:"+caseID {
		return payments.Quote{}, fault.Invalid("token", "the quote is not valid for this case")
	}
	return payments.Quote{ID: uuid.NewSHA1(uuid.NameSpaceOID, []byte(caseID)).String(), CaseID: caseID, PatientID: patientID,
		Region: "EU", Specialty: "CARDIOLOGY", Urgency: "STANDARD", Currency: "EUR", Net: 10000, Discount: 1000, Tax: 1800,
		Total: 10800, TaxRate: 2000, ExpiresAt: time.Now().Add(time.Hour)}, nil
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type harness struct {
	t     *testing.T
	db    *sqldb.DB
	svc   *payments.Service
	cases *cases
	clock *clock
	base  string
}

func newHarness(t *testing.T, db *sqldb.DB, cfg payments.Config) *harness {
	t.Helper()
	ctx := context.Background()
	if err := payments.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, cases: &cases{cases: map[string]casemanagement.Case{}},
		clock: &clock{now: time.Now().UTC().Truncate(time.Second)}}
	if cfg.Cases == nil {
		cfg.Cases = h.cases
	}
	if cfg.Quotes == nil {
		cfg.Quotes = &quotes{}
	}
	cfg.Now = h.clock.Now
	if cfg.RecoverAfter == 0 {
		cfg.RecoverAfter = time.Minute
	}
	cfg.RecoveryInterval, cfg.ReconcileInterval, cfg.ReconcileWindow = time.Hour, time.Hour, 72*time.Hour
	if cfg.SandboxWebhookSecret == "" {
		cfg.SandboxWebhookSecret = "whsec_test_sandbox"
	}
	b := inproc.New()
	t.Cleanup(func() { b.Close() })
	svc, err := payments.New(cfg, service.Deps{Region: "EU", Log: slog.New(slog.DiscardHandler), DB: db, Bus: b})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: httpapi.Wrap(svc.Handler(), httpapi.Options{Service: payments.Name, Verifier: tokens,
		Idempotency: idempotency.NewSQL(db)}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	h.base = "http://" + ln.Addr().String()
	return h
}

// newCase makes a case of patient in status.
func (h *harness) newCase(owner, status string) string {
	id := uuid.Must(uuid.NewV7()).String()
	h.cases.mu.Lock()
	defer h.cases.mu.Unlock()
	h.cases.cases[id] = casemanagement.Case{ID: id, CustomerID: owner, Status: status, Specialty: "CARDIOLOGY"}
	return id
}

type answer struct {
	status int
	body   []byte
	header http.Header
}

func (a answer) payment(t *testing.T) payments.Payment {
	t.Helper()
	var p payments.Payment
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatalf("%d %s: %v", a.status, a.body, err)
	}
	return p
}

func (a answer) problem(t *testing.T) map[string]any {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%d is not a problem (%s): %s", a.status, ct, a.body)
	}
	var m map[string]any
	_ = json.Unmarshal(a.body, &m)
	return m
}

func (h *harness) do(method, path, token, key string, body any, header ...string) answer {
	h.t.Helper()
	var r io.Reader
	if b, ok := body.([]byte); ok {
		r = bytes.NewReader(b)
	} else if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, body: b, header: res.Header}
}

// pay posts a payment of caseID with method as token.
func (h *harness) pay(token, key, caseID, method string) answer {
	h.t.Helper()
	return h.do(http.MethodPost, "/api/v1/payments", token, key,
		map[string]any{"caseId": caseID, "quoteToken": "quote:" + caseID, "paymentMethod": method})
}

// events are the payment events queued, as "type amount code/reason".
func (h *harness) events(caseID string) []string {
	h.t.Helper()
	var out []string
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.AggregateID != caseID {
			continue
		}
		// payment.failed is not in api/events' catalogue yet: its
		// contract checks it directly.
		d, ok := events.Lookup(e.Type)
		if !ok && e.Type == events.PaymentFailedV1.Type {
			d = events.PaymentFailedV1.Describe()
		}
		if err := d.Check(e); err != nil {
			h.t.Fatalf("%s breaks its contract: %v", e.Type, err)
		}
		out = append(out, describe(h.t, e))
	}
	return out
}

func describe(t *testing.T, e bus.Event) string {
	t.Helper()
	switch e.Type {
	case events.PaymentSucceededV1.Type:
		p, err := events.PaymentSucceededV1.Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		return e.Type + " " + itoa(p.Amount)
	case events.PaymentFailedV1.Type:
		p, err := events.PaymentFailedV1.Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		return e.Type + " " + p.Code
	case events.PaymentRefundedV1.Type:
		p, err := events.PaymentRefundedV1.Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		if p.Full {
			return e.Type + " " + itoa(p.Amount) + " " + p.Reason + " full"
		}
		return e.Type + " " + itoa(p.Amount) + " " + p.Reason
	}
	return e.Type
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func (h *harness) consume(e bus.Event, err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.svc.Consume(context.Background(), e); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) recover() {
	h.t.Helper()
	if _, err := h.svc.Recover(context.Background()); err != nil {
		h.t.Fatalf("recover: %v", err)
	}
}

func (h *harness) get(token, id string) payments.Payment {
	h.t.Helper()
	a := h.do(http.MethodGet, "/api/v1/payments/"+id, token, "", nil)
	if a.status != http.StatusOK {
		h.t.Fatalf("get %s: %d %s", id, a.status, a.body)
	}
	return a.payment(h.t)
}

// count counts rows of table.
func (h *harness) count(table, where string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE `+where, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// lossy loses the answer of the next n charges it makes: the provider
// charged, and we never heard (a crash, a cut connection).
type lossy struct {
	provider.Provider
	lose atomic.Int32
}

func (l *lossy) CreateIntent(ctx context.Context, p provider.CreateParams) (provider.Intent, error) {
	in, err := l.Provider.CreateIntent(ctx, p)
	if l.lose.Add(-1) >= 0 {
		return provider.Intent{}, &provider.Error{Kind: provider.Unavailable, Message: "connection reset"}
	}
	return in, err
}
