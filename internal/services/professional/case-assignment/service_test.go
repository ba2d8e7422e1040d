package caseassignment

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	contracts "github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// recorder is a bus that keeps what is published and the one subscriber.
type recorder struct {
	mu        sync.Mutex
	published []bus.Event
	handler   bus.Handler
	broken    []error // events their contract does not describe
}

func (r *recorder) Publish(_ context.Context, events ...bus.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range events {
		if err := contracts.Check(e); err != nil {
			r.broken = append(r.broken, err)
		}
	}
	r.published = append(r.published, events...)
	return nil
}

func (r *recorder) Subscribe(_ context.Context, _ string, h bus.Handler) (bus.Subscription, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handler = h
	return r, nil
}

func (r *recorder) Ping(context.Context) error { return nil }
func (r *recorder) Close() error               { return nil }

// clock is the injected clock; tests move it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const (
	adminID   = "0190a0a0-0000-7000-8000-0000000000ad"
	patientID = "0190a0a0-0000-7000-8000-0000000000aa"
)

// tokens guards a testkit.Tokens that tests extend while the server
// verifies with it.
type tokens struct {
	mu sync.Mutex
	m  testkit.Tokens
}

func (t *tokens) Verify(ctx context.Context, token string) (authn.Principal, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m.Verify(ctx, token)
}

func (t *tokens) add(token string, p authn.Principal) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[token] = p
}

type harness struct {
	t      *testing.T
	svc    *Service
	db     *sqldb.DB
	bus    *recorder
	clock  *clock
	tokens *tokens
	base   string
	client *http.Client
}

func newHarness(t *testing.T, db *sqldb.DB, cfg Config) *harness {
	t.Helper()
	h := build(t, db, cfg)
	h.serve(h.tokens)
	return h
}

// build is newHarness without the server, for tests that serve with a
// verifier of their own.
func build(t *testing.T, db *sqldb.DB, cfg Config) *harness {
	t.Helper()
	// The app keeps Idempotency-Key records in the service's store when
	// there is no Redis; so do the tests, to see an erasure forget them.
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if err := idempotency.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, bus: &recorder{}, clock: &clock{now: time.Date(2031, 5, 1, 8, 0, 0, 0, time.UTC)},
		tokens: &tokens{m: testkit.Tokens{
			"admin":   {Subject: adminID, Role: authn.RoleAdmin},
			"patient": {Subject: patientID, Role: authn.RolePatient},
		}}}
	h.svc = h.newService(cfg)
	t.Cleanup(func() {
		h.bus.mu.Lock()
		defer h.bus.mu.Unlock()
		for _, err := range h.bus.broken {
			t.Errorf("published an event its contract does not describe: %v", err)
		}
	})
	return h
}

// serve starts the service's handler behind the platform middleware with
// verifier v.
func (h *harness) serve(v authn.Verifier) {
	t := h.t
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: httpapi.Wrap(h.svc.Handler(), httpapi.Options{Service: Name, Verifier: v,
		Idempotency: idempotency.NewSQL(h.db)}),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	h.base = "http://" + ln.Addr().String()
	h.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 60 * time.Second}
	t.Cleanup(h.client.CloseIdleConnections)
}

// newService builds another replica over the harness's store and clock.
func (h *harness) newService(cfg Config) *Service {
	h.t.Helper()
	cfg.Now = h.clock.Now
	svc, err := New(cfg, depsOf(h))
	if err != nil {
		h.t.Fatal(err)
	}
	return svc
}

func depsOf(h *harness) service.Deps {
	return service.Deps{Region: "EU", Log: slog.New(slog.DiscardHandler), DB: h.db, Bus: h.bus}
}

type response struct {
	status int
	body   map[string]any
}

// do calls as the holder of token; "" is anonymous.
func (h *harness) do(token, method, path string, body any) response {
	h.t.Helper()
	res, err := h.call(token, method, path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// call is do for goroutines: it returns its error instead of failing.
func (h *harness) call(token, method, path string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := h.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	out := response{status: res.StatusCode}
	if err := json.NewDecoder(res.Body).Decode(&out.body); err != nil {
		return out, err
	}
	return out, nil
}

// feed hands a new event to the service's consumer as the bus would, and
// returns it.
func (h *harness) feed(typ, aggregate string, payload map[string]any) bus.Event {
	h.t.Helper()
	e, err := bus.New("test", typ, aggregate, payload)
	if err != nil {
		h.t.Fatal(err)
	}
	h.deliver(e)
	return e
}

// deliver hands e to the service's consumer, again if it was before.
func (h *harness) deliver(e bus.Event) {
	h.t.Helper()
	if err := h.svc.Consume(context.Background(), e); err != nil {
		h.t.Fatalf("%s: %v", e.Type, err)
	}
	var status string
	err := h.db.QueryRow(`SELECT status FROM inbox WHERE event_id = $1`, e.ID).Scan(&status)
	if err != nil || status != "done" {
		h.t.Fatalf("%s not handled: %s %v", e.Type, status, err)
	}
}

// pro makes a professional known and verified, with a token of the same
// name; it returns the professional's id.
func (h *harness) pro(token, level string, specialties, languages []string) string {
	h.t.Helper()
	id := uuid.NewString()
	h.tokens.add(token, authn.Principal{Subject: id, Role: authn.RoleProfessional})
	at := h.clock.Now()
	h.feed("professional.registered", id, map[string]any{"professionalId": id, "proNumber": "PRO-EU-000001",
		"specialties": specialties, "languages": languages, "country": "DE", "level": "JUNIOR", "timestamp": at})
	h.feed("professional.verified", id, map[string]any{"professionalId": id, "timestamp": at})
	if level != "JUNIOR" {
		h.feed("professional.level_changed", id, map[string]any{"professionalId": id, "from": "JUNIOR", "to": level, "timestamp": at})
	}
	return id
}

// enter puts a new case of a new patient, who consented to share it with
// professionals, into the pool now and returns its id.
func (h *harness) enter(specialty, urgency, language string) string {
	h.t.Helper()
	patient := uuid.NewString()
	h.consent("consent.granted", patient, 1)
	return h.enterOf(patient, specialty, urgency, language)
}

// enterOf puts a new case of patient into the pool now, whatever their
// consent, and returns its id.
func (h *harness) enterOf(patient, specialty, urgency, language string) string {
	h.t.Helper()
	id := uuid.NewString()
	h.feed("case.awaiting_assignment", id, map[string]any{"caseId": id, "customerId": patient, "caseNumber": "EU-2031-" + id[:6],
		"specialty": specialty, "urgency": urgency, "language": language, "ageBand": "40-49", "timestamp": h.clock.Now()})
	return id
}

// consent feeds consent.granted or consent.withdrawn of patient's
// SHARE_WITH_PROFESSIONALS at revision, made now, and returns the event.
func (h *harness) consent(typ, patient string, revision int) bus.Event {
	h.t.Helper()
	return h.feed(typ, patient, map[string]any{"patientId": patient, "purpose": "SHARE_WITH_PROFESSIONALS",
		"version": "2026-12-01", "revision": revision, "timestamp": h.clock.Now()})
}

// outbox returns the payloads of the events of a type in the outbox,
// oldest first, each held to its contract.
func (h *harness) outbox(typ string) []map[string]any {
	h.t.Helper()
	var out []map[string]any
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.Type != typ {
			continue
		}
		var p map[string]any
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			h.t.Fatalf("outbox %s: %v", e.Payload, err)
		}
		if err := contracts.Check(e); err != nil {
			h.t.Errorf("queued an event its contract does not describe: %v", err)
		}
		out = append(out, p)
	}
	return out
}

func items(res response) []map[string]any {
	raw, _ := res.body["items"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, r := range raw {
		out = append(out, r.(map[string]any))
	}
	return out
}

func caseIDs(res response) []string {
	var out []string
	for _, it := range items(res) {
		out = append(out, it["caseId"].(string))
	}
	return out
}

func tokenOf(id string) authn.Principal {
	return authn.Principal{Subject: id, Role: authn.RoleProfessional}
}
