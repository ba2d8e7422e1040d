package payouts_test

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

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payouts"
)

// june10 is "now" in the tests: May 2031 is over, June runs.
var june10 = time.Date(2031, 6, 10, 12, 0, 0, 0, time.UTC)

func may(day int) time.Time { return time.Date(2031, 5, day, 10, 0, 0, 0, time.UTC) }

const adminID = "0190a0a0-0000-7000-8000-0000000000ad"

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

type harness struct {
	t     *testing.T
	svc   *payouts.Service
	db    *sqldb.DB
	base  string
	clock *clock
	// tokens: "admin", "patient", and "pro:<id>" for any professional id.
}

type verifier struct{}

func (verifier) Verify(_ context.Context, token string) (authn.Principal, error) {
	switch {
	case token == "admin":
		return authn.Principal{Subject: adminID, Role: authn.RoleAdmin}, nil
	case token == "patient":
		return authn.Principal{Subject: "0190a0a0-0000-7000-8000-00000000000a", Role: authn.RolePatient}, nil
	case len(token) > 4 && token[:4] == "pro:":
		return authn.Principal{Subject: token[4:], Role: authn.RoleProfessional}, nil
	}
	return authn.Principal{}, io.EOF
}

func start(t *testing.T, db *sqldb.DB) *harness {
	t.Helper()
	if err := payouts.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	c := &clock{now: june10}
	svc, err := payouts.New(payouts.Config{DebtorName: "Second Opinion GmbH", DebtorIBAN: "DE89 3704 0044 0532 0130 00",
		DebtorBIC: "COBADEFFXXX", Now: c.Now},
		service.Deps{Region: "EU", DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler), DB: db, Bus: inproc.New()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: httpapi.Wrap(svc.Handler(), httpapi.Options{Service: payouts.Name, Verifier: verifier{}}),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &harness{t: t, svc: svc, db: db, base: "http://" + ln.Addr().String(), clock: c}
}

// approval is one opinion.approved as medical-opinion publishes it.
func approval(opinionID, author string, level vocab.Level, reviewer string, at time.Time) bus.Event {
	caseID := uuid.NewString()
	e, err := events.OpinionApprovedV1.New(events.MedicalOpinion, caseID, events.OpinionApproved{CaseID: caseID, OpinionID: opinionID,
		ProfessionalID: author, AuthorLevel: level, ReviewerID: reviewer, Timestamp: at})
	if err != nil {
		panic(err)
	}
	return e
}

// approve delivers an approval of a new opinion and returns its id.
func (h *harness) approve(author string, level vocab.Level, reviewer string, at time.Time) string {
	h.t.Helper()
	id := uuid.NewString()
	h.consume(approval(id, author, level, reviewer, at))
	return id
}

func (h *harness) consume(e bus.Event) {
	h.t.Helper()
	if err := h.svc.Consume(context.Background(), e); err != nil {
		h.t.Fatal(err)
	}
}

type response struct {
	code   int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (h *harness) do(token, method, path string, body any) response {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{code: res.StatusCode, header: res.Header, raw: raw}
	if res.StatusCode >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
		h.t.Errorf("%s %s: %d is not a problem: %s", method, path, res.StatusCode, raw)
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		_ = json.Unmarshal(raw, &out.body)
	}
	return out
}

// want checks r's status and returns r.
func (h *harness) want(r response, code int, what string) response {
	h.t.Helper()
	if r.code != code {
		h.t.Fatalf("%s: %d, want %d: %s", what, r.code, code, r.raw)
	}
	return r
}

// decode reads r's body into v.
func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.raw, &v); err != nil {
		t.Fatalf("%v: %s", err, r.raw)
	}
	return v
}

// outbox is the events of type typ queued, each held to its contract.
func (h *harness) outbox(typ string) []bus.Event {
	h.t.Helper()
	var out []bus.Event
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.Type != typ {
			continue
		}
		var err error
		switch typ {
		case events.PayoutBatchCreatedV1.Type:
			err = events.PayoutBatchCreatedV1.Describe().Check(e)
		case events.PayoutPaidV1.Type:
			err = events.PayoutPaidV1.Describe().Check(e)
		}
		if err != nil {
			h.t.Errorf("%s breaks its contract: %v", typ, err)
		}
		out = append(out, e)
	}
	return out
}

// count runs a COUNT query.
func (h *harness) count(q string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRow(q, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}
