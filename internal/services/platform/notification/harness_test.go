package notification

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	contracts "github.com/secondopinion/platform/api/events"
	patientidentity "github.com/secondopinion/platform/internal/clients/patient-identity"
	professionalidentity "github.com/secondopinion/platform/internal/clients/professional-identity"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/notification/channel"
)

var (
	patientA = authn.Principal{Subject: uuid.NewString(), Role: authn.RolePatient}
	patientB = authn.Principal{Subject: uuid.NewString(), Role: authn.RolePatient}
	pro      = authn.Principal{Subject: uuid.NewString(), Role: authn.RoleProfessional}
	admin    = authn.Principal{Subject: uuid.NewString(), Role: authn.RoleAdmin}
	tokens   = testkit.Tokens{"patient-a": patientA, "patient-b": patientB, "pro": pro, "admin": admin,
		"service:auth":            {Subject: "auth", Role: authn.RoleService},
		"service:case-management": {Subject: "case-management", Role: authn.RoleService}}
)

// people stands in for patient-identity and professional-identity.
type people struct {
	mu       sync.Mutex
	patients map[string]patientidentity.Patient
	pros     map[string]professionalidentity.Professional
	down     bool
}

func (p *people) Patient(_ context.Context, id string) (patientidentity.Patient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return patientidentity.Patient{}, fault.Unavailable("patient-identity", nil)
	}
	v, ok := p.patients[id]
	if !ok {
		return v, fault.NotFound("patient")
	}
	return v, nil
}

func (p *people) Professional(_ context.Context, id string) (professionalidentity.Professional, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.pros[id]
	if !ok {
		return v, fault.NotFound("professional")
	}
	return v, nil
}

func (p *people) forget(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.patients, id)
}

// sink records what was sent; while fail is set, sending fails.
type sink struct {
	mu     sync.Mutex
	emails []channel.Email
	texts  []channel.SMS
	fail   error
}

func (s *sink) SendEmail(_ context.Context, e channel.Email) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.emails = append(s.emails, e)
	return nil
}

func (s *sink) SendSMS(_ context.Context, m channel.SMS) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.texts = append(s.texts, m)
	return nil
}

func (s *sink) sent() ([]channel.Email, []channel.SMS) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]channel.Email(nil), s.emails...), append([]channel.SMS(nil), s.texts...)
}

func (s *sink) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a running service over one engine's store, with stand-ins
// for its peers and channels.
type fixture struct {
	svc    *Service
	h      http.Handler
	db     *sqldb.DB
	people *people
	sink   *sink
	clock  *clock
	dir    string
	mem    *rpc.InProcess
}

var (
	ada = patientidentity.Patient{ID: patientA.Subject, FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org",
		Phone: "+4915112345678", PreferredChannel: "EMAIL", EmailNotifications: true, SMSNotifications: true}
	bob = patientidentity.Patient{ID: patientB.Subject, FirstName: "Bob", LastName: "Bishop", Email: "bob@example.org",
		Phone: "+4915187654321", PreferredChannel: "SMS", EmailNotifications: true, SMSNotifications: true}
	grace = professionalidentity.Professional{ID: pro.Subject, FirstName: "Grace", LastName: "Hopper",
		Email: "grace@example.org", Languages: []string{"de", "en"}}
)

// start builds the service over db; cfg's hooks not set are the test's
// stand-ins, but for the channels with folders, which are the embedded
// mode's.
func start(t *testing.T, db *sqldb.DB, cfg Config, folders ...bool) fixture {
	t.Helper()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	f := fixture{db: db, people: &people{patients: map[string]patientidentity.Patient{ada.ID: ada, bob.ID: bob},
		pros: map[string]professionalidentity.Professional{grace.ID: grace}}, sink: &sink{},
		clock: &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, dir: t.TempDir()}
	if cfg.Patients == nil {
		cfg.Patients, cfg.Professionals = f.people, f.people
	}
	if cfg.Mailer == nil && cfg.SMTPURL == "" && len(folders) == 0 {
		cfg.Mailer = f.sink
	}
	if cfg.Texter == nil && cfg.SMSURL == "" && len(folders) == 0 {
		cfg.Texter = f.sink
	}
	if cfg.Now == nil {
		cfg.Now = f.clock.Now
	}
	if cfg.AdminEmails == nil {
		cfg.AdminEmails = []string{"ops@example.org", "oncall@example.org"}
	}
	cfg.AppURL = "https://app.example.org"
	svc, err := New(cfg, service.Deps{DB: db, Bus: inproc.New(), DataDir: f.dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	f.h = httpapi.Wrap(svc.Handler(), httpapi.Options{Service: Name, Verifier: tokens})
	f.mem = rpc.NewInProcess(f.h)
	t.Cleanup(func() { f.mem.Close() })
	return f
}

// each runs fn against a fresh service on every engine.
func each(t *testing.T, fn func(t *testing.T, f fixture)) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) { fn(t, start(t, db, Config{})) })
}

// emit hands the service an event as the bus would, checked against its
// contract.
func emit[P any](t *testing.T, f fixture, c bus.Contract[P], aggregate string, p P) bus.Event {
	t.Helper()
	e, err := c.New(c.Producer, aggregate, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := contracts.Check(e); err != nil {
		t.Fatalf("test event breaks its contract: %v", err)
	}
	if err := f.svc.Consume(context.Background(), e); err != nil {
		t.Fatalf("%s: %v", c.Type, err)
	}
	var status, last string
	if err := f.db.QueryRow(`SELECT status, COALESCE(last_error, '') FROM inbox WHERE event_id = $1`, e.ID).Scan(&status, &last); err != nil || status != "done" {
		t.Fatalf("%s not handled: %s %s %v", c.Type, status, last, err)
	}
	return e
}

// deliver runs the delivery worker's pass.
func (f fixture) deliver(t *testing.T) int {
	t.Helper()
	n, err := f.svc.DeliverDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type response struct {
	status int
	body   []byte
}

func (r response) decode(t *testing.T, into any) {
	t.Helper()
	if err := json.Unmarshal(r.body, into); err != nil {
		t.Fatalf("%v in %s", err, r.body)
	}
}

func (f fixture) call(t *testing.T, method, path, token string, header ...string) response {
	t.Helper()
	req := httptest.NewRequest(method, path, io.Reader(bytes.NewReader(nil)))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return response{status: w.Code, body: w.Body.Bytes()}
}

type notificationPage struct {
	Items      []Notification `json:"items"`
	NextCursor string         `json:"nextCursor"`
}

type deliveryPage struct {
	Items      []Delivery `json:"items"`
	NextCursor string     `json:"nextCursor"`
}

func (f fixture) notices(t *testing.T, token string) []Notification {
	t.Helper()
	var p notificationPage
	r := f.call(t, http.MethodGet, "/api/v1/notifications?limit=100", token)
	if r.status != 200 {
		t.Fatalf("list as %s: %d %s", token, r.status, r.body)
	}
	r.decode(t, &p)
	return p.Items
}

func (f fixture) deliveries(t *testing.T, status string) []Delivery {
	t.Helper()
	var p deliveryPage
	r := f.call(t, http.MethodGet, "/api/v1/notifications/deliveries?limit=200&status="+status, "admin")
	if r.status != 200 {
		t.Fatalf("deliveries: %d %s", r.status, r.body)
	}
	r.decode(t, &p)
	return p.Items
}
