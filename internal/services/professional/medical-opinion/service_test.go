package medicalopinion

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/google/uuid"

	contracts "github.com/secondopinion/platform/api/events"
	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
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

// peers stands in for case-management, professional-identity and
// case-assignment: fixed cases, professionals and claims served over the
// real gRPC client path. It counts the look-ups of active assignments, to
// prove they happen only when the projection lacks one.
type peers struct {
	patientv1connect.UnimplementedCaseServiceHandler
	professionalv1connect.UnimplementedProfessionalServiceHandler
	professionalv1connect.UnimplementedAssignmentServiceHandler
	mu          sync.Mutex
	cases       map[string]*patientv1.CaseResponse
	pros        map[string]*professionalv1.Professional
	claims      map[string]*professionalv1.Assignment // by case id
	claimLookUp int                                   // GetActiveAssignment calls
	down        bool
}

func (p *peers) GetCase(_ context.Context, req *connect.Request[patientv1.GetCaseRequest]) (*connect.Response[patientv1.CaseResponse], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}
	if req.Msg.Purpose == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("purpose is required"))
	}
	c, ok := p.cases[req.Msg.Id]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("case not found"))
	}
	return connect.NewResponse(c), nil
}

func (p *peers) GetProfessional(_ context.Context, req *connect.Request[professionalv1.GetProfessionalRequest]) (*connect.Response[professionalv1.Professional], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, ok := p.pros[req.Msg.Id]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("professional not found"))
	}
	return connect.NewResponse(pr), nil
}

func (p *peers) GetActiveAssignment(_ context.Context, req *connect.Request[professionalv1.GetActiveAssignmentRequest]) (*connect.Response[professionalv1.Assignment], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claimLookUp++
	if p.down {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}
	a, ok := p.claims[req.Msg.CaseId]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no active assignment"))
	}
	return connect.NewResponse(a), nil
}

// lookUps is how often the service asked case-assignment so far.
func (p *peers) lookUps() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.claimLookUp
}

// recorder is a bus that accepts every event and keeps those their
// contract does not describe: tests read the outbox.
type recorder struct {
	mu     sync.Mutex
	broken []error
}

func (r *recorder) Publish(_ context.Context, events ...bus.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range events {
		if err := contracts.Check(e); err != nil {
			r.broken = append(r.broken, err)
		}
	}
	return nil
}

func (r *recorder) Subscribe(context.Context, string, bus.Handler) (bus.Subscription, error) {
	return r, nil
}
func (r *recorder) Ping(context.Context) error { return nil }
func (r *recorder) Close() error               { return nil }

// tokens: "patient:<id>", "pro:<id>", "service:<name>" and "admin".
type tokens struct{}

const adminID = "0190a0a0-0000-7000-8000-0000000000ad"

func (tokens) Verify(_ context.Context, token string) (authn.Principal, error) {
	if id, ok := strings.CutPrefix(token, "patient:"); ok {
		return authn.Principal{Subject: id, Role: authn.RolePatient}, nil
	}
	if id, ok := strings.CutPrefix(token, "pro:"); ok {
		return authn.Principal{Subject: id, Role: authn.RoleProfessional}, nil
	}
	if name, ok := strings.CutPrefix(token, "service:"); ok {
		return authn.Principal{Subject: name, Role: authn.RoleService}, nil
	}
	if token == "admin" {
		return authn.Principal{Subject: adminID, Role: authn.RoleAdmin}, nil
	}
	return authn.Principal{}, errors.New("unknown test token")
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type harness struct {
	t     *testing.T
	svc   *Service
	db    *sqldb.DB
	peers *peers
	clock *clock
	base  string
}

func newHarness(t *testing.T, db *sqldb.DB) *harness {
	t.Helper()
	// The app keeps Idempotency-Key records in the service's store when
	// there is no Redis; so do the tests, to see an erasure forget them.
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if err := idempotency.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, clock: &clock{t: time.Date(2031, 5, 1, 8, 0, 0, 0, time.UTC)},
		peers: &peers{cases: map[string]*patientv1.CaseResponse{}, pros: map[string]*professionalv1.Professional{},
			claims: map[string]*professionalv1.Assignment{}}}
	mux := http.NewServeMux()
	mux.Handle(patientv1connect.NewCaseServiceHandler(h.peers))
	mux.Handle(professionalv1connect.NewProfessionalServiceHandler(h.peers))
	mux.Handle(professionalv1connect.NewAssignmentServiceHandler(h.peers))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(patientv1connect.CaseServiceName,
		professionalv1connect.ProfessionalServiceName, professionalv1connect.AssignmentServiceName)))
	peer := rpc.NewInProcess(mux)
	t.Cleanup(func() { peer.Close() })
	rec := &recorder{}
	t.Cleanup(func() {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, err := range rec.broken {
			t.Errorf("published against its contract: %v", err)
		}
	})
	svc, err := New(Config{Now: h.clock.now}, service.Deps{
		Region: "EU",
		Log:    slog.New(slog.DiscardHandler),
		DB:     db,
		Bus:    rec,
		Peer: func(target string) (service.Peer, error) {
			if target != "case-management" && target != "professional-identity" && target != "case-assignment" {
				return service.Peer{}, fmt.Errorf("unexpected peer %s", target)
			}
			return service.Peer{HTTP: peer.Client(), URL: rpc.BaseURL}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: httpapi.Wrap(svc.Handler(), httpapi.Options{Service: Name, Verifier: tokens{},
		Idempotency: idempotency.NewSQL(db)}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	h.base = "http://" + ln.Addr().String()
	return h
}

// fixture is a case with its patient and professionals of every role.
type fixture struct {
	caseID, number, patient string
	author                  string // assigned
	reviewer                string // verified SENIOR of the specialty
	juniorPeer              string // verified JUNIOR of the specialty
	otherSpecialty          string // verified EXPERT of another specialty
	pending                 string // SENIOR not verified yet
	assignment              string
}

const question = "Do I need a bypass operation?"

func (h *harness) pro(level, status string, specialties ...string) string {
	id := uuid.NewString()
	h.peers.mu.Lock()
	defer h.peers.mu.Unlock()
	h.peers.pros[id] = &professionalv1.Professional{Id: id, ProNumber: "PRO-EU-" + strings.ToUpper(id[:6]), FirstName: "Ada",
		LastName: "Lovelace", Level: level, Status: status, Specialties: specialties}
	return id
}

// newFixture opens a case assigned to a professional of authorLevel.
func (h *harness) newFixture(authorLevel string) fixture {
	h.t.Helper()
	f := h.newCase(authorLevel)
	f.assignment = h.assign(f.caseID, f.author, h.clock.now().Add(72*time.Hour))
	return f
}

// newCase opens a case for a professional of authorLevel, who has not
// claimed it yet.
func (h *harness) newCase(authorLevel string) fixture {
	h.t.Helper()
	f := fixture{caseID: uuid.NewString(), patient: uuid.NewString(), number: "EU-2031-" + strings.ToUpper(uuid.NewString()[:6])}
	f.author = h.pro(authorLevel, "VERIFIED", "CARDIOLOGY")
	f.reviewer = h.pro("SENIOR", "VERIFIED", "NEUROLOGY", "CARDIOLOGY")
	f.juniorPeer = h.pro("JUNIOR", "VERIFIED", "CARDIOLOGY")
	f.otherSpecialty = h.pro("EXPERT", "VERIFIED", "ONCOLOGY")
	f.pending = h.pro("SENIOR", "PENDING", "CARDIOLOGY")
	h.peers.mu.Lock()
	h.peers.cases[f.caseID] = &patientv1.CaseResponse{Id: f.caseID, CaseNumber: f.number, CustomerId: f.patient,
		Specialty: "CARDIOLOGY", Urgency: "STANDARD", Title: "Chest pain", Question: question, Status: "ASSIGNED", ProfessionalId: f.author}
	h.peers.mu.Unlock()
	return f
}

// deliver hands an event to the service's consumer as the bus would.
func (h *harness) deliver(typ, aggregate string, payload any) {
	h.t.Helper()
	e, err := bus.New("case-assignment", typ, aggregate, payload)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.svc.Consume(context.Background(), e); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) assign(caseID, pro string, deadline time.Time) string {
	id := uuid.NewString()
	h.deliver("case.assigned", caseID, map[string]any{"caseId": caseID, "professionalId": pro, "assignmentId": id,
		"deadline": deadline, "timestamp": h.clock.now()})
	return id
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (h *harness) do(token, method, path string, body any) response {
	h.t.Helper()
	return h.doKeyed(token, "", method, path, body)
}

// doKeyed is do with an Idempotency-Key, unless key is "".
func (h *harness) doKeyed(token, key, method, path string, body any) response {
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
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	out := response{status: res.StatusCode, header: res.Header}
	if out.raw, err = io.ReadAll(res.Body); err != nil {
		h.t.Fatal(err)
	}
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(out.raw, &out.body); err != nil {
			h.t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return out
}

func (h *harness) want(res response, status int, what string) response {
	h.t.Helper()
	if res.status != status {
		h.t.Fatalf("%s: %d %s, want %d", what, res.status, res.raw, status)
	}
	return res
}

func draft() map[string]any {
	return map[string]any{
		"summary":         "Stable angina with preserved function.",
		"diagnoses":       []map[string]any{{"code": "I20.9", "description": "Angina pectoris"}, {"code": "i25.10", "description": "Coronary artery disease"}},
		"recommendations": []string{"Stress test", "Statin therapy"},
		"confidence":      "HIGH",
		"answer":          "No bypass is needed at this stage.",
		"references":      []string{"ESC Guidelines 2024"},
	}
}

// outbox returns the stored domain events of a case in order; each must
// hold to its contract, and none may carry the opinion's or the patient's
// words.
func (h *harness) outbox(caseID string) []bus.Event {
	h.t.Helper()
	var out []bus.Event
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.AggregateID != caseID || e.Type == kitaudit.Recorded.Type {
			continue
		}
		env, err := json.Marshal(e)
		if err != nil {
			h.t.Fatalf("outbox row: %v", err)
		}
		if err := contracts.Check(e); err != nil {
			h.t.Errorf("against its contract: %v", err)
		}
		for _, secret := range []string{"angina", "bypass", "Angina", "Why", "Because"} {
			if strings.Contains(string(env), secret) {
				h.t.Errorf("%s carries health data: %s", e.Type, e.Payload)
			}
		}
		out = append(out, e)
	}
	return out
}

func types(evs []bus.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return strings.Join(out, " ")
}

func payload(t *testing.T, e bus.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Payload, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// pdfText inflates a PDF's compressed streams and returns them with the
// rest of the file, so the report's text can be searched.
func pdfText(t *testing.T, b []byte) string {
	t.Helper()
	var out strings.Builder
	out.Write(b)
	re := regexp.MustCompile(`(?s)stream\r?\n(.*?)\r?\nendstream`)
	for _, m := range re.FindAllSubmatch(b, -1) {
		r, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue // not a compressed stream
		}
		data, _ := io.ReadAll(r)
		out.Write(data)
	}
	return out.String()
}

func TestService(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		for name, test := range map[string]func(*testing.T, *harness){
			"senior approved at once": testSeniorFlow,
			"junior reviewed":         testJuniorReview,
			"write rules":             testWriteRules,
			"follow-ups":              testFollowUps,
			"access":                  testAccess,
			"review queue":            testQueue,
			"read-through":            testReadThrough,
			"AI review":               testAIReview,
		} {
			t.Run(name, func(t *testing.T) {
				h.t = t
				test(t, h)
			})
		}
	})
}
