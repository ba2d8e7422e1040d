package search

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/api/vocab"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The ids behind the harness's tokens.
const (
	patientA = "0190a0a0-0000-7000-8000-00000000000a"
	patientB = "0190a0a0-0000-7000-8000-00000000000b"
	proX     = "0190a0a0-0000-7000-8000-0000000000f0"
	proY     = "0190a0a0-0000-7000-8000-0000000000f1"
	adminID  = "0190a0a0-0000-7000-8000-0000000000ad"
)

var tokens = testkit.Tokens{
	"a":     {Subject: patientA, Role: authn.RolePatient},
	"b":     {Subject: patientB, Role: authn.RolePatient},
	"x":     {Subject: proX, Role: authn.RoleProfessional},
	"y":     {Subject: proY, Role: authn.RoleProfessional},
	"admin": {Subject: adminID, Role: authn.RoleAdmin},
	// A service identity searches nothing.
	"service:reporting": {Subject: "reporting", Role: authn.RoleService},
}

var start = time.Date(2030, 6, 3, 9, 0, 0, 0, time.UTC)

// cases stands in for case-management's CaseService.
type cases struct {
	patientv1connect.UnimplementedCaseServiceHandler
	mu    sync.Mutex
	cases map[string]*patientv1.CaseResponse
	down  bool
	reads []string // the ids read
}

func (c *cases) GetCase(_ context.Context, req *connect.Request[patientv1.GetCaseRequest]) (*connect.Response[patientv1.CaseResponse], error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}
	if req.Msg.Purpose != "search.index" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("purpose "+req.Msg.Purpose))
	}
	c.reads = append(c.reads, req.Msg.Id)
	got, ok := c.cases[req.Msg.Id]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("case not found"))
	}
	return connect.NewResponse(got), nil
}

type harness struct {
	t     *testing.T
	svc   *Service
	db    *sqldb.DB
	cases *cases
	base  string

	mu  sync.Mutex
	now time.Time
	n   int
}

func newHarness(t *testing.T, db *sqldb.DB) *harness {
	t.Helper()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, now: start, cases: &cases{cases: map[string]*patientv1.CaseResponse{}}}
	mux := http.NewServeMux()
	mux.Handle(patientv1connect.NewCaseServiceHandler(h.cases))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(patientv1connect.CaseServiceName)))
	peers := rpc.NewInProcess(mux)
	t.Cleanup(func() { peers.Close() })
	b := inproc.New()
	t.Cleanup(func() { b.Close() })
	svc, err := New(Config{TextInterval: time.Hour, Now: h.clock}, service.Deps{Region: "EU", DB: db, Bus: b, DataDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler),
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
	handler := httpapi.Wrap(svc.Handler(), httpapi.Options{Service: Name, Verifier: tokens})
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	h.base = "http://" + ln.Addr().String()
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

// tick advances the clock a second and returns the new time: each event
// gets a time of its own.
func (h *harness) tick() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(time.Second)
	return h.now
}

// consume delivers e as the bus would.
func (h *harness) consume(e bus.Event, err error) bus.Event {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := events.Check(e); err != nil {
		h.t.Fatal(err)
	}
	if err := h.svc.Consume(context.Background(), e); err != nil {
		h.t.Fatal(err)
	}
	return e
}

// newCase opens a case of patient with its text in case-management, and
// delivers case.created.
func (h *harness) newCase(patient, title, question string) (id, number string) {
	h.t.Helper()
	id = uuid.NewString()
	h.mu.Lock()
	h.n++
	number = fmt.Sprintf("EU-2030-%06d", h.n)
	h.mu.Unlock()
	h.cases.mu.Lock()
	h.cases.cases[id] = &patientv1.CaseResponse{Id: id, CaseNumber: number, CustomerId: patient, Title: title, Question: question}
	h.cases.mu.Unlock()
	h.consume(events.CaseCreatedV1.New("case-management", id, events.CaseCreated{CaseID: id, CustomerID: patient,
		CaseNumber: number, Timestamp: h.tick()}))
	return id, number
}

// status delivers case.status_changed to status.
func (h *harness) status(id string, to vocab.CaseStatus) {
	h.t.Helper()
	h.consume(events.CaseStatusChangedV1.New("case-management", id, events.CaseStatusChanged{CaseID: id, From: vocab.Draft,
		To: to, Trigger: "test", Timestamp: h.tick()}))
}

// pool takes case id of patient through submission into the pool.
func (h *harness) pool(id, patient string, specialty vocab.Specialty) {
	h.t.Helper()
	h.consume(events.CaseSubmittedV1.New("case-management", id, events.CaseSubmitted{CaseID: id, CustomerID: patient,
		Specialty: specialty, Urgency: vocab.Standard, Timestamp: h.tick()}))
	h.status(id, vocab.AwaitingAssignment)
	h.consume(events.CaseAwaitingAssignmentV1.New("case-management", id, events.CaseAwaitingAssignment{CaseID: id,
		CustomerID: patient, Specialty: specialty, Urgency: vocab.Standard, Language: "en", AgeBand: "30-39", Timestamp: h.clock()}))
}

// assign has pro claim case id, returning the assignment's id.
func (h *harness) assign(id, pro string) string {
	h.t.Helper()
	as := uuid.NewString()
	h.consume(events.CaseAssignedV1.New("case-assignment", id, events.CaseAssigned{CaseID: id, ProfessionalID: pro,
		AssignmentID: as, Deadline: h.clock().Add(48 * time.Hour), Timestamp: h.tick()}))
	h.status(id, vocab.Assigned)
	return as
}

// release has pro give case id back to the pool.
func (h *harness) release(id, pro, as string) {
	h.t.Helper()
	h.consume(events.AssignmentReleasedV1.New("case-assignment", id, events.AssignmentEnded{CaseID: id, ProfessionalID: pro,
		AssignmentID: as, Timestamp: h.tick()}))
	h.status(id, vocab.AwaitingAssignment)
}

func (h *harness) consent(patient string, granted bool, rev int) {
	h.t.Helper()
	c := events.ConsentGrantedV1
	if !granted {
		c = events.ConsentWithdrawnV1
	}
	h.consume(c.New("patient-consent", patient, events.ConsentChanged{PatientID: patient,
		Purpose: vocab.ConsentShareWithProfessionals, Version: "1", Revision: rev, Timestamp: h.tick()}))
}

// texts fetches every missing text.
func (h *harness) texts() {
	h.t.Helper()
	for {
		n, err := h.svc.fillTexts(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		if n < textBatch {
			return
		}
	}
}

type response struct {
	status int
	raw    []byte
	body   map[string]any
}

// get sends GET path as token ("" for none).
func (h *harness) get(token, path string) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.base+path, nil)
	if err != nil {
		h.t.Fatal(err)
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
	out := response{status: res.StatusCode, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	if res.StatusCode >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
		h.t.Errorf("GET %s: %d is not a problem: %s", path, res.StatusCode, raw)
	}
	return out
}

// results is a search's answer.
type results struct {
	Items      []CaseHit `json:"items"`
	NextCursor string    `json:"nextCursor"`
}

// search sends a search as token with the query parameters kv (name,
// value, …) and decodes its 200.
func (h *harness) search(token string, kv ...string) results {
	h.t.Helper()
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	r := h.get(token, "/api/v1/search/cases?"+q.Encode())
	if r.status != http.StatusOK {
		h.t.Fatalf("search %v as %q: %d %s", kv, token, r.status, r.raw)
	}
	var out results
	if err := json.Unmarshal(r.raw, &out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func hitIDs(r results) []string {
	out := make([]string, len(r.Items))
	for i, it := range r.Items {
		out[i] = it.ID
	}
	return out
}

// audits are the audit entries queued.
func (h *harness) audits() []kitaudit.Entry {
	h.t.Helper()
	var out []kitaudit.Entry
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.Type != kitaudit.Recorded.Type {
			continue
		}
		entry, err := kitaudit.Recorded.Decode(e)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, entry)
	}
	return out
}

// snapshot is the whole index as text, row by row: what a rebuild must
// give back.
func (h *harness) snapshot() string {
	h.t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT case_id, patient_id, case_number, specialty, urgency, language, age_band, pooled_at, status, status_at,
			assignee_id, assignment_id, assignment_at, shared, created_at, updated_at, words, title, question FROM cases ORDER BY case_id`,
		`SELECT case_id, title, question FROM case_texts ORDER BY case_id`,
		`SELECT patient_id, granted, revision, at FROM consents ORDER BY patient_id`,
	} {
		rows, err := h.db.QueryContext(context.Background(), q)
		if err != nil {
			h.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				h.t.Fatal(err)
			}
			for _, v := range vals {
				if t, ok := v.(time.Time); ok {
					v = t.UTC().Format(time.RFC3339Nano)
				}
				fmt.Fprintf(&b, "%v|", v)
			}
			b.WriteString("\n")
		}
		if err := rows.Close(); err != nil {
			h.t.Fatal(err)
		}
		b.WriteString("--\n")
	}
	return b.String()
}

// journal counts the journal's rows naming id.
func (h *harness) journal(id string) int {
	h.t.Helper()
	var n int
	err := h.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM journal WHERE aggregate_id = $1 OR envelope LIKE $2`,
		id, "%"+id+"%").Scan(&n)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// applyDirect runs e's handler in a transaction of its own, bypassing the
// inbox: a redelivery the inbox would have stopped.
func (h *harness) applyDirect(e bus.Event) {
	h.t.Helper()
	p := &projector{store: h.svc.store, log: slog.New(slog.DiscardHandler)}
	f := subscriptions.Bind(p).ByType[e.Type]
	if f == nil {
		h.t.Fatalf("no handler of %s", e.Type)
	}
	if err := h.db.InTx(context.Background(), func(tx *sql.Tx) error { return f(context.Background(), tx, e) }); err != nil {
		h.t.Fatal(err)
	}
}
