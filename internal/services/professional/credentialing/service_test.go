package credentialing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	contracts "github.com/secondopinion/platform/api/events"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
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

// clock is a settable clock, the injected Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var start = time.Date(2031, 5, 1, 8, 0, 0, 0, time.UTC)

const adminID = "0190a0a0-0000-7000-8000-0000000000ad"

// tokens stands in for the auth service: "pro" is the harness's
// professional, "other" another one, "pro:<id>" professional id,
// "patient" a patient and "admin" an admin.
type tokens struct{ pro, other string }

func (tk tokens) Verify(_ context.Context, token string) (authn.Principal, error) {
	if id, ok := strings.CutPrefix(token, "pro:"); ok {
		return authn.Principal{Subject: id, Role: authn.RoleProfessional}, nil
	}
	switch token {
	case "pro":
		return authn.Principal{Subject: tk.pro, Role: authn.RoleProfessional}, nil
	case "other":
		return authn.Principal{Subject: tk.other, Role: authn.RoleProfessional}, nil
	case "patient":
		return authn.Principal{Subject: "0190a0a0-0000-7000-8000-00000000000a", Role: authn.RolePatient}, nil
	case "admin":
		return authn.Principal{Subject: adminID, Role: authn.RoleAdmin}, nil
	}
	return authn.Principal{}, errors.New("unknown test token")
}

type harness struct {
	t     *testing.T
	svc   *Service
	db    *sqldb.DB
	bus   *recorder
	clock *clock
	base  string
	pro   string // the professional behind "pro", registered
	other string // the professional behind "other", registered
}

func newHarness(t *testing.T, db *sqldb.DB) *harness {
	t.Helper()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, bus: &recorder{}, clock: &clock{t: start}, pro: uuid.NewString(), other: uuid.NewString()}
	h.svc = h.newService()
	t.Cleanup(h.checkContracts)
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: httpapi.Wrap(h.svc.Handler(), httpapi.Options{Service: Name, Verifier: tokens{h.pro, h.other}}),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	h.base = "http://" + ln.Addr().String()
	h.register(h.pro)
	h.register(h.other)
	return h
}

// checkContracts fails the test on an event its contract does not
// describe: any the bus received, and any left in the outbox.
func (h *harness) checkContracts() {
	for _, err := range h.bus.broken {
		h.t.Errorf("published an event its contract does not describe: %v", err)
	}
	for _, e := range testkit.Outbox(h.t, h.db) {
		if err := contracts.Check(e); err != nil {
			h.t.Errorf("queued an event its contract does not describe: %v", err)
		}
	}
}

// newService builds a replica over the harness's store, bus and clock.
func (h *harness) newService() *Service {
	h.t.Helper()
	svc, err := New(Config{Now: h.clock.Now, Interval: time.Hour}, service.Deps{
		Region: "EU", Log: slog.New(slog.DiscardHandler), DB: h.db, Bus: h.bus,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return svc
}

// register delivers professional-identity's professional.registered.
func (h *harness) register(id string) {
	h.t.Helper()
	e, err := bus.New("professional-identity", "professional.registered", id, map[string]any{
		"professionalId": id, "proNumber": "PRO-EU-7KQ2ZD", "specialties": []string{"CARDIOLOGY"},
		"languages": []string{"en"}, "country": "DE", "level": "JUNIOR", "timestamp": start,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.svc.Consume(context.Background(), e); err != nil {
		h.t.Fatal(err)
	}
}

type response struct {
	status int
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
	out := response{status: res.StatusCode}
	if err := json.NewDecoder(res.Body).Decode(&out.body); err != nil {
		h.t.Fatalf("%s %s: decode: %v", method, path, err)
	}
	return out
}

func (h *harness) licence(expires time.Time) map[string]any {
	return map[string]any{"licenseNumber": "LIC-" + uuid.NewString()[:8], "issuingAuthority": "Ärztekammer Berlin",
		"country": "DE", "specialty": "CARDIOLOGY", "expiresAt": expires.Format(time.RFC3339)}
}

// submit submits a licence of professional "pro" expiring at expires.
func (h *harness) submit(expires time.Time) string {
	h.t.Helper()
	return h.submitFor(h.pro, expires)
}

// submitFor submits a licence of professional id expiring at expires.
func (h *harness) submitFor(id string, expires time.Time) string {
	h.t.Helper()
	res := h.do("pro:"+id, "POST", "/api/v1/professionals/"+id+"/credentials", h.licence(expires))
	if res.status != http.StatusCreated {
		h.t.Fatalf("submit: %d %v", res.status, res.body)
	}
	return res.body["id"].(string)
}

func (h *harness) verify(id string) {
	h.t.Helper()
	if res := h.do("admin", "POST", "/api/v1/credentials/"+id+"/verify", nil); res.status != 200 || res.body["status"] != "VERIFIED" {
		h.t.Fatalf("verify: %d %v", res.status, res.body)
	}
}

func (h *harness) standing(id string) map[string]any {
	h.t.Helper()
	res := h.do("admin", "GET", "/api/v1/professionals/"+id+"/standing", nil)
	if res.status != 200 {
		h.t.Fatalf("standing: %d %v", res.status, res.body)
	}
	return res.body
}

// events returns the outbox's domain events about a professional, in
// order, with their payloads.
func (h *harness) events(professionalID string) ([]string, []map[string]any) {
	h.t.Helper()
	var types []string
	var payloads []map[string]any
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.AggregateID != professionalID || e.Type == kitaudit.Recorded.Type {
			continue
		}
		var p map[string]any
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			h.t.Fatalf("outbox row: %v", err)
		}
		if e.ServiceID != Name || e.AggregateID != professionalID {
			h.t.Errorf("envelope %+v", e)
		}
		types, payloads = append(types, e.Type), append(payloads, p)
	}
	return types, payloads
}

func keys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func TestService(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		for name, test := range map[string]func(*testing.T, *harness){
			"submit":            testSubmit,
			"bad input":         testBadInput,
			"review":            testReview,
			"concurrent review": testConcurrentReview,
			"level":             testLevel,
			"expiry":            testExpiry,
			"racing checkers":   testRacingCheckers,
			"run":               testRun,
			"access":            testAccess,
			"admin audit":       testAdminAudit,
			"unregistered yet":  testUnregistered,
		} {
			// A store per test: the expiry check reaches every credential.
			t.Run(name, func(t *testing.T) { test(t, newHarness(t, testkit.OpenDB(t, db.Engine, Name))) })
		}
	})
}

func testSubmit(t *testing.T, h *harness) {
	expires := start.Add(365 * 24 * time.Hour)
	in := h.licence(expires)
	res := h.do("pro", "POST", "/api/v1/professionals/"+h.pro+"/credentials", in)
	if res.status != http.StatusCreated {
		t.Fatalf("submit: %d %v", res.status, res.body)
	}
	c := res.body
	for k, v := range map[string]any{"professionalId": h.pro, "licenseNumber": in["licenseNumber"], "issuingAuthority": in["issuingAuthority"],
		"country": "DE", "specialty": "CARDIOLOGY", "expiresAt": expires.Format(time.RFC3339), "status": "PENDING",
		"submittedAt": start.Format(time.RFC3339)} {
		if c[k] != v {
			t.Errorf("%s = %v, want %v", k, c[k], v)
		}
	}
	if c["reviewedAt"] != nil || c["reviewedBy"] != nil || c["reason"] != nil {
		t.Errorf("unreviewed credential %v", c)
	}
	if again := h.do("pro", "POST", "/api/v1/professionals/"+h.pro+"/credentials", in); again.status != http.StatusConflict {
		t.Errorf("same licence again: %d %v", again.status, again.body)
	}
	types, payloads := h.events(h.pro)
	if !slices.Equal(types, []string{"credential.submitted"}) {
		t.Fatalf("events %v", types)
	}
	p := payloads[0]
	if !slices.Equal(keys(p), []string{"country", "credentialId", "expiresAt", "professionalId", "specialty", "timestamp"}) ||
		p["credentialId"] != c["id"] || p["expiresAt"] != c["expiresAt"] || p["specialty"] != "CARDIOLOGY" {
		t.Errorf("credential.submitted %v", p)
	}
	list := h.do("pro", "GET", "/api/v1/professionals/"+h.pro+"/credentials", nil)
	if items, _ := list.body["items"].([]any); list.status != 200 || len(items) != 1 || items[0].(map[string]any)["id"] != c["id"] {
		t.Errorf("list: %d %v", list.status, list.body)
	}
	if st := h.standing(h.pro); st["status"] != "PENDING" || st["level"] != "JUNIOR" || st["validUntil"] != nil || st["professionalId"] != h.pro {
		t.Errorf("standing %v", st)
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
	path := "/api/v1/professionals/" + h.pro + "/credentials"
	with := func(k string, v any) map[string]any {
		m := h.licence(start.Add(time.Hour))
		m[k] = v
		return m
	}
	for field, body := range map[string]map[string]any{
		"body.country":          with("country", "XX"),
		"body.specialty":        with("specialty", "ASTROLOGY"),
		"body.expiresAt":        with("expiresAt", start.Format(time.RFC3339)),
		"body.licenseNumber":    with("licenseNumber", " "),
		"body.issuingAuthority": with("issuingAuthority", ""),
		"body.issuer":           with("issuer", "x"),
	} {
		if res := h.do("pro", "POST", path, body); res.status != 422 || fieldOf(res) != field {
			t.Errorf("%s: %d %v", field, res.status, res.body)
		}
	}
	if res := h.do("pro", "POST", path, with("country", "de")); res.status != 422 {
		t.Errorf("lower-case country: %d", res.status)
	}
	if res := h.do("pro", "POST", path, with("expiresAt", "next year")); res.status != 422 {
		t.Errorf("not RFC 3339: %d", res.status)
	}
	if res := h.do("admin", "POST", "/api/v1/credentials/"+h.submit(start.Add(time.Hour))+"/reject", map[string]any{"reason": ""}); res.status != 422 {
		t.Errorf("reject without reason: %d", res.status)
	}
	if res := h.do("admin", "POST", "/api/v1/professionals/"+h.pro+"/level", map[string]any{"level": "GURU"}); res.status != 422 || fieldOf(res) != "body.level" {
		t.Errorf("bad level: %d %v", res.status, res.body)
	}
	if res := h.do("pro", "GET", "/api/v1/professionals/"+h.pro+"/credentials?cursor=garbage", nil); res.status != 422 || fieldOf(res) != "query.cursor" {
		t.Errorf("bad cursor: %d %v", res.status, res.body)
	}
}

func testReview(t *testing.T, h *harness) {
	first := h.submit(start.Add(30 * 24 * time.Hour))
	second := h.submit(start.Add(60 * 24 * time.Hour))
	third := h.submit(start.Add(90 * 24 * time.Hour))
	h.clock.Advance(time.Minute)
	res := h.do("admin", "POST", "/api/v1/credentials/"+first+"/verify", nil)
	if res.status != 200 || res.body["status"] != "VERIFIED" || res.body["reviewedBy"] != adminID ||
		res.body["reviewedAt"] != start.Add(time.Minute).Format(time.RFC3339) {
		t.Fatalf("verify: %d %v", res.status, res.body)
	}
	st := h.standing(h.pro)
	if st["status"] != "VERIFIED" || st["validUntil"] != start.Add(30*24*time.Hour).Format(time.RFC3339) {
		t.Errorf("standing after verify %v", st)
	}
	h.verify(second) // a second licence: no second professional.verified
	if st := h.standing(h.pro); st["validUntil"] != start.Add(60*24*time.Hour).Format(time.RFC3339) {
		t.Errorf("validUntil %v, want the latest expiry", st["validUntil"])
	}
	rej := h.do("admin", "POST", "/api/v1/credentials/"+third+"/reject", map[string]any{"reason": "scan illegible"})
	if rej.status != 200 || rej.body["status"] != "REJECTED" || rej.body["reason"] != "scan illegible" {
		t.Fatalf("reject: %d %v", rej.status, rej.body)
	}
	for _, r := range []struct{ id, action string }{{first, "verify"}, {first, "reject"}, {third, "verify"}, {third, "reject"}} {
		res := h.do("admin", "POST", "/api/v1/credentials/"+r.id+"/"+r.action, map[string]any{"reason": "again, really"})
		if res.status != http.StatusConflict || res.body["title"] != "Credential already reviewed" {
			t.Errorf("%s of a reviewed credential: %d %v", r.action, res.status, res.body)
		}
	}
	for _, action := range []string{"verify", "reject"} {
		if res := h.do("admin", "POST", "/api/v1/credentials/"+uuid.NewString()+"/"+action, map[string]any{"reason": "unknown one"}); res.status != 404 {
			t.Errorf("%s of an unknown credential: %d", action, res.status)
		}
	}
	// A pending licence that expired before its review cannot be verified.
	late := h.submit(start.Add(2 * time.Hour))
	h.clock.Advance(3 * time.Hour)
	if res := h.do("admin", "POST", "/api/v1/credentials/"+late+"/verify", nil); res.status != http.StatusConflict || res.body["title"] != "Credential expired" {
		t.Errorf("verify of an expired licence: %d %v", res.status, res.body)
	}
	types, payloads := h.events(h.pro)
	want := []string{"credential.submitted", "credential.submitted", "credential.submitted", "credential.verified",
		"professional.verified", "credential.verified", "credential.rejected", "credential.submitted"}
	if !slices.Equal(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	if p := payloads[3]; !slices.Equal(keys(p), []string{"credentialId", "professionalId", "timestamp"}) || p["credentialId"] != first {
		t.Errorf("credential.verified %v", p)
	}
	if p := payloads[4]; !slices.Equal(keys(p), []string{"professionalId", "timestamp"}) || p["professionalId"] != h.pro {
		t.Errorf("professional.verified %v", p)
	}
	if p := payloads[6]; p["reason"] != "scan illegible" || p["credentialId"] != third {
		t.Errorf("credential.rejected %v", p)
	}
}

// testConcurrentReview: of admins reviewing one credential at once, one
// wins and the others get 409; of licences verified at once, one makes
// the professional verified.
func testConcurrentReview(t *testing.T, h *harness) {
	one := h.submit(start.Add(time.Hour))
	many := []string{h.submit(start.Add(time.Hour)), h.submit(start.Add(time.Hour)), h.submit(start.Add(time.Hour))}
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			action := []string{"verify", "reject"}[i%2]
			res := h.do("admin", "POST", "/api/v1/credentials/"+one+"/"+action, map[string]any{"reason": "race condition"})
			mu.Lock()
			statuses[res.status]++
			mu.Unlock()
		})
	}
	for _, id := range many {
		wg.Go(func() {
			if res := h.do("admin", "POST", "/api/v1/credentials/"+id+"/verify", nil); res.status != 200 {
				t.Errorf("verify %s: %d %v", id, res.status, res.body)
			}
		})
	}
	wg.Wait()
	if statuses[200] != 1 || statuses[409] != 7 {
		t.Errorf("statuses %v, want one 200 and seven 409", statuses)
	}
	types, _ := h.events(h.pro)
	if n := count(types, "professional.verified"); n != 1 {
		t.Errorf("%d professional.verified, want 1: %v", n, types)
	}
	if n := count(types, "credential.verified") + count(types, "credential.rejected"); n != 4 {
		t.Errorf("%d reviews published, want 4: %v", n, types)
	}
}

func testLevel(t *testing.T, h *harness) {
	path := "/api/v1/professionals/" + h.pro + "/level"
	for _, step := range []struct{ level string }{{"SENIOR"}, {"SENIOR"}, {"DISTINGUISHED"}} {
		res := h.do("admin", "POST", path, map[string]any{"level": step.level})
		if res.status != 200 || res.body["level"] != step.level || res.body["status"] != "PENDING" || res.body["professionalId"] != h.pro {
			t.Fatalf("set %s: %d %v", step.level, res.status, res.body)
		}
	}
	if st := h.do("pro", "GET", "/api/v1/professionals/"+h.pro+"/standing", nil); st.body["level"] != "DISTINGUISHED" {
		t.Errorf("own standing %v", st.body)
	}
	types, payloads := h.events(h.pro)
	if !slices.Equal(types, []string{"professional.level_changed", "professional.level_changed"}) {
		t.Fatalf("events %v: one per change only", types)
	}
	if p := payloads[0]; p["from"] != "JUNIOR" || p["to"] != "SENIOR" || !slices.Equal(keys(p), []string{"from", "professionalId", "timestamp", "to"}) {
		t.Errorf("first change %v", p)
	}
	if p := payloads[1]; p["from"] != "SENIOR" || p["to"] != "DISTINGUISHED" {
		t.Errorf("second change %v", p)
	}
	if res := h.do("admin", "POST", "/api/v1/professionals/"+uuid.NewString()+"/level", map[string]any{"level": "EXPERT"}); res.status != 404 {
		t.Errorf("level of an unknown professional: %d", res.status)
	}
}

// testExpiry walks a professional's standing through the expiry check on
// an injected clock: verified, suspended when the last licence lapses,
// verified again with a new one.
func testExpiry(t *testing.T, h *harness) {
	ctx := context.Background()
	h.verify(h.submit(start.Add(24 * time.Hour)))
	h.verify(h.submit(start.Add(48 * time.Hour)))
	pending := h.submit(start.Add(30 * time.Hour))
	otherCred := h.do("other", "POST", "/api/v1/professionals/"+h.other+"/credentials", h.licence(start.Add(72*time.Hour)))
	h.verify(otherCred.body["id"].(string))

	h.clock.Advance(24 * time.Hour) // the first licence expires: one left
	if n, err := h.svc.checkExpiry(ctx); err != nil || n != 0 {
		t.Fatalf("first check: %d, %v", n, err)
	}
	if st := h.standing(h.pro); st["status"] != "VERIFIED" {
		t.Errorf("with one licence left: %v", st)
	}
	h.clock.Advance(24 * time.Hour) // the second expires too
	if st := h.standing(h.pro); st["status"] != "SUSPENDED" || st["validUntil"] != nil {
		t.Errorf("standing before the check: %v, want SUSPENDED at once", st)
	}
	if n, err := h.svc.checkExpiry(ctx); err != nil || n != 1 {
		t.Fatalf("second check: %d, %v", n, err)
	}
	if n, err := h.svc.checkExpiry(ctx); err != nil || n != 0 {
		t.Errorf("third check: %d, %v", n, err)
	}
	list := h.do("pro", "GET", "/api/v1/professionals/"+h.pro+"/credentials", nil)
	for _, it := range list.body["items"].([]any) {
		if c := it.(map[string]any); c["status"] != "EXPIRED" {
			t.Errorf("credential %v after its expiry", c)
		}
	}
	if res := h.do("admin", "POST", "/api/v1/credentials/"+pending+"/verify", nil); res.status != http.StatusConflict {
		t.Errorf("verify of an expired pending licence: %d", res.status)
	}
	if st := h.standing(h.other); st["status"] != "VERIFIED" {
		t.Errorf("other professional %v", st)
	}

	h.verify(h.submit(h.clock.Now().Add(24 * time.Hour)))
	types, payloads := h.events(h.pro)
	var standing []string
	for i, typ := range types {
		if typ == "professional.verified" || typ == "professional.suspended" {
			standing = append(standing, typ)
		}
		if typ == "professional.suspended" {
			if p := payloads[i]; p["reason"] != "licence expired" || !slices.Equal(keys(p), []string{"professionalId", "reason", "timestamp"}) {
				t.Errorf("professional.suspended %v", p)
			}
		}
	}
	if !slices.Equal(standing, []string{"professional.verified", "professional.suspended", "professional.verified"}) {
		t.Errorf("standing events %v", standing)
	}
	if st := h.standing(h.pro); st["status"] != "VERIFIED" {
		t.Errorf("after a new licence: %v", st)
	}
}

// testRacingCheckers runs the expiry check of two replicas at once, again
// and again: each suspension is published exactly once.
func testRacingCheckers(t *testing.T, h *harness) {
	ctx := context.Background()
	replicas := []*Service{h.svc, h.newService()}
	const rounds, perRound = 5, 4
	var pros []string
	for round := range rounds {
		for range perRound {
			id := uuid.NewString()
			h.register(id)
			for i := range 2 {
				// Both licences lapse by the same round's check.
				h.verify(h.submitFor(id, h.clock.Now().Add(time.Duration(round+1)*time.Hour-time.Duration(i)*time.Minute)))
			}
			pros = append(pros, id)
		}
	}
	total := 0
	for range rounds {
		h.clock.Advance(time.Hour)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, r := range replicas {
			for range 2 {
				wg.Go(func() {
					n, err := r.checkExpiry(ctx)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					total += n
					mu.Unlock()
				})
			}
		}
		wg.Wait()
	}
	if total != len(pros) {
		t.Errorf("checkers reported %d suspensions, want %d", total, len(pros))
	}
	for _, id := range pros {
		types, _ := h.events(id)
		if n := count(types, "professional.suspended"); n != 1 {
			t.Errorf("professional %s suspended %d times: %v", id, n, types)
		}
	}
}

func count(types []string, typ string) int {
	n := 0
	for _, t := range types {
		if t == typ {
			n++
		}
	}
	return n
}

// testRun checks the wiring: Run subscribes the consumer, runs the expiry
// check at once, relays the outbox to the bus and returns when stopped.
func testRun(t *testing.T, h *harness) {
	h.verify(h.submit(start.Add(time.Hour)))
	h.clock.Advance(2 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx) }()
	deadline := time.After(10 * time.Second)
	for {
		h.bus.mu.Lock()
		subscribed, suspended := h.bus.handler != nil, false
		for _, e := range h.bus.published {
			suspended = suspended || (e.Type == "professional.suspended" && e.AggregateID == h.pro)
		}
		h.bus.mu.Unlock()
		if subscribed && suspended {
			break
		}
		select {
		case <-deadline:
			t.Fatal("Run neither subscribed nor checked expiry and relayed")
		case <-time.After(10 * time.Millisecond):
		}
	}
	late := uuid.NewString()
	e, err := bus.New("professional-identity", "professional.registered", late, map[string]any{"professionalId": late, "specialties": []string{"UROLOGY"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.bus.handler(ctx, e); err != nil {
		t.Fatal(err)
	}
	if st := h.standing(late); st["status"] != "PENDING" || st["level"] != "JUNIOR" {
		t.Errorf("delivered professional.registered: %v", st)
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

// testUnregistered: a professional whose professional.registered has not
// arrived yet is unknown here.
func testUnregistered(t *testing.T, h *harness) {
	late := uuid.NewString()
	if res := h.do("pro:"+late, "POST", "/api/v1/professionals/"+late+"/credentials", h.licence(start.Add(time.Hour))); res.status != 404 {
		t.Errorf("submit for an unknown professional: %d %v", res.status, res.body)
	}
	if res := h.do("admin", "GET", "/api/v1/professionals/"+late+"/standing", nil); res.status != 404 {
		t.Errorf("standing of an unknown professional: %d", res.status)
	}
	if res := h.do("admin", "GET", "/api/v1/professionals/"+late+"/credentials", nil); res.status != 404 {
		t.Errorf("credentials of an unknown professional: %d", res.status)
	}
	// Redelivery registers once.
	h.register(late)
	h.register(late)
	h.submitFor(late, start.Add(time.Hour))
}
