package casemanagement

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	contracts "github.com/secondopinion/platform/api/events"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/google/uuid"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// patients is a stand-in patient-identity that knows a fixed set of ids,
// served over the real gRPC client path.
type patients struct {
	patientv1connect.UnimplementedPatientServiceHandler
	known map[string]bool
}

func (p patients) GetPatient(_ context.Context, req *connect.Request[patientv1.GetPatientRequest]) (*connect.Response[patientv1.PatientResponse], error) {
	if !p.known[req.Msg.Id] {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("patient not found"))
	}
	return connect.NewResponse(&patientv1.PatientResponse{Id: req.Msg.Id, DateOfBirth: "1990-12-10"}), nil
}

// records is medical-records' RecordsService with a checklist: a case
// lacks what is listed for it in missing.
type records struct {
	patientv1connect.UnimplementedRecordsServiceHandler
	mu      sync.Mutex
	missing map[string][]string
}

func (r *records) Checklist(_ context.Context, req *connect.Request[patientv1.ChecklistRequest]) (*connect.Response[patientv1.ChecklistResponse], error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return connect.NewResponse(&patientv1.ChecklistResponse{Missing: r.missing[req.Msg.CaseId]}), nil
}

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

type harness struct {
	t       *testing.T
	svc     *Service
	db      *sqldb.DB
	bus     *recorder
	peer    *rpc.InProcess
	records *records
	handler http.Handler // the wrapped service handler
	base    string
	logs    *testkit.Buffer
	patient string
	other   string // another patient patient-identity knows
	token   string // the caller of do: the patient unless a test changes it
}

// proID is the professional of the "pro" token.
const proID = "0190a0a0-0000-7000-8000-0000000000fe"

// tokens stands in for the auth service: "patient:<id>" is that patient,
// "admin" and "pro" an admin and a professional, "service:<name>" a
// service.
type tokens struct{}

func (tokens) Verify(_ context.Context, token string) (authn.Principal, error) {
	if id, ok := strings.CutPrefix(token, "patient:"); ok {
		return authn.Principal{Subject: id, Role: authn.RolePatient}, nil
	}
	switch token {
	case "admin":
		return authn.Principal{Subject: "0190a0a0-0000-7000-8000-0000000000ad", Role: authn.RoleAdmin}, nil
	case "pro":
		return authn.Principal{Subject: proID, Role: authn.RoleProfessional}, nil
	}
	if name, ok := strings.CutPrefix(token, "service:"); ok {
		return authn.Principal{Subject: name, Role: authn.RoleService}, nil
	}
	return authn.Principal{}, errors.New("unknown test token")
}

// ticking is a clock in 2031 that moves a second per reading, so cases
// are created in a known order and the year proves the clock is used.
func ticking() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2031, 5, 1, 8, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func newHarness(t *testing.T, db *sqldb.DB, p Pipeline) *harness {
	t.Helper()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	// As the app does, for the Idempotency-Key records an erasure forgets.
	if err := idempotency.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, bus: &recorder{}, logs: &testkit.Buffer{}, patient: uuid.NewString(), other: uuid.NewString()}
	h.token = "patient:" + h.patient
	mux := http.NewServeMux()
	mux.Handle(patientv1connect.NewPatientServiceHandler(patients{known: map[string]bool{h.patient: true, h.other: true}}))
	h.records = &records{missing: map[string][]string{}}
	mux.Handle(patientv1connect.NewRecordsServiceHandler(h.records))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(patientv1connect.PatientServiceName, patientv1connect.RecordsServiceName)))
	h.peer = rpc.NewInProcess(mux)
	t.Cleanup(func() { h.peer.Close() })
	svc, err := New(Config{Pipeline: p, Now: ticking()}, service.Deps{
		Region: "EU",
		Log:    slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		DB:     db,
		Bus:    h.bus,
		Peer: func(target string) (service.Peer, error) {
			if target != "patient-identity" && target != "medical-records" {
				return service.Peer{}, fmt.Errorf("unexpected peer %s", target)
			}
			return service.Peer{HTTP: h.peer.Client(), URL: rpc.BaseURL}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	t.Cleanup(func() {
		for _, err := range h.bus.broken {
			t.Errorf("published an event its contract does not describe: %v", err)
		}
	})
	ln := testkit.Listen(t)
	h.handler = httpapi.Wrap(svc.Handler(), httpapi.Options{Service: Name, Verifier: tokens{}, Idempotency: idempotency.NewSQL(db)})
	srv := &http.Server{Handler: h.handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	h.base = "http://" + ln.Addr().String()
	return h
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func (h *harness) do(method, path string, body any) response {
	h.t.Helper()
	return h.doAs(h.token, method, path, body)
}

// doAs calls as the holder of token; "" is anonymous.
func (h *harness) doAs(token, method, path string, body any) response {
	h.t.Helper()
	return h.send(token, "", method, path, body)
}

// send is doAs with an Idempotency-Key, unless key is "".
func (h *harness) send(token, key, method, path string, body any) response {
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
	if key != "" {
		req.Header.Set(idempotency.Header, key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	out := response{status: res.StatusCode, header: res.Header}
	if err := json.NewDecoder(res.Body).Decode(&out.body); err != nil {
		h.t.Fatalf("%s %s: decode: %v", method, path, err)
	}
	return out
}

const (
	title    = "Persistent headaches"
	question = "Does the MRI show anything that needs surgery?"
)

func (h *harness) newCase() map[string]any {
	h.t.Helper()
	res := h.do("POST", "/api/v1/cases", map[string]any{
		"customerId": h.patient, "specialty": "NEUROLOGY", "title": title, "question": question,
	})
	if res.status != http.StatusCreated {
		h.t.Fatalf("create: %d %v", res.status, res.body)
	}
	return res.body
}

// outbox returns the stored domain events of a case in order.
func (h *harness) outbox(caseID string) []bus.Event {
	h.t.Helper()
	var out []bus.Event
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.AggregateID != caseID || e.Type == kitaudit.Recorded.Type {
			continue
		}
		if strings.Contains(string(e.Payload), title) || strings.Contains(string(e.Payload), question) {
			h.t.Errorf("%s carries health data: %s", e.Type, e.Payload)
		}
		out = append(out, e)
	}
	return out
}

func types(evs []bus.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestService(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		for name, test := range map[string]func(*testing.T, *harness){
			"create and read":   testCreate,
			"bad input":         testBadInput,
			"status not found":  testStatusNotFound,
			"list":              testList,
			"submit and cancel": testSubmitCancel,
			"events":            testEvents,
			"run":               testRun,
			"peer down":         testPeerDown,
			"incomplete":        testIncomplete,
			"access":            testAccess,
			"assignee":          testAssignee,
			"case service":      testCaseService,
			"case ids":          testCaseIDs,
			"erasure":           testErasure,
			"erasure race":      testErasureRace,
			"export":            testExport,
		} {
			t.Run(name, func(t *testing.T) { test(t, newHarness(t, db, Pipeline{})) })
		}
		t.Run("full pipeline", func(t *testing.T) { testFullPipeline(t, newHarness(t, db, Pipeline{Payment: true, AI: true})) })
		t.Run("refunds", func(t *testing.T) { testRefunds(t, newHarness(t, db, Pipeline{Payment: true, AI: true})) })
	})
}

var numberPattern = regexp.MustCompile(`^EU-\d{4}-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$`)

func testCreate(t *testing.T, h *harness) {
	res := h.do("POST", "/api/v1/cases", map[string]any{
		"customerId": h.patient, "specialty": "NEUROLOGY", "title": title, "question": question,
	})
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %v", res.status, res.body)
	}
	c := res.body
	id, number := c["id"].(string), c["caseNumber"].(string)
	if !numberPattern.MatchString(number) || !strings.HasPrefix(number, "EU-2031-") {
		t.Errorf("case number %q", number)
	}
	if res.header.Get("Location") != "/api/v1/cases/"+id {
		t.Errorf("Location %q", res.header.Get("Location"))
	}
	for k, v := range map[string]any{"customerId": h.patient, "specialty": "NEUROLOGY", "urgency": "STANDARD",
		"title": title, "question": question, "status": "DRAFT"} {
		if c[k] != v {
			t.Errorf("%s = %v, want %v", k, c[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339, c["createdAt"].(string)); err != nil || c["createdAt"] != c["updatedAt"] {
		t.Errorf("times %v %v", c["createdAt"], c["updatedAt"])
	}

	got := h.do("GET", "/api/v1/cases/"+id, nil)
	tl, _ := got.body["timeline"].([]any)
	if got.status != 200 || got.body["caseNumber"] != number || len(tl) != 1 {
		t.Fatalf("get: %d %v", got.status, got.body)
	}
	if e := tl[0].(map[string]any); e["to"] != "DRAFT" || e["trigger"] != "create" || e["from"] != nil {
		t.Errorf("timeline entry %v", e)
	}

	st := h.do("GET", "/api/v1/cases/"+number+"/status", nil)
	want := map[string]any{"caseNumber": number, "status": "DRAFT", "lastUpdated": c["updatedAt"]}
	if st.status != 200 || fmt.Sprint(st.body) != fmt.Sprint(want) {
		t.Errorf("status: %d %v, want %v", st.status, st.body, want)
	}

	evs := h.outbox(id)
	if len(evs) != 1 || evs[0].Type != "case.created" || evs[0].AggregateID != id || evs[0].ServiceID != Name {
		t.Fatalf("outbox %v", types(evs))
	}
	var payload map[string]any
	if err := json.Unmarshal(evs[0].Payload, &payload); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(payload))
	if !slices.Equal(keys, []string{"caseId", "caseNumber", "customerId", "timestamp"}) ||
		payload["caseId"] != id || payload["caseNumber"] != number || payload["customerId"] != h.patient {
		t.Errorf("case.created payload %v", payload)
	}
}

func fieldOf(res response) string {
	errs, _ := res.body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	loc, _ := errs[0].(map[string]any)["location"].(string)
	return loc
}

func testBadInput(t *testing.T, h *harness) {
	good := map[string]any{"customerId": h.patient, "specialty": "NEUROLOGY", "title": title, "question": question}
	with := func(k string, v any) map[string]any {
		m := maps.Clone(good)
		m[k] = v
		return m
	}
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"unknown customer", with("customerId", uuid.NewString()), "body.customerId"},
		{"malformed customer", with("customerId", "nobody"), "body.customerId"},
		{"unknown specialty", with("specialty", "ASTROLOGY"), "body.specialty"},
		{"short title", with("title", "ab"), "body.title"},
		{"short question", with("question", "why?"), "body.question"},
		{"bad urgency", with("urgency", "ASAP"), "body.urgency"},
		{"unknown field", with("priority", 1), "body.priority"},
	}
	for _, tt := range tests {
		// As an admin: a patient naming another customer is refused first.
		res := h.doAs("admin", "POST", "/api/v1/cases", tt.body)
		if res.status != http.StatusUnprocessableEntity || fieldOf(res) != tt.field {
			t.Errorf("%s: %d %v, want 422 on %s", tt.name, res.status, res.body, tt.field)
		}
	}
	urgent := h.do("POST", "/api/v1/cases", with("urgency", "URGENT"))
	if urgent.status != http.StatusCreated || urgent.body["urgency"] != "URGENT" {
		t.Errorf("urgent case: %d %v", urgent.status, urgent.body)
	}
}

func testStatusNotFound(t *testing.T, h *harness) {
	for _, n := range []string{"EU-2031-ZZZZZZ", "not-a-number", "EU-2031-OOOOOO"} {
		if res := h.do("GET", "/api/v1/cases/"+n+"/status", nil); res.status != http.StatusNotFound || res.body["title"] == nil {
			t.Errorf("status of %s: %d %v, want a 404 problem", n, res.status, res.body)
		}
	}
	if res := h.do("GET", "/api/v1/cases/"+uuid.NewString(), nil); res.status != http.StatusNotFound {
		t.Errorf("unknown case: %d", res.status)
	}
}

func testList(t *testing.T, h *harness) {
	var made []string
	for range 5 {
		made = append(made, h.newCase()["id"].(string))
	}
	slices.Reverse(made) // newest first
	var listed []string
	path := "/api/v1/cases?limit=2&customerId=" + h.patient
	pages := 0
	for cursor := ""; ; {
		res := h.do("GET", path+"&cursor="+cursor, nil)
		if res.status != 200 {
			t.Fatalf("list: %d %v", res.status, res.body)
		}
		pages++
		for _, it := range res.body["items"].([]any) {
			listed = append(listed, it.(map[string]any)["id"].(string))
		}
		next, _ := res.body["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if pages != 3 || !slices.Equal(listed, made) {
		t.Errorf("%d pages listing %v, want 3 pages listing %v", pages, listed, made)
	}
	empty := h.doAs("admin", "GET", "/api/v1/cases?customerId="+uuid.NewString(), nil)
	if items, ok := empty.body["items"].([]any); empty.status != 200 || !ok || len(items) != 0 {
		t.Errorf("empty list: %d %v", empty.status, empty.body)
	}
	for q, field := range map[string]string{
		"limit=101&customerId=" + h.patient:      "query.limit",
		"customerId=nobody":                      "query.customerId",
		"cursor=garbage&customerId=" + h.patient: "query.cursor",
	} {
		if res := h.do("GET", "/api/v1/cases?"+q, nil); res.status != 422 || fieldOf(res) != field {
			t.Errorf("list?%s: %d %v, want 422 on %s", q, res.status, res.body, field)
		}
	}
}

func testSubmitCancel(t *testing.T, h *harness) {
	id := h.newCase()["id"].(string)
	res := h.do("POST", "/api/v1/cases/"+id+"/submit", nil)
	if res.status != 200 || res.body["status"] != "AWAITING_ASSIGNMENT" {
		t.Fatalf("submit: %d %v", res.status, res.body)
	}
	again := h.do("POST", "/api/v1/cases/"+id+"/submit", nil)
	if again.status != http.StatusConflict || again.body["title"] != "Invalid case status transition" {
		t.Errorf("second submit: %d %v", again.status, again.body)
	}
	res = h.do("POST", "/api/v1/cases/"+id+"/cancel", map[string]any{"reason": "found a doctor nearby"})
	if res.status != 200 || res.body["status"] != "CANCELLED" {
		t.Fatalf("cancel: %d %v", res.status, res.body)
	}
	if res := h.do("POST", "/api/v1/cases/"+id+"/cancel", nil); res.status != http.StatusConflict {
		t.Errorf("cancel of a cancelled case: %d", res.status)
	}
	tl := h.do("GET", "/api/v1/cases/"+id, nil).body["timeline"].([]any)
	var path []string
	for _, e := range tl {
		m := e.(map[string]any)
		path = append(path, fmt.Sprint(m["to"], "/", m["trigger"]))
	}
	want := []string{"DRAFT/create", "SUBMITTED/submit", "AWAITING_ASSIGNMENT/submit", "CANCELLED/cancel"}
	if !slices.Equal(path, want) || tl[3].(map[string]any)["note"] != "found a doctor nearby" {
		t.Errorf("timeline %v, want %v", tl, want)
	}
	evs := h.outbox(id)
	wantTypes := []string{"case.created", "case.status_changed", "case.submitted", "case.status_changed", "case.awaiting_assignment",
		"case.status_changed", "case.cancelled"}
	if !slices.Equal(types(evs), wantTypes) {
		t.Errorf("events %v, want %v", types(evs), wantTypes)
	}
	for _, e := range evs {
		if strings.Contains(string(e.Payload), "doctor nearby") {
			t.Errorf("%s carries the cancel reason", e.Type)
		}
	}
	var submitted map[string]any
	_ = json.Unmarshal(evs[2].Payload, &submitted)
	if submitted["specialty"] != "NEUROLOGY" || submitted["urgency"] != "STANDARD" || submitted["customerId"] != h.patient {
		t.Errorf("case.submitted payload %v", submitted)
	}
	if res := h.do("POST", "/api/v1/cases/"+uuid.NewString()+"/submit", nil); res.status != http.StatusNotFound {
		t.Errorf("submit of an unknown case: %d", res.status)
	}
}

// testIncomplete: a case lacking records of its checklist is not
// submitted unless the patient confirms they have nothing more.
func testIncomplete(t *testing.T, h *harness) {
	id := h.newCase()["id"].(string)
	h.records.mu.Lock()
	h.records.missing[id] = []string{"PATHOLOGY_REPORT", "IMAGING_REPORT"}
	h.records.mu.Unlock()
	for _, body := range []any{nil, map[string]any{}, map[string]any{"confirmIncomplete": false}} {
		res := h.do("POST", "/api/v1/cases/"+id+"/submit", body)
		if res.status != http.StatusConflict || res.body["title"] != "Records missing" ||
			!strings.Contains(fmt.Sprint(res.body["detail"]), "PATHOLOGY_REPORT, IMAGING_REPORT") {
			t.Errorf("submit of an incomplete case with %v: %d %v", body, res.status, res.body)
		}
	}
	if got := h.do("GET", "/api/v1/cases/"+id, nil).body["status"]; got != "DRAFT" {
		t.Errorf("refused submission left the case %v", got)
	}
	res := h.do("POST", "/api/v1/cases/"+id+"/submit", map[string]any{"confirmIncomplete": true})
	if res.status != 200 || res.body["status"] == "DRAFT" {
		t.Errorf("confirmed submission: %d %v", res.status, res.body)
	}
}

func event(t *testing.T, typ, caseID string, payload map[string]any) bus.Event {
	t.Helper()
	payload["caseId"] = caseID
	e, err := bus.New("case-assignment", typ, caseID, payload)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func testEvents(t *testing.T, h *harness) {
	ctx := context.Background()
	id := h.newCase()["id"].(string)
	if res := h.do("POST", "/api/v1/cases/"+id+"/submit", nil); res.status != 200 {
		t.Fatalf("submit: %d", res.status)
	}
	assigned := event(t, "case.assigned", id, map[string]any{"professionalId": uuid.NewString()})
	submitted := event(t, "opinion.submitted", id, map[string]any{"reviewRequired": false})
	approved := event(t, "opinion.approved", id, map[string]any{})
	for _, e := range []bus.Event{assigned, assigned, submitted, approved, approved, assigned} {
		if err := h.svc.Consume(ctx, e); err != nil {
			t.Fatalf("handle %s: %v", e.Type, err)
		}
	}
	res := h.do("GET", "/api/v1/cases/"+id, nil)
	if res.body["status"] != "COMPLETED" {
		t.Fatalf("status %v, want COMPLETED", res.body["status"])
	}
	var steps []string
	for _, e := range res.body["timeline"].([]any) {
		m := e.(map[string]any)
		steps = append(steps, fmt.Sprint(m["to"], "/", m["trigger"], "/", m["eventId"]))
	}
	want := []string{"DRAFT/create/<nil>", "SUBMITTED/submit/<nil>", "AWAITING_ASSIGNMENT/submit/<nil>",
		"ASSIGNED/case.assigned/" + assigned.ID, "COMPLETED/opinion.approved/" + approved.ID}
	if !slices.Equal(steps, want) {
		t.Errorf("timeline\n%v\nwant\n%v", steps, want)
	}
	if got := types(h.outbox(id)); got[len(got)-1] != "case.completed" {
		t.Errorf("last event %v, want case.completed", got)
	}

	// An event ahead of the case is refused and parked for retry, not lost.
	draft := h.newCase()["id"].(string)
	early := event(t, "case.assigned", draft, map[string]any{})
	if err := h.svc.Consume(ctx, early); err != nil {
		t.Fatal(err)
	}
	var status string
	if err := h.db.QueryRow(`SELECT status FROM inbox WHERE event_id = $1`, early.ID).Scan(&status); err != nil || status != "retry" {
		t.Errorf("early event inbox status %q, %v; want retry", status, err)
	}
	if st := h.do("GET", "/api/v1/cases/"+draft, nil).body["status"]; st != "DRAFT" {
		t.Errorf("early event moved the case to %v", st)
	}
}

// testRun checks the wiring: Run subscribes the consumer and relays the
// outbox to the bus, and returns cleanly when stopped.
func testRun(t *testing.T, h *harness) {
	id := h.newCase()["id"].(string)
	h.do("POST", "/api/v1/cases/"+id+"/submit", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx) }()
	deadline := time.After(10 * time.Second)
	for {
		h.bus.mu.Lock()
		subscribed, n := h.bus.handler != nil, len(h.bus.published)
		h.bus.mu.Unlock()
		if subscribed && n > 0 {
			break
		}
		select {
		case <-deadline:
			t.Fatal("Run neither subscribed nor relayed")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := h.bus.handler(ctx, event(t, "case.assigned", id, map[string]any{})); err != nil {
		t.Fatal(err)
	}
	if st := h.do("GET", "/api/v1/cases/"+id, nil).body["status"]; st != "ASSIGNED" {
		t.Errorf("delivered case.assigned left the case %v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	var pending int
	if err := h.db.QueryRow(`SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&pending); err != nil || pending != 0 {
		t.Errorf("%d events left unpublished (%v)", pending, err)
	}
}

func testPeerDown(t *testing.T, h *harness) {
	if err := h.svc.Checks()["patient-identity"](context.Background()); err != nil {
		t.Fatalf("check with the peer up: %v", err)
	}
	h.peer.Close()
	res := h.do("POST", "/api/v1/cases", map[string]any{
		"customerId": h.patient, "specialty": "NEUROLOGY", "title": title, "question": question,
	})
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" {
		t.Errorf("peer down: %d %v (Retry-After %q), want 503 with Retry-After", res.status, res.body, res.header.Get("Retry-After"))
	}
	if err := h.svc.Checks()["patient-identity"](context.Background()); err == nil {
		t.Error("check passes with the peer down")
	}
}

// testFullPipeline walks a case through payment and AI to completion, each
// step brought by the event of the service that owns it.
// testRefunds: a partial refund leaves a paid case going on, and so does
// the refund of an orphaned case; a full one cancels it.
func testRefunds(t *testing.T, h *harness) {
	id := h.newCase()["id"].(string)
	if res := h.do("POST", "/api/v1/cases/"+id+"/submit", nil); res.body["status"] != "AWAITING_PAYMENT" {
		t.Fatalf("submit: %d %v", res.status, res.body)
	}
	for _, step := range []struct {
		event string
		full  bool
		want  string
	}{
		{"payment.succeeded", false, "SUBMITTED"},
		{"payment.refunded", false, "SUBMITTED"},
		{"case.orphaned", false, "ORPHANED"},
		{"payment.refunded", true, "ORPHANED"}, // reason CASE_ORPHANED: it waits in triage
		{"payment.refunded", true, "CANCELLED"},
	} {
		reason := "ADMIN"
		if step.want == "ORPHANED" {
			reason = "CASE_ORPHANED"
		}
		e := event(t, step.event, id, map[string]any{"full": step.full, "refundId": uuid.NewString(), "reason": reason})
		if err := h.svc.Consume(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		if st := h.do("GET", "/api/v1/cases/"+id, nil).body["status"]; st != step.want {
			t.Fatalf("after %s (full %t): %v, want %s", step.event, step.full, st, step.want)
		}
	}
}

func testFullPipeline(t *testing.T, h *harness) {
	id := h.newCase()["id"].(string)
	if res := h.do("POST", "/api/v1/cases/"+id+"/submit", nil); res.body["status"] != "AWAITING_PAYMENT" {
		t.Fatalf("submit: %d %v", res.status, res.body)
	}
	for _, step := range []struct{ event, want string }{
		{"payment.succeeded", "SUBMITTED"},
		{"ai.analysis.started", "AI_PROCESSING"},
		{"ai.analysis.completed", "AWAITING_ASSIGNMENT"},
		{"case.assigned", "ASSIGNED"},
		{"opinion.submitted", "UNDER_REVIEW"},
		{"opinion.approved", "COMPLETED"},
	} {
		if err := h.svc.Consume(context.Background(), event(t, step.event, id, map[string]any{"reviewRequired": true})); err != nil {
			t.Fatal(err)
		}
		if st := h.do("GET", "/api/v1/cases/"+id, nil).body["status"]; st != step.want {
			t.Fatalf("after %s: %v, want %s", step.event, st, step.want)
		}
	}
	if got := types(h.outbox(id)); slices.Index(got, "case.submitted") < 0 || got[len(got)-1] != "case.completed" {
		t.Errorf("events %v", got)
	}
}
