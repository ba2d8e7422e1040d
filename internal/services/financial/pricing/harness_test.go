package pricing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/google/uuid"

	contracts "github.com/secondopinion/platform/api/events"
	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	pricingclient "github.com/secondopinion/platform/internal/clients/pricing"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The ids behind the harness's tokens.
const (
	patientA = "0190a0a0-0000-7000-8000-00000000000a"
	patientB = "0190a0a0-0000-7000-8000-00000000000b"
	proID    = "0190a0a0-0000-7000-8000-0000000000f0"
	adminID  = "0190a0a0-0000-7000-8000-0000000000ad"
)

var tokens = testkit.Tokens{
	"a":     {Subject: patientA, Role: authn.RolePatient},
	"b":     {Subject: patientB, Role: authn.RolePatient},
	"pro":   {Subject: proID, Role: authn.RoleProfessional},
	"admin": {Subject: adminID, Role: authn.RoleAdmin},
	// payments redeems quotes; notification may not.
	"service:payments":     {Subject: "payments", Role: authn.RoleService},
	"service:notification": {Subject: "notification", Role: authn.RoleService},
}

var start = time.Date(2030, 6, 3, 9, 0, 0, 0, time.UTC)

// cases stands in for case-management's CaseService.
type cases struct {
	patientv1connect.UnimplementedCaseServiceHandler
	mu    sync.Mutex
	cases map[string]*patientv1.CaseResponse
	reads []string // the purposes of the reads
}

func (c *cases) GetCase(_ context.Context, req *connect.Request[patientv1.GetCaseRequest]) (*connect.Response[patientv1.CaseResponse], error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads = append(c.reads, req.Msg.Purpose)
	got, ok := c.cases[req.Msg.Id]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("case not found"))
	}
	return connect.NewResponse(got), nil
}

type harness struct {
	t       *testing.T
	svc     *Service
	db      *sqldb.DB
	dir     string
	cases   *cases
	handler http.Handler
	base    string
	mem     *rpc.InProcess

	mu  sync.Mutex
	now time.Time
}

func newHarness(t *testing.T, db *sqldb.DB) *harness {
	t.Helper()
	return newHarnessIn(t, db, t.TempDir(), Config{QuoteTTL: 30 * time.Minute})
}

// newHarnessIn runs the service over db with its data folder dir.
func newHarnessIn(t *testing.T, db *sqldb.DB, dir string, cfg Config) *harness {
	t.Helper()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, dir: dir, now: start, cases: &cases{cases: map[string]*patientv1.CaseResponse{}}}
	mux := http.NewServeMux()
	mux.Handle(patientv1connect.NewCaseServiceHandler(h.cases))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(patientv1connect.CaseServiceName)))
	peers := rpc.NewInProcess(mux)
	t.Cleanup(func() { peers.Close() })
	b := inproc.New()
	t.Cleanup(func() { b.Close() })
	cfg.Now = h.clock
	svc, err := New(cfg, service.Deps{Region: "EU", DB: db, Bus: b, DataDir: dir, Log: slog.New(slog.DiscardHandler),
		Peer: func(target string) (service.Peer, error) {
			if target != "case-management" {
				return service.Peer{}, errors.New("no such peer: " + target)
			}
			return service.Peer{HTTP: peers.Client(), URL: rpc.BaseURL}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	t.Cleanup(h.checkContracts)
	h.handler = httpapi.Wrap(svc.Handler(), httpapi.Options{Service: Name, Verifier: tokens, Idempotency: idempotency.NewSQL(db)})
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: h.handler, Protocols: rpc.Protocols(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	h.base = "http://" + ln.Addr().String()
	h.mem = rpc.NewInProcess(h.handler)
	t.Cleanup(func() { h.mem.Close() })
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

// newCase makes a case of patient.
func (h *harness) newCase(patient, number, specialty, urgency, status string) string {
	id := uuid.NewString()
	h.cases.mu.Lock()
	defer h.cases.mu.Unlock()
	h.cases.cases[id] = &patientv1.CaseResponse{Id: id, CaseNumber: number, CustomerId: patient, Specialty: specialty,
		Urgency: urgency, Status: status, Title: "a title that is health data"}
	return id
}

// pricing is the client payments uses, presenting tok ("" for none).
func (h *harness) pricing(tok string) *pricingclient.Client {
	c := h.mem.Client()
	if tok != "" {
		c = rpc.WithIdentity(c, func(context.Context) (string, time.Time, error) { return tok, time.Now().Add(time.Hour), nil })
	}
	return pricingclient.New(service.Peer{HTTP: c, URL: rpc.BaseURL})
}

type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (h *harness) do(token, method, path string, body any) response {
	h.t.Helper()
	return h.send(token, "", method, path, body)
}

// send is do with an Idempotency-Key ("" for none).
func (h *harness) send(token, key, method, path string, body any) response {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.base+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	if res.StatusCode >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
		h.t.Errorf("%s %s: %d is not a problem: %s", method, path, res.StatusCode, raw)
	}
	return out
}

// into decodes r's body into v, failing on a status other than want.
func (h *harness) into(r response, want int, v any) {
	h.t.Helper()
	if r.status != want {
		h.t.Fatalf("status %d, want %d: %s", r.status, want, r.raw)
	}
	if err := json.Unmarshal(r.raw, v); err != nil {
		h.t.Fatalf("%v: %s", err, r.raw)
	}
}

// quote asks for a quote as tok, for caseID with code.
func (h *harness) quote(tok, caseID, code string) (Quote, response) {
	h.t.Helper()
	body := map[string]any{"caseId": caseID}
	if code != "" {
		body["discountCode"] = code
	}
	r := h.do(tok, "POST", "/api/v1/pricing/quotes", body)
	var q Quote
	if r.status == http.StatusCreated {
		h.into(r, http.StatusCreated, &q)
	}
	return q, r
}

// errorAt is where r's first error is located, and its message.
func errorAt(r response) (string, string) {
	errs, _ := r.body["errors"].([]any)
	if len(errs) == 0 {
		return "", ""
	}
	e, _ := errs[0].(map[string]any)
	loc, _ := e["location"].(string)
	msg, _ := e["message"].(string)
	return loc, msg
}

// outbox is the events queued, of type typ ("" for all).
func (h *harness) outbox(typ string) []bus.Event {
	h.t.Helper()
	var out []bus.Event
	for _, e := range testkit.Outbox(h.t, h.db) {
		if typ == "" || e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// audits are the audit entries queued.
func (h *harness) audits() []kitaudit.Entry {
	h.t.Helper()
	var out []kitaudit.Entry
	for _, e := range h.outbox(kitaudit.Recorded.Type) {
		entry, err := kitaudit.Recorded.Decode(e)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, entry)
	}
	return out
}

func (h *harness) checkContracts() {
	for _, e := range h.outbox("") {
		if e.Type == kitaudit.Recorded.Type {
			continue
		}
		if err := contracts.Check(e); err != nil {
			h.t.Errorf("queued an event its contract does not describe: %v", err)
		}
	}
}

// consume delivers e as the bus would.
func (h *harness) consume(e bus.Event, err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.svc.Consume(context.Background(), e); err != nil {
		h.t.Fatal(err)
	}
}
