package fuzz_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to create the run's database

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/app/apptest"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/test/journey"
)

const adminEmail = "admin@example.org"

// platform is the whole platform running on one engine, with real
// resources for the requests' paths and a session for each role.
type platform struct {
	engine sqldb.Engine
	app    *app.App
	cfg    app.Config
	base   string
	exited chan struct{} // closed when Run returns: the platform went down
	// values are the real resources the placeholders of the corpus name.
	values  map[string]string
	callers []*caller
	// client sends the fuzzed requests; aside keeps the sessions, from
	// another loopback address, so that the fuzzed failed logins, which
	// lock their address, never lock it.
	client, aside *http.Client
}

// caller is anonymous (role "") or a role's session: main for every
// request but the auth service's own, which can end or change the
// session they are made with (logout, second factor) and so get a
// scratch account of the role.
type caller struct {
	role          authn.Role
	main, scratch *identity
}

func (c *caller) String() string {
	if c.role == "" {
		return "anonymous"
	}
	return string(c.role)
}

// identity is an account and its current session.
type identity struct {
	role                     authn.Role
	email, password          string
	access, refresh          string
	replaceable, unrenewable bool
}

func boot(f *testing.F, e sqldb.Engine) *platform {
	env := map[string]string{"DATA_DIR": f.TempDir(), "REGION": "EU", "SHUTDOWN_TIMEOUT": "20s",
		"ADMIN_EMAIL": adminEmail, "ADMIN_PASSWORD": journey.Password, "AUTH_BCRYPT_COST": "4"}
	if e == sqldb.Postgres {
		env["DATABASE_URL"] = apptest.Database(f)
	}
	cfg, err := app.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		f.Fatal(err)
	}
	a, err := app.New(f.Context(), cfg, []string{app.All}, app.Options{Listener: testkit.Listen(f), Log: slog.Default()})
	if err != nil {
		f.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	p := &platform{engine: e, app: a, cfg: cfg, base: "http://" + a.Addr().String(), exited: make(chan struct{})}
	var runErr error
	go func() {
		runErr = a.Run(ctx)
		close(p.exited)
	}()
	f.Cleanup(func() {
		stop()
		<-p.exited
		if runErr != nil {
			f.Errorf("%s: shutdown: %v", e, runErr)
		}
	})
	p.client = &http.Client{
		Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8},
		// A redirect is an answer like any other: it is not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	p.aside = &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	f.Cleanup(p.client.CloseIdleConnections)
	f.Cleanup(p.aside.CloseIdleConnections)
	p.resources(f)
	return p
}

// resources makes the real resources of the corpus' placeholders: a
// patient with a case in each state, a verified SENIOR neurologist who
// claimed some of them and wrote an approved opinion, a follow-up
// question on it, a licence waiting for an admin, and the AI processing
// of the claimed case.
func (p *platform) resources(f *testing.F) {
	j := journey.Connect(f, p.base)
	admin := j.Login(f, adminEmail, journey.Password)
	patient := j.RegisterPatient(f)
	pro := j.RegisterProfessional(f)
	j.Credential(f, admin, pro, "SENIOR")
	draft := j.OpenCase(f, patient, false)
	pool := j.OpenCase(f, patient, true)
	j.WaitAvailable(f, pro, pool)
	claimed := j.OpenCase(f, patient, true)
	assignment := j.Claim(f, pro, claimed)
	answered := j.OpenCase(f, patient, true)
	opinion := j.Approved(f, pro, answered)
	q := j.Do(f, patient.Token, http.MethodPost, "/api/v1/cases/"+answered.ID+"/opinion/questions",
		map[string]string{"question": "May I drive?"}).Want(f, http.StatusCreated)
	// The claimed case's AI pre-analysis, which its patient, its
	// professional and admins follow.
	analysis := j.Do(f, admin, http.MethodGet, "/api/v1/cases/"+claimed.ID+"/analysis", nil).Want(f, http.StatusOK)
	// A payment of the patient's, its invoice, and the payout batch of
	// the approved opinion's earning.
	paid := j.OpenCase(f, patient, false)
	j.Do(f, patient.Token, http.MethodPost, "/api/v1/cases/"+paid.ID+"/submit", map[string]bool{"confirmIncomplete": true}).
		Want(f, http.StatusOK)
	payment := journey.Str(f, j.Pay(f, patient, paid, "pm_card_visa").Want(f, http.StatusCreated), "id")
	invoice := j.First(f, patient.Token, "/api/v1/invoices?caseId="+paid.ID)
	now := time.Now().UTC()
	var batch string
	journey.Eventually(f, "the opinion's earning in a payout batch", func() (bool, string) {
		r := j.Do(f, admin, http.MethodPost, "/api/v1/payouts", map[string]string{
			"periodStart": now.Format(time.DateOnly), "periodEnd": now.Format(time.DateOnly)})
		if r.Status != http.StatusCreated {
			return false, string(r.Body)
		}
		batch = journey.Str(f, r.Want(f, http.StatusCreated), "id")
		return true, ""
	})
	// A notice of the patient's, and a delivery that was sent.
	notice := j.First(f, patient.Token, "/api/v1/notifications?limit=1")
	delivery := j.First(f, admin, "/api/v1/notifications/deliveries?status=SENT&limit=1")
	p.values = map[string]string{
		"notice": notice, "delivery": delivery, "payment": payment, "invoice": invoice, "batch": batch, "month": now.Format("2006-01"),
		"patient": patient.ID, "pro": pro.ID, "case": draft.ID, "caseNumber": draft.Number,
		"poolCase": pool.ID, "claimedCase": claimed.ID, "assignment": assignment,
		"opinionCase": answered.ID, "opinion": opinion, "question": journey.Str(f, q, "id"),
		"processing": journey.Str(f, analysis, "processingId"),
		"credential": j.SubmitLicence(f, pro), "password": journey.Password,
		"record": p.record(f, patient.Token, draft.ID), "upload": p.upload(f, patient.Token, draft.ID),
	}
	p.callers = []*caller{{}}
	for _, acc := range []struct {
		role authn.Role
		journey.Account
	}{{authn.RolePatient, patient}, {authn.RoleProfessional, pro}, {authn.RoleAdmin, journey.Account{Email: adminEmail, Password: journey.Password}}} {
		id := &identity{role: acc.role, email: acc.Email, password: acc.Password}
		if err := p.login(f.Context(), id); err != nil {
			f.Fatalf("%s: %v", acc.role, err)
		}
		p.callers = append(p.callers, &caller{role: acc.role, main: id})
	}
}

// identity is the session c makes the request to target with (nil for
// anonymous): the auth service's own operations get a scratch account.
func (p *platform) identity(ctx context.Context, c *caller, target string) (*identity, error) {
	switch {
	case c.role == "":
		return nil, nil
	case !strings.HasPrefix(target, "/api/v1/auth/"):
		return c.main, nil
	case c.scratch == nil:
		id, err := p.newAccount(ctx, c.role)
		if err != nil {
			return nil, fmt.Errorf("a scratch %s account: %w", c.role, err)
		}
		c.scratch = id
	}
	return c.scratch, nil
}

// keep renews id's session after a request answered 401 when the session
// did end (the request logged it out, or it expired in a long run): by
// its refresh token, else by logging in again, else — for a scratch
// account that turned on a second factor — with a new account.
func (p *platform) keep(t *testing.T, c *caller, id *identity) {
	ctx := t.Context()
	if _, err := p.app.Verify(ctx, id.access); err == nil || id.unrenewable {
		return
	}
	if p.renew(ctx, id) == nil || p.login(ctx, id) == nil {
		return
	}
	if id.replaceable {
		fresh, err := p.newAccount(ctx, c.role)
		if err != nil {
			t.Errorf("%s: a new scratch %s account: %v", p.engine, c.role, err)
			return
		}
		c.scratch = fresh
		return
	}
	// The rest of the run goes on as this role's stale token: the
	// requests still test the platform, as a logged-out caller.
	id.unrenewable = true
	t.Logf("%s: the %s session ended for good", p.engine, c.role)
}

// newAccount registers a scratch account of role and logs it in.
func (p *platform) newAccount(ctx context.Context, role authn.Role) (*identity, error) {
	id := &identity{role: role, email: "fuzz." + uuid.NewString()[:12] + "@example.org", password: journey.Password, replaceable: true}
	var path string
	var body map[string]any
	switch role {
	case authn.RolePatient:
		path, body = "/api/v1/patients", map[string]any{"firstName": "Scratch", "lastName": "Patient",
			"dateOfBirth": "1980-01-02", "email": id.email, "password": id.password}
	case authn.RoleProfessional:
		path, body = "/api/v1/professionals", map[string]any{"firstName": "Scratch", "lastName": "Doctor",
			"email": id.email, "password": id.password, "specialties": []string{"NEUROLOGY"}, "languages": []string{"en"}, "country": "DE"}
	case authn.RoleAdmin:
		if _, err := app.CreateAdmin(ctx, p.cfg, id.email, id.password, slog.Default()); err != nil {
			return nil, err
		}
	}
	if path != "" {
		if status, b, err := p.post(ctx, path, body); err != nil || status != http.StatusCreated {
			return nil, fmt.Errorf("register: %d %s %v", status, b, err)
		}
	}
	return id, p.login(ctx, id)
}

// login starts a session of id.
func (p *platform) login(ctx context.Context, id *identity) error {
	return p.session(ctx, "/api/v1/auth/login", map[string]any{"email": id.email, "password": id.password}, id)
}

// renew refreshes id's session.
func (p *platform) renew(ctx context.Context, id *identity) error {
	return p.session(ctx, "/api/v1/auth/refresh", map[string]any{"refreshToken": id.refresh}, id)
}

func (p *platform) session(ctx context.Context, path string, body map[string]any, id *identity) error {
	status, b, err := p.post(ctx, path, body)
	if err != nil {
		return err
	}
	var r struct{ AccessToken, RefreshToken string }
	if status != http.StatusOK || json.Unmarshal(b, &r) != nil || r.AccessToken == "" {
		return fmt.Errorf("%s: %d %s", path, status, b)
	}
	id.access, id.refresh = r.AccessToken, r.RefreshToken
	return nil
}

// record uploads a small PDF to case caseID as token's holder and
// returns the record's id.
func (p *platform) record(f *testing.F, token, caseID string) string {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", "report.pdf")
	if err != nil {
		f.Fatal(err)
	}
	part.Write([]byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"))
	mw.Close()
	res := p.raw(f, http.MethodPost, "/api/v1/cases/"+caseID+"/documents?kind=OTHER", token,
		http.Header{"Content-Type": {mw.FormDataContentType()}}, body.Bytes(), http.StatusCreated)
	var doc struct{ ID string }
	if err := json.Unmarshal(res.body, &doc); err != nil || doc.ID == "" {
		f.Fatalf("record: %s", res.body)
	}
	return doc.ID
}

// upload starts a resumable upload to case caseID as token's holder and
// returns its id.
func (p *platform) upload(f *testing.F, token, caseID string) string {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	res := p.raw(f, http.MethodPost, "/api/v1/uploads", token, http.Header{"Tus-Resumable": {"1.0.0"}, "Upload-Length": {"1000"},
		"Upload-Metadata": {"caseId " + b64(caseID) + ",kind " + b64("OTHER") + ",filename " + b64("notes.txt")}}, nil, http.StatusCreated)
	loc := res.header.Get("Location")
	return loc[strings.LastIndex(loc, "/")+1:]
}

type rawAnswer struct {
	header http.Header
	body   []byte
}

// raw sends a request with headers h and body from the side address, and
// fails f unless it is answered want.
func (p *platform) raw(f *testing.F, method, path, token string, h http.Header, body []byte, want int) rawAnswer {
	req, err := http.NewRequestWithContext(f.Context(), method, p.base+path, bytes.NewReader(body))
	if err != nil {
		f.Fatal(err)
	}
	req.Header = h
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := p.aside.Do(req)
	if err != nil {
		f.Fatal(err)
	}
	defer res.Body.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(res.Body); err != nil || res.StatusCode != want {
		f.Fatalf("%s %s: %d %s %v", method, path, res.StatusCode, out.Bytes(), err)
	}
	return rawAnswer{res.Header, out.Bytes()}
}

// post sends a JSON body from the side address.
func (p *platform) post(ctx context.Context, path string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := p.aside.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var out bytes.Buffer
	_, err = out.ReadFrom(res.Body)
	return res.StatusCode, out.Bytes(), err
}
