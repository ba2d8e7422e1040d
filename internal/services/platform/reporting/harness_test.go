package reporting_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/telemetry"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/reporting"
)

// may1 is the first day of the reports; the service's clock is a month on.
var (
	may1 = time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)
	now  = time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC)
)

var tokens = testkit.Tokens{
	"admin":   {Subject: "0190a0a0-0000-7000-8000-0000000000ad", Role: authn.RoleAdmin},
	"pro":     {Subject: "0190a0a0-0000-7000-8000-0000000000fe", Role: authn.RoleProfessional},
	"patient": {Subject: "0190a0a0-0000-7000-8000-00000000000a", Role: authn.RolePatient},
}

type harness struct {
	t       *testing.T
	svc     *reporting.Service
	db      *sqldb.DB
	metrics *telemetry.Metrics
	base    string
}

func start(t *testing.T, db *sqldb.DB) *harness {
	t.Helper()
	if err := reporting.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	metrics := telemetry.NewMetrics()
	svc, err := reporting.New(reporting.Config{MetricsWindow: 31 * 24 * time.Hour, Now: func() time.Time { return now }},
		service.Deps{Region: "EU", Log: slog.New(slog.DiscardHandler), DB: db, Bus: inproc.New(), Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: httpapi.Wrap(svc.Handler(), httpapi.Options{Service: reporting.Name, Verifier: tokens}),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &harness{t: t, svc: svc, db: db, metrics: metrics, base: "http://" + ln.Addr().String()}
}

// consume delivers events; none may fail (a failed one is parked in the
// inbox, not returned).
func (h *harness) consume(es ...bus.Event) {
	h.t.Helper()
	for _, e := range es {
		if err := events.Check(e); err != nil {
			h.t.Fatal(err)
		}
		if err := h.svc.Consume(context.Background(), e); err != nil {
			h.t.Fatal(err)
		}
	}
	var failed int
	if err := h.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM inbox WHERE status <> 'done'`).Scan(&failed); err != nil || failed != 0 {
		h.t.Fatalf("%d events failed (%v)", failed, err)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (h *harness) get(token, path string) response {
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
	if res.StatusCode != http.StatusOK && res.Header.Get("Content-Type") != "application/problem+json" {
		h.t.Errorf("%s: %d is not a problem: %s", path, res.StatusCode, b)
	}
	return response{res.StatusCode, res.Header, b}
}

// overview is the admin's overview at path's query.
func (h *harness) overview(query string) reporting.ReportOverview {
	h.t.Helper()
	r := h.get("admin", "/api/v1/reports/overview"+query)
	if r.status != http.StatusOK {
		h.t.Fatalf("overview%s: %d %s", query, r.status, r.body)
	}
	var o reporting.ReportOverview
	if err := json.Unmarshal(r.body, &o); err != nil {
		h.t.Fatal(err)
	}
	return o
}

// ev builds an event of contract c from its producer.
func ev[P any](t *testing.T, c bus.Contract[P], aggregate string, p P) bus.Event {
	t.Helper()
	e, err := c.New(c.Producer, aggregate, p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// world is the history the tests replay: three cases of two patients over
// 1 and 2 May, two professionals, and the erasure of the second patient
// and their cases, after which a late event about one of them arrives.
type world struct {
	caseA, caseB, caseC     string
	numberB                 string
	patient1, patient2      string
	pro1, pro2              string
	beforeErasure, erasures []bus.Event
	late                    []bus.Event
}

func newWorld(t *testing.T) world {
	w := world{caseA: uuid.NewString(), caseB: uuid.NewString(), caseC: uuid.NewString(), numberB: "EU-2031-B0B0B0",
		patient1: uuid.NewString(), patient2: uuid.NewString(), pro1: uuid.NewString(), pro2: uuid.NewString()}
	h := time.Hour
	at := func(d time.Duration) time.Time { return may1.Add(d) }
	var es []bus.Event
	add := func(e ...bus.Event) { es = append(es, e...) }
	submit := func(caseID, number, patient string, s vocab.Specialty, t0 time.Time, rest ...vocab.CaseStatus) {
		add(ev(t, events.CaseSubmittedV1, caseID, events.CaseSubmitted{CaseID: caseID, CustomerID: patient, CaseNumber: number,
			Specialty: s, Urgency: vocab.Standard, Timestamp: t0}))
		from := vocab.AwaitingPayment
		for _, to := range append([]vocab.CaseStatus{vocab.Submitted}, rest...) {
			add(ev(t, events.CaseStatusChangedV1, caseID, events.CaseStatusChanged{CaseID: caseID, CaseNumber: number,
				From: from, To: to, Trigger: "test", Timestamp: t0}))
			from = to
		}
	}
	status := func(caseID, number string, from, to vocab.CaseStatus, t0 time.Time) {
		add(ev(t, events.CaseStatusChangedV1, caseID, events.CaseStatusChanged{CaseID: caseID, CaseNumber: number,
			From: from, To: to, Trigger: "test", Timestamp: t0}))
	}
	pay := func(caseID, patient string, s vocab.Specialty, amount int64, currency string, t0 time.Time) string {
		id := uuid.NewString()
		add(ev(t, events.PaymentSucceededV1, id, events.Payment{PaymentID: id, CaseID: caseID, CustomerID: patient,
			QuoteID: uuid.NewString(), Region: "EU", Specialty: s, Urgency: vocab.Standard, NetAmount: amount, Amount: amount,
			Currency: currency, Provider: "sandbox", Timestamp: t0}))
		return id
	}
	assign := func(caseID, pro string, t0 time.Time) string {
		id := uuid.NewString()
		add(ev(t, events.CaseAssignedV1, caseID, events.CaseAssigned{CaseID: caseID, ProfessionalID: pro, AssignmentID: id,
			Deadline: t0.Add(24 * h), Timestamp: t0}))
		return id
	}
	ai := func(id, caseID string, in, out int64, failure string, t0 time.Time) {
		c := events.RequestCompletedV1
		if failure != "" {
			c = events.RequestFailedV1
		}
		add(ev(t, c, id, events.AIRequest{RequestID: id, CaseID: caseID, Provider: "openai", Model: "gpt-4o-mini",
			InputTokens: in, OutputTokens: out, Error: failure, Timestamp: t0}))
	}
	// price is ai-usage's ai.request.priced of request id.
	price := func(id, caseID string, cost int64, failed bool, t0 time.Time) {
		add(ev(t, events.RequestPricedV1, id, events.AIRequestPriced{RequestID: id, CaseID: caseID, Provider: "openai",
			Model: "gpt-4o-mini", CostMicros: cost, Priced: true, Failed: failed, Timestamp: t0}))
	}

	// Case A, cardiology: claimed, missed its deadline, claimed again,
	// answered and approved.
	pay(w.caseA, w.patient1, "CARDIOLOGY", 12000, "EUR", at(8*h))
	submit(w.caseA, "EU-2031-AAAAAA", w.patient1, "CARDIOLOGY", at(8*h), vocab.AIProcessing)
	// Its request's price arrives before the request.
	requestA := uuid.NewString()
	price(requestA, w.caseA, 1500, false, at(8*h))
	ai(requestA, w.caseA, 800, 200, "", at(8*h))
	status(w.caseA, "EU-2031-AAAAAA", vocab.AIProcessing, vocab.AwaitingAssignment, at(9*h))
	a1 := assign(w.caseA, w.pro1, at(10*h))
	status(w.caseA, "EU-2031-AAAAAA", vocab.AwaitingAssignment, vocab.Assigned, at(10*h))
	add(ev(t, events.AssignmentExpiredV1, w.caseA, events.AssignmentEnded{CaseID: w.caseA, ProfessionalID: w.pro1,
		AssignmentID: a1, Timestamp: at(34 * h)}))
	status(w.caseA, "EU-2031-AAAAAA", vocab.Assigned, vocab.AwaitingAssignment, at(34*h))
	assign(w.caseA, w.pro2, at(35*h))
	status(w.caseA, "EU-2031-AAAAAA", vocab.AwaitingAssignment, vocab.Assigned, at(35*h))
	opinionA := uuid.NewString()
	add(ev(t, events.OpinionSubmittedV1, w.caseA, events.OpinionSubmitted{CaseID: w.caseA, OpinionID: opinionA,
		ProfessionalID: w.pro2, Timestamp: at(36 * h)}))
	add(ev(t, events.OpinionApprovedV1, w.caseA, events.OpinionApproved{CaseID: w.caseA, OpinionID: opinionA,
		ProfessionalID: w.pro2, AuthorLevel: vocab.Senior, Timestamp: at(37 * h)}))
	status(w.caseA, "EU-2031-AAAAAA", vocab.Assigned, vocab.Completed, at(37*h))

	// Case B, oncology, of the patient who will be erased: escalated,
	// claimed a day after submission, paid in francs and partly refunded.
	paymentB := pay(w.caseB, w.patient2, "ONCOLOGY", 20000, "CHF", at(9*h))
	submit(w.caseB, w.numberB, w.patient2, "ONCOLOGY", at(9*h), vocab.AIProcessing, vocab.AwaitingAssignment)
	add(ev(t, events.AssignmentEscalatedV1, w.caseB, events.AssignmentEscalated{CaseID: w.caseB, CaseNumber: w.numberB,
		WaitingSince: at(9 * h), Timestamp: at(20 * h)}))
	assign(w.caseB, w.pro1, at(33*h))
	refund := uuid.NewString()
	add(ev(t, events.PaymentRefundedV1, paymentB, events.PaymentRefunded{PaymentID: paymentB, RefundID: refund,
		CaseID: w.caseB, CustomerID: w.patient2, Amount: 5000, Currency: "CHF", Reason: "ADMIN", Timestamp: at(38 * h)}))

	// Case C, oncology, same patient, waiting in the pool.
	pay(w.caseC, w.patient2, "ONCOLOGY", 15000, "EUR", at(34*h))
	submit(w.caseC, "EU-2031-CCCCCC", w.patient2, "ONCOLOGY", at(34*h), vocab.AIProcessing, vocab.AwaitingAssignment)
	// An AI request for no case, priced after it.
	requestNone := uuid.NewString()
	ai(requestNone, "", 1000, 0, "", at(40*h))
	price(requestNone, "", 1000, false, at(40*h))

	w.beforeErasure = es
	es = nil
	add(ev(t, events.PatientErasedV1, w.patient2, events.PatientErased{PatientID: w.patient2, Timestamp: at(41 * h)}))
	for _, id := range []string{w.caseB, w.caseC} {
		add(ev(t, events.CaseErasedV1, id, events.CaseErased{CaseID: id, Timestamp: at(41 * h)}))
	}
	w.erasures = es
	es = nil
	// Case B's last step, its opinion and its AI request, priced first,
	// arrive after the erasure (retried events), with its id and number.
	requestB := uuid.NewString()
	price(requestB, w.caseB, 401, true, at(9*h))
	ai(requestB, w.caseB, 500, 0, "TIMEOUT", at(9*h))
	status(w.caseB, w.numberB, vocab.AwaitingAssignment, vocab.Assigned, at(33*h))
	add(ev(t, events.OpinionSubmittedV1, w.caseB, events.OpinionSubmitted{CaseID: w.caseB, OpinionID: uuid.NewString(),
		ProfessionalID: w.pro1, Timestamp: at(39 * h)}))
	w.late = es
	return w
}

// all is the whole history in order.
func (w world) all() []bus.Event {
	return slices.Concat(w.beforeErasure, w.erasures, w.late)
}
