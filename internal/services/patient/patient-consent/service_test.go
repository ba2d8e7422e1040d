package patientconsent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	contracts "github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/domain"
)

// recorder is a bus that keeps what is published, each event held to its
// contract.
type recorder struct {
	mu        sync.Mutex
	published []bus.Event
	broken    []error
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

func (r *recorder) Subscribe(context.Context, string, bus.Handler) (bus.Subscription, error) {
	return r, nil
}
func (r *recorder) Ping(context.Context) error { return nil }
func (r *recorder) Close() error               { return nil }

const adminID = "0190a0a0-0000-7000-8000-0000000000ad"

// tokens stands in for the auth service: "a" and "b" are the harness's
// patients, "pro" a professional, "admin" an admin and "service:<name>"
// the service identities the tests present.
func tokens(a, b string) testkit.Tokens {
	tk := testkit.Tokens{
		"a":     {Subject: a, Role: authn.RolePatient},
		"b":     {Subject: b, Role: authn.RolePatient},
		"pro":   {Subject: "0190a0a0-0000-7000-8000-0000000000f0", Role: authn.RoleProfessional},
		"admin": {Subject: adminID, Role: authn.RoleAdmin},
	}
	for _, name := range []string{"ai-orchestration", "ai-providers", "case-assignment", "notification", "patient-identity"} {
		tk["service:"+name] = authn.Principal{Subject: name, Role: authn.RoleService}
	}
	return tk
}

type harness struct {
	t       *testing.T
	svc     *Service
	db      *sqldb.DB
	bus     *recorder
	logs    *testkit.Buffer
	handler http.Handler
	base    string
	a, b    string // the patients behind tokens "a" and "b"
	now     time.Time
}

var start = time.Date(2027, 2, 1, 9, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, db *sqldb.DB) *harness {
	t.Helper()
	return newHarnessWith(t, db, nil)
}

// newHarnessWith is a harness whose Idempotency-Key records are in
// Redis when rc is not nil, as the platform keeps them with REDIS_URL,
// or else in the service's store, as it keeps them without.
func newHarnessWith(t *testing.T, db *sqldb.DB, rc *redis.Client) *harness {
	t.Helper()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, bus: &recorder{}, logs: &testkit.Buffer{}, a: uuid.NewString(), b: uuid.NewString(), now: start}
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); h.now = h.now.Add(time.Second); return h.now }
	svc, err := New(Config{Now: clock}, service.Deps{Region: "EU", DB: db, Bus: h.bus, Redis: rc,
		Log: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	t.Cleanup(h.checkContracts)
	// Idempotency-Key records where the platform keeps them, which an
	// erasure forgets.
	var idem idempotency.Store = idempotency.NewSQL(db)
	if rc != nil {
		idem = idempotency.NewRedis(rc)
	}
	h.handler = httpapi.Wrap(svc.Handler(), httpapi.Options{Service: Name, Verifier: tokens(h.a, h.b), Idempotency: idem})
	ln := testkit.Listen(t)
	// REST and, as between services, gRPC over cleartext HTTP/2.
	srv := &http.Server{Handler: h.handler, Protocols: rpc.Protocols(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	h.base = "http://" + ln.Addr().String()
	return h
}

// checkContracts fails the test on an event its contract does not
// describe: any the bus received, and any left in the outbox.
func (h *harness) checkContracts() {
	for _, err := range h.bus.broken {
		h.t.Errorf("published an event its contract does not describe: %v", err)
	}
	for _, e := range h.outbox("") {
		if err := contracts.Check(e); err != nil {
			h.t.Errorf("queued an event its contract does not describe: %v", err)
		}
	}
}

// outbox is the events queued in the outbox, of type typ ("" for all).
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

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func (h *harness) do(token, method, path string, body any) response {
	h.t.Helper()
	return h.send(token, "", method, path, body)
}

// send is do with an Idempotency-Key, when key is not "".
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
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			h.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
		}
	}
	return out
}

func current(p vocab.ConsentPurpose) string {
	t := domain.Current(p)
	return t.Version
}

func (h *harness) grant(token string, p vocab.ConsentPurpose) response {
	h.t.Helper()
	return h.do(token, "POST", "/api/v1/consents", map[string]any{"purpose": p, "version": current(p)})
}

// consents reads the caller's consents by purpose.
func (h *harness) consents(token, query string) (int, map[string]map[string]any) {
	h.t.Helper()
	res := h.do(token, "GET", "/api/v1/consents"+query, nil)
	out := map[string]map[string]any{}
	items, _ := res.body["consents"].([]any)
	for _, it := range items {
		c := it.(map[string]any)
		out[c["purpose"].(string)] = c
	}
	return res.status, out
}

// history is patient id's stored changes, oldest first per purpose.
func (h *harness) history(id string) []string {
	h.t.Helper()
	hist, err := h.svc.store.History(context.Background(), nil, id)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, c := range hist {
		out = append(out, string(c.Purpose)+" "+string(c.Kind)+" "+c.Version+" "+c.ClientAddr)
	}
	return out
}

func TestService(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		t.Run("texts", func(t *testing.T) { testTexts(t, h) })
		t.Run("grant and withdraw", func(t *testing.T) { testGrantWithdraw(t, h) })
		t.Run("bad input", func(t *testing.T) { testBadInput(t, h) })
		t.Run("access", func(t *testing.T) { testAccess(t, h) })
		t.Run("withdrawal notice", func(t *testing.T) { testWithdrawalNotice(t, h) })
		t.Run("only the patient changes", func(t *testing.T) { testServiceGuard(t, h) })
		t.Run("concurrent grants", func(t *testing.T) { testConcurrent(t, h) })
		t.Run("rpc", func(t *testing.T) { testRPC(t, h) })
		t.Run("logs", func(t *testing.T) { testLogs(t, h) })
	})
}

func testTexts(t *testing.T, h *harness) {
	res := h.do("", "GET", "/api/v1/consents/texts", nil)
	items, _ := res.body["items"].([]any)
	if res.status != http.StatusOK || len(items) != len(vocab.ConsentPurposes) {
		t.Fatalf("texts: %d %v", res.status, res.body)
	}
	for i, it := range items {
		x := it.(map[string]any)
		p := vocab.ConsentPurposes[i]
		if x["purpose"] != string(p) || x["version"] != current(p) || x["title"] == "" || x["text"] == "" {
			t.Errorf("text %d: %v", i, x)
		}
	}
}

func testGrantWithdraw(t *testing.T, h *harness) {
	status, got := h.consents("a", "")
	if status != http.StatusOK || len(got) != len(vocab.ConsentPurposes) {
		t.Fatalf("before any grant: %d %v", status, got)
	}
	for p, c := range got {
		if c["status"] != "NOT_GRANTED" || c["version"] != nil || c["grantedAt"] != nil || c["currentVersion"] != current(vocab.ConsentPurpose(p)) {
			t.Errorf("%s before any grant: %v", p, c)
		}
	}

	r := vocab.ConsentResearch
	res := h.grant("a", r)
	if res.status != http.StatusOK || res.body["status"] != "GRANTED" || res.body["version"] != current(r) ||
		res.body["grantedAt"] == nil || res.body["withdrawnAt"] != nil {
		t.Fatalf("grant: %d %v", res.status, res.body)
	}
	if again := h.grant("a", r); again.status != http.StatusOK || again.body["grantedAt"] != res.body["grantedAt"] {
		t.Errorf("granting again: %d %v, want the first grant unchanged", again.status, again.body)
	}
	granted := h.outbox(contracts.ConsentGrantedV1.Type)
	if len(granted) != 1 || granted[0].AggregateID != h.a {
		t.Fatalf("consent.granted events: %+v", granted)
	}
	var p contracts.ConsentChanged
	if err := json.Unmarshal(granted[0].Payload, &p); err != nil || p.PatientID != h.a || p.Purpose != r || p.Version != current(r) || p.Revision != 1 {
		t.Errorf("consent.granted payload %+v, %v", p, err)
	}
	if strings.Contains(string(granted[0].Payload), "127.0.0.1") {
		t.Errorf("the client's address left the service: %s", granted[0].Payload)
	}

	wd := h.do("a", "DELETE", "/api/v1/consents/RESEARCH", nil)
	if wd.status != http.StatusOK || wd.body["status"] != "WITHDRAWN" || wd.body["version"] != current(r) ||
		wd.body["grantedAt"] != res.body["grantedAt"] || wd.body["withdrawnAt"] == nil {
		t.Fatalf("withdraw: %d %v", wd.status, wd.body)
	}
	if again := h.do("a", "DELETE", "/api/v1/consents/RESEARCH", nil); again.status != http.StatusOK || again.body["withdrawnAt"] != wd.body["withdrawnAt"] {
		t.Errorf("withdrawing again: %d %v, want the first withdrawal unchanged", again.status, again.body)
	}
	if nothing := h.do("a", "DELETE", "/api/v1/consents/AI_PROCESSING", nil); nothing.status != http.StatusOK || nothing.body["status"] != "NOT_GRANTED" {
		t.Errorf("withdrawing what was never granted: %d %v", nothing.status, nothing.body)
	}
	withdrawn := h.outbox(contracts.ConsentWithdrawnV1.Type)
	if len(withdrawn) != 1 || withdrawn[0].AggregateID != h.a {
		t.Fatalf("consent.withdrawn events: %+v", withdrawn)
	}
	// The revision orders a consent's changes for those who keep its state.
	if err := json.Unmarshal(withdrawn[0].Payload, &p); err != nil || p.Revision != 2 {
		t.Errorf("consent.withdrawn payload %+v, %v: want revision 2", p, err)
	}

	if re := h.grant("a", r); re.status != http.StatusOK || re.body["status"] != "GRANTED" || re.body["withdrawnAt"] != nil {
		t.Errorf("granting again after a withdrawal: %d %v", re.status, re.body)
	}
	h.grant("a", vocab.ConsentAIProcessing)
	_, got = h.consents("a", "")
	if got["RESEARCH"]["status"] != "GRANTED" || got["AI_PROCESSING"]["status"] != "GRANTED" || got["SHARE_WITH_PROFESSIONALS"]["status"] != "NOT_GRANTED" {
		t.Errorf("after the changes: %v", got)
	}
	if _, other := h.consents("b", ""); other["RESEARCH"]["status"] != "NOT_GRANTED" {
		t.Errorf("patient b sees a's grants: %v", other)
	}

	// Every change is kept, with its text version and the client's
	// address; the repeated grant and withdrawals left no row.
	v := func(p vocab.ConsentPurpose) string { return current(p) + " 127.0.0.1" }
	want := []string{"AI_PROCESSING GRANTED " + v(vocab.ConsentAIProcessing), "RESEARCH GRANTED " + v(r),
		"RESEARCH WITHDRAWN " + v(r), "RESEARCH GRANTED " + v(r)}
	if got := h.history(h.a); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func testBadInput(t *testing.T, h *harness) {
	for name, c := range map[string]struct {
		token, method, path string
		body                any
		want                int
		title, location     string
	}{
		"outdated version": {"a", "POST", "/api/v1/consents", map[string]any{"purpose": "RESEARCH", "version": "2020-01-01"},
			http.StatusConflict, domain.ErrOutdated, ""},
		"unknown purpose": {"a", "POST", "/api/v1/consents", map[string]any{"purpose": "MARKETING", "version": "2026-12-01"},
			http.StatusUnprocessableEntity, "", "body.purpose"},
		"no version": {"a", "POST", "/api/v1/consents", map[string]any{"purpose": "RESEARCH"},
			http.StatusUnprocessableEntity, "", "body"},
		"overlong version": {"a", "POST", "/api/v1/consents", map[string]any{"purpose": "RESEARCH", "version": strings.Repeat("9", 65)},
			http.StatusUnprocessableEntity, "", "body.version"},
		"admin without a patient": {"admin", "GET", "/api/v1/consents", nil, http.StatusUnprocessableEntity, "", "query.patientId"},
		"malformed patient":       {"admin", "GET", "/api/v1/consents?patientId=42", nil, http.StatusUnprocessableEntity, "", "query.patientId"},
	} {
		res := h.do(c.token, c.method, c.path, c.body)
		if res.status != c.want || (c.title != "" && res.body["title"] != c.title) || res.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %v, want %d %q", name, res.status, res.body, c.want, c.title)
		}
		if c.location != "" && !strings.Contains(jsonOf(res.body["errors"]), `"location":"`+c.location+`"`) {
			t.Errorf("%s: errors %v do not locate %s", name, res.body["errors"], c.location)
		}
	}
	if c := h.do("a", "POST", "/api/v1/consents", map[string]any{"purpose": "RESEARCH", "version": "2020-01-01"}); !strings.Contains(jsonOf(c.body["detail"]), current(vocab.ConsentResearch)) {
		t.Errorf("the outdated problem does not name the current version: %v", c.body)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Withdrawing SHARE_WITH_PROFESSIONALS tells the patient what becomes of
// their cases — the same words whatever the cases, which this service
// does not know; no other answer carries a notice.
func testWithdrawalNotice(t *testing.T, h *harness) {
	share := vocab.ConsentShareWithProfessionals
	if res := h.grant("b", share); res.status != http.StatusOK || res.body["notice"] != nil {
		t.Fatalf("grant: %d %v", res.status, res.body)
	}
	for _, when := range []string{"withdrawing", "withdrawing again"} {
		res := h.do("b", "DELETE", "/api/v1/consents/SHARE_WITH_PROFESSIONALS", nil)
		notice, _ := res.body["notice"].(string)
		if res.status != http.StatusOK || res.body["status"] != "WITHDRAWN" || notice != withdrawalNotices[share] {
			t.Fatalf("%s: %d %v", when, res.status, res.body)
		}
		for _, says := range []string{"already taken stay with that professional until their opinion", "no longer offered", "until you give this consent again"} {
			if !strings.Contains(notice, says) {
				t.Errorf("the notice does not say %q: %s", says, notice)
			}
		}
	}
	if res := h.do("b", "DELETE", "/api/v1/consents/RESEARCH", nil); res.status != http.StatusOK || res.body["notice"] != nil {
		t.Errorf("withdrawal of RESEARCH: %d %v, want no notice", res.status, res.body)
	}
	if _, got := h.consents("b", ""); got["SHARE_WITH_PROFESSIONALS"]["status"] != "WITHDRAWN" || got["SHARE_WITH_PROFESSIONALS"]["notice"] != nil {
		t.Errorf("the listed consent: %v", got["SHARE_WITH_PROFESSIONALS"])
	}
	// The published document describes the notice on the withdrawal only.
	doc := jsonOf(h.svc.OpenAPI().Components.Schemas.Map()["ConsentWithdrawal"])
	if !strings.Contains(doc, `"notice"`) || strings.Contains(jsonOf(h.svc.OpenAPI().Components.Schemas.Map()["Consent"]), `"notice"`) {
		t.Errorf("schemas: ConsentWithdrawal %s", doc)
	}
}

// Who may call what: a patient reads and changes their own consents
// (another patient's are missing: 404), an admin reads anyone's but
// changes none, a professional nothing, anonymous callers 401.
func testAccess(t *testing.T, h *harness) {
	ofA := "?patientId=" + h.a
	grant := map[string]any{"purpose": "SHARE_WITH_PROFESSIONALS", "version": current(vocab.ConsentShareWithProfessionals)}
	for _, c := range []struct {
		token, method, path string
		body                any
		want                int
	}{
		{"", "GET", "/api/v1/consents", nil, 401},
		{"pro", "GET", "/api/v1/consents" + ofA, nil, 403},
		{"b", "GET", "/api/v1/consents" + ofA, nil, 404},
		{"a", "GET", "/api/v1/consents" + ofA, nil, 200},
		{"admin", "GET", "/api/v1/consents" + ofA, nil, 200},
		{"", "POST", "/api/v1/consents", grant, 401},
		{"pro", "POST", "/api/v1/consents", grant, 403},
		{"admin", "POST", "/api/v1/consents", grant, 403},
		{"service:ai-orchestration", "POST", "/api/v1/consents", grant, 403},
		{"", "DELETE", "/api/v1/consents/RESEARCH", nil, 401},
		{"pro", "DELETE", "/api/v1/consents/RESEARCH", nil, 403},
		{"admin", "DELETE", "/api/v1/consents/RESEARCH", nil, 403},
		{"a", "DELETE", "/api/v1/consents/MARKETING", nil, 422},
		{"", "GET", "/api/v1/consents/texts", nil, 200},
	} {
		res := h.do(c.token, c.method, c.path, c.body)
		if res.status != c.want || (c.want >= 400 && (res.body["consents"] != nil || res.body["status"] == "GRANTED")) {
			t.Errorf("%s %s as %q: %d %v, want %d", c.method, c.path, c.token, res.status, res.body, c.want)
		}
	}
	// The admin's read, and only it, is in the audit trail.
	var reads []kitaudit.Entry
	for _, e := range h.outbox(kitaudit.Recorded.Type) {
		var en kitaudit.Entry
		if err := json.Unmarshal(e.Payload, &en); err != nil {
			t.Fatal(err)
		}
		reads = append(reads, en)
	}
	if len(reads) != 1 || reads[0].Action != "consent.read" || reads[0].Actor != adminID || reads[0].PatientID != h.a ||
		reads[0].Purpose != "administration" || reads[0].Outcome != kitaudit.Allowed || reads[0].ClientAddr != "127.0.0.1" {
		t.Errorf("audit entries %+v, want the admin's read of a's consents", reads)
	}
	if got := h.history(h.a); strings.Contains(strings.Join(got, " "), "SHARE_WITH_PROFESSIONALS") {
		t.Errorf("a refused grant was recorded: %v", got)
	}
	// An admin's read is not served unrecorded.
	if _, err := h.db.Exec(`ALTER TABLE outbox RENAME TO outbox_gone`); err != nil {
		t.Fatal(err)
	}
	res := h.do("admin", "GET", "/api/v1/consents"+ofA, nil)
	if _, err := h.db.Exec(`ALTER TABLE outbox_gone RENAME TO outbox`); err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusServiceUnavailable || res.body["consents"] != nil {
		t.Errorf("unaudited read: %d %v, want 503", res.status, res.body)
	}

	spec := h.svc.OpenAPI()
	for key, want := range map[string]string{
		"GET /api/v1/consents":              "authenticated:patient,admin;owner",
		"POST /api/v1/consents":             "authenticated:patient",
		"DELETE /api/v1/consents/{purpose}": "authenticated:patient",
		"GET /api/v1/consents/texts":        "public",
	} {
		method, path, _ := strings.Cut(key, " ")
		item := spec.Paths[path]
		if item == nil {
			t.Errorf("%s is not in the spec", key)
			continue
		}
		op := map[string]any{"GET": item.Get, "POST": item.Post, "DELETE": item.Delete}[method]
		if op == nil {
			t.Errorf("%s is not in the spec", key)
			continue
		}
		if got := jsonOf(op); !strings.Contains(got, `"x-policy":"`+want+`"`) {
			t.Errorf("%s policy, want %s", key, want)
		}
	}
}

// The service checks who changes a consent itself, not only the route's
// policy: nobody but the patient, for themself.
func testServiceGuard(t *testing.T, h *harness) {
	ctx := context.Background()
	for _, who := range []authn.Principal{
		{Subject: adminID, Role: authn.RoleAdmin},
		{Subject: "ai-orchestration", Role: authn.RoleService},
		{Subject: uuid.NewString(), Role: authn.RoleProfessional},
		{},
		{Subject: "not-a-uuid", Role: authn.RolePatient},
	} {
		if _, err := h.svc.grant(ctx, who, vocab.ConsentResearch, current(vocab.ConsentResearch)); fault.KindOf(err) != fault.KindForbidden {
			t.Errorf("grant as %+v: %v, want forbidden", who, err)
		}
		if _, err := h.svc.withdraw(ctx, who, vocab.ConsentResearch); fault.KindOf(err) != fault.KindForbidden {
			t.Errorf("withdraw as %+v: %v, want forbidden", who, err)
		}
	}
	for _, c := range []struct {
		who authn.Principal
		id  string
	}{
		{authn.Principal{Subject: h.b, Role: authn.RolePatient}, h.a},
		{authn.Principal{Subject: uuid.NewString(), Role: authn.RoleProfessional}, h.a},
		{authn.Principal{Subject: "ai-orchestration", Role: authn.RoleService}, h.a},
	} {
		if _, _, err := h.svc.consents(ctx, c.who, c.id); fault.KindOf(err) != fault.KindNotFound {
			t.Errorf("read of a's consents as %+v: %v, want not found", c.who, err)
		}
	}
}

// Concurrent grants of one consent record it once, on both engines.
func testConcurrent(t *testing.T, h *harness) {
	id := uuid.NewString()
	who := authn.Principal{Subject: id, Role: authn.RolePatient}
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := h.svc.grant(context.Background(), who, vocab.ConsentShareWithProfessionals, current(vocab.ConsentShareWithProfessionals))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		// A grant that lost every retry is a 409 asking to try again.
		if err != nil && fault.KindOf(err) != fault.KindConflict {
			t.Errorf("concurrent grant: %v", err)
		}
	}
	if got := h.history(id); len(got) != 1 {
		t.Errorf("history after %d concurrent grants: %v, want one grant", n, got)
	}
	events := 0
	for _, e := range h.outbox(contracts.ConsentGrantedV1.Type) {
		if e.AggregateID == id {
			events++
		}
	}
	if events != 1 {
		t.Errorf("%d consent.granted events, want 1", events)
	}
}

// The logs carry ids, purposes and versions, never the client's address.
func testLogs(t *testing.T, h *harness) {
	logs := h.logs.String()
	if !strings.Contains(logs, `"msg":"consent changed"`) || !strings.Contains(logs, h.a) {
		t.Errorf("no log of the changes: %s", logs)
	}
	if strings.Contains(logs, "127.0.0.1") {
		t.Errorf("a client address in the logs: %s", logs)
	}
}
