// Package authz_test is the authorisation matrix: it boots the whole
// platform, walks EVERY operation of the merged OpenAPI document as an
// anonymous caller, patient A, patient B, a professional and an admin, all
// aimed at patient A's data, and fails on any answer the operation's
// declared policy (x-policy) and patient ownership do not explain — an
// unexpected allow above all. An operation without a policy, or without an
// entry in this file's request table, fails it too, so a new route cannot
// ship unexamined. The callers hold real access tokens, obtained by
// logging in through POST /api/v1/auth/login.
package authz_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to create the run's database

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/app/apptest"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/test/journey"
)

// request says how to call one operation against patient A's data. query
// and body are built per call (registrations need fresh emails); ofA says
// the call reaches patient A's data, so that patient B must be refused
// whatever the policy claims. answer is the status every admitted caller
// gets when the body is meant to fail (a bogus token, a wrong code), 0
// for any 2xx; ownSession marks a call that ends the caller's session, so
// it is made with the token of a fresh login.
type request struct {
	query      func(f *fixtures) string
	body       func(f *fixtures) any
	ofA        bool
	answer     int
	ownSession bool
	// owners are the callers whose data the call reaches, when not only
	// patient A's (ofA): an owned policy refuses every other caller but
	// an admin with 404.
	owners []string
	// raw, for an operation that takes no JSON (uploads), is the body
	// and the headers sent instead of body.
	raw func(t *testing.T, f *fixtures) (http.Header, []byte)
	// standIn marks a call that destroys the patient it reaches (an
	// erasure): each call reaches a patient registered for it, who makes
	// the call in patient A's place.
	standIn bool
	// personal marks the owners' own state (a notice's read mark), which
	// an admin does not reach either: 404 to them too.
	personal bool
}

// ownedBy names the callers the call's data belongs to.
func (r request) ownedBy() []string {
	if r.owners == nil && r.ofA {
		return []string{"patient A"}
	}
	return r.owners
}

var (
	theProfessional = []string{"professional"}
	aAndAssignee    = []string{"patient A", "professional"}
)

// requests is the matrix's table: every operation of the merged spec must
// have an entry. Extend it with each new route.
var requests = merged(moneyRequests, platformRequests, map[string]request{
	"POST /api/v1/patients":                {body: func(*fixtures) any { return registration() }},
	"GET /api/v1/patients/me":              {},
	"GET /api/v1/patients/{id}":            {ofA: true},
	"PATCH /api/v1/patients/{id}":          {ofA: true, body: func(*fixtures) any { return map[string]any{"smsNotifications": false} }},
	"GET /api/v1/patients/{id}/access-log": {ofA: true},
	"GET /api/v1/patients/{id}/export":     {ofA: true},
	"DELETE /api/v1/patients/{id}": {ofA: true, standIn: true, body: func(*fixtures) any {
		return map[string]string{"password": journey.Password}
	}},
	"POST /api/v1/cases":                    {ofA: true, body: func(f *fixtures) any { return newCase(f.a) }},
	"GET /api/v1/cases":                     {ofA: true, query: func(f *fixtures) string { return "customerId=" + f.a }},
	"GET /api/v1/cases/{id}":                {ofA: true},
	"GET /api/v1/cases/{caseNumber}/status": {ofA: true},
	"POST /api/v1/cases/{id}/submit":        {ofA: true, body: func(*fixtures) any { return map[string]bool{"confirmIncomplete": true} }},
	"POST /api/v1/cases/{id}/cancel":        {ofA: true},
	"POST /api/v1/cases/{id}/documents": {ofA: true, query: func(*fixtures) string { return "kind=IMAGING_REPORT" },
		raw: func(t *testing.T, _ *fixtures) (http.Header, []byte) { return multipartPDF(t) }},
	"GET /api/v1/cases/{id}/documents": {ofA: true},
	"GET /api/v1/cases/{id}/checklist": {ofA: true},
	"GET /api/v1/records/{id}":         {ofA: true},
	"GET /api/v1/records/{id}/content": {ofA: true},
	"DELETE /api/v1/records/{id}":      {ofA: true},
	// Each call starts an upload of its own to a draft case of A's.
	"POST /api/v1/uploads": {ofA: true, raw: func(t *testing.T, f *fixtures) (http.Header, []byte) {
		c := f.j.OpenCase(t, f.patientA, false)
		b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
		return http.Header{"Tus-Resumable": {"1.0.0"}, "Upload-Length": {"100"},
			"Upload-Metadata": {"caseId " + b64(c.ID) + ",kind " + b64("OTHER") + ",filename " + b64("notes.txt")}}, nil
	}},
	"HEAD /api/v1/uploads/{id}": {ofA: true, raw: tusHeaders(nil)},
	// Part of the upload: the rest would make it a record.
	"PATCH /api/v1/uploads/{id}":     {ofA: true, raw: tusHeaders([]byte("the first line of my notes\n"))},
	"DELETE /api/v1/uploads/{id}":    {ofA: true, raw: tusHeaders(nil)},
	"POST /api/v1/documents/analyze": {body: func(f *fixtures) any { return map[string]string{"documentId": f.record} }},
	// A record of A's case, claimed by the professional, analysed.
	"GET /api/v1/documents/analysis/{documentId}": {owners: theProfessional},
	"GET /api/v1/ai/providers":                    {},
	"GET /api/v1/ai/usage":                        {},
	// No AI request was made for the scene's case.
	"GET /api/v1/ai/usage/cases/{caseId}": {answer: http.StatusNotFound},
	// ai-orchestration. A record of a draft case of A's, queued for
	// analysis again.
	"POST /api/v1/ai/process-document": {body: func(f *fixtures) any { return map[string]string{"documentId": f.record} }},
	// The processing of A's case, pre-analysed and claimed by the
	// professional: its patient and its assignee follow it.
	"GET /api/v1/ai/status/{processingId}": {ofA: true, owners: aAndAssignee},
	// The same case's pre-analysis: its assignee reads it, its patient
	// never (only what the professional reviewed, in the opinion).
	"GET /api/v1/cases/{caseId}/analysis": {owners: theProfessional},
	"GET /api/v1/ai/triage":               {},
	// A case of A's the AI gave up on (see failingProvider): retried, or
	// sent on.
	"POST /api/v1/ai/triage/{caseId}/retry":   {},
	"POST /api/v1/ai/triage/{caseId}/send-on": {},

	"GET /api/v1/audit":        {},
	"GET /api/v1/audit/verify": {},

	"GET /api/v1/consents/texts": {},
	"GET /api/v1/consents":       {ofA: true, query: func(f *fixtures) string { return "patientId=" + f.a }},
	// Each patient grants their own consent, to the text in force.
	"POST /api/v1/consents": {body: func(f *fixtures) any {
		return map[string]string{"purpose": "RESEARCH", "version": f.consentVersion("RESEARCH")}
	}},
	"DELETE /api/v1/consents/{purpose}": {},

	"POST /api/v1/auth/login": {body: func(f *fixtures) any {
		return map[string]string{"email": f.accounts["patient A"].email, "password": f.accounts["patient A"].password}
	}},
	"POST /api/v1/auth/2fa/verify": {answer: http.StatusUnauthorized, body: func(*fixtures) any {
		return map[string]string{"challengeId": uuid.NewString(), "code": "123456"}
	}},
	"POST /api/v1/auth/refresh": {answer: http.StatusUnauthorized, body: func(*fixtures) any {
		return map[string]string{"refreshToken": uuid.NewString()}
	}},
	"POST /api/v1/auth/logout": {ownSession: true},
	"POST /api/v1/auth/password-reset": {body: func(*fixtures) any {
		return map[string]string{"email": "nobody." + uuid.NewString()[:12] + "@example.org"}
	}},
	"POST /api/v1/auth/password-reset/confirm": {answer: http.StatusUnprocessableEntity, body: func(*fixtures) any {
		return map[string]string{"token": uuid.NewString(), "newPassword": "another long passphrase"}
	}},
	"POST /api/v1/auth/2fa/totp": {body: func(*fixtures) any { return map[string]string{"password": journey.Password} }},
	// Enabling TOTP would change the callers' later logins: a wrong code.
	"POST /api/v1/auth/2fa/totp/confirm": {answer: http.StatusUnprocessableEntity, body: func(*fixtures) any {
		return map[string]string{"code": "000000"}
	}},
	// NONE keeps the callers' later logins as they are.
	"POST /api/v1/auth/2fa/method": {body: func(*fixtures) any {
		return map[string]string{"method": "NONE", "password": journey.Password}
	}},
	// Without TOTP there are no recovery codes to replace.
	"POST /api/v1/auth/2fa/recovery-codes": {answer: http.StatusConflict, body: func(*fixtures) any {
		return map[string]string{"password": journey.Password}
	}},
	"POST /api/v1/professionals/auth": {body: func(f *fixtures) any {
		return map[string]string{"email": f.accounts["professional"].email, "password": f.accounts["professional"].password}
	}},
	"GET /.well-known/jwks.json": {},

	"POST /api/v1/professionals":                  {body: func(*fixtures) any { return professionalRegistration() }},
	"GET /api/v1/professionals/{id}":              {owners: theProfessional},
	"PATCH /api/v1/professionals/{id}":            {owners: theProfessional, body: func(*fixtures) any { return map[string]any{"bio": "Neurology, 13 years"} }},
	"POST /api/v1/professionals/{id}/credentials": {owners: theProfessional, body: func(*fixtures) any { return licence() }},
	"GET /api/v1/professionals/{id}/credentials":  {owners: theProfessional},
	"GET /api/v1/professionals/{id}/standing":     {owners: theProfessional},
	"POST /api/v1/professionals/{id}/level": {owners: theProfessional, body: func(*fixtures) any {
		return map[string]string{"level": "SENIOR"}
	}},
	"POST /api/v1/credentials/{id}/verify": {},
	"POST /api/v1/credentials/{id}/reject": {body: func(*fixtures) any { return map[string]string{"reason": "the register has no such licence"} }},

	"GET /api/v1/assignments":                            {owners: theProfessional},
	"GET /api/v1/assignments/available/{professionalId}": {owners: theProfessional},
	"POST /api/v1/assignments/claim/{caseId}":            {},
	"POST /api/v1/assignments/release/{assignmentId}":    {owners: theProfessional},

	"PUT /api/v1/cases/{id}/opinion":            {owners: theProfessional, body: func(*fixtures) any { return journey.Draft }},
	"POST /api/v1/cases/{id}/opinion/submit":    {owners: theProfessional},
	"GET /api/v1/cases/{id}/opinion":            {owners: aAndAssignee},
	"POST /api/v1/cases/{id}/opinion/questions": {ofA: true, body: func(*fixtures) any { return map[string]string{"question": "May I drive?"} }},
	"GET /api/v1/opinions/awaiting-review":      {},
	"GET /api/v1/opinions/{id}":                 {owners: theProfessional},
	"GET /api/v1/opinions/{id}/report":          {owners: aAndAssignee},
	// The only professional caller is the author, who may not review.
	"POST /api/v1/opinions/{id}/review": {owners: theProfessional, answer: http.StatusForbidden, body: func(*fixtures) any {
		return map[string]string{"decision": "APPROVE"}
	}},
	"POST /api/v1/opinions/{id}/questions/{questionId}/answer": {owners: theProfessional, body: func(*fixtures) any {
		return map[string]string{"answer": "Yes, once the attacks are under control."}
	}},
})

// merged is the union of tables, which name distinct operations.
func merged(tables ...map[string]request) map[string]request {
	out := map[string]request{}
	for _, t := range tables {
		maps.Copy(out, t)
	}
	return out
}

// scene makes the data one call of an operation reaches, fresh for each
// call so that one caller's command never depends on another's, and
// returns the values of the path's parameters. A path it does not know
// fails the test: extend it with each new kind of resource.
func (f *fixtures) scene(t *testing.T, method, path string) map[string]string {
	t.Helper()
	j, pro := f.j, f.pro
	switch {
	case !strings.Contains(path, "{"):
		return nil
	}
	if values, ok := f.moneyScene(t, path); ok {
		return values
	}
	if values, ok := f.platformScene(t, path); ok {
		return values
	}
	switch {
	case strings.HasPrefix(path, "/api/v1/patients/"):
		return map[string]string{"id": f.a}
	case path == "/api/v1/documents/analysis/{documentId}":
		_, id, _ := f.claimedWithRecord(t)
		j.Do(t, f.accounts["admin"].token, http.MethodPost, "/api/v1/documents/analyze", map[string]string{"documentId": id}).
			Want(t, http.StatusOK)
		return map[string]string{"documentId": id}
	case path == "/api/v1/ai/status/{processingId}":
		c, _, _ := f.claimedWithRecord(t)
		return map[string]string{"processingId": f.preAnalysed(t, c)}
	case path == "/api/v1/cases/{caseId}/analysis":
		c, _, _ := f.claimedWithRecord(t)
		f.preAnalysed(t, c)
		return map[string]string{"caseId": c.ID}
	case strings.HasPrefix(path, "/api/v1/ai/triage/"):
		return map[string]string{"caseId": f.orphanedCase(t)}
	case path == "/api/v1/ai/usage/cases/{caseId}":
		return map[string]string{"caseId": j.OpenCase(t, f.patientA, false).ID}
	case path == "/api/v1/consents/{purpose}":
		return map[string]string{"purpose": "RESEARCH"}
	case strings.HasPrefix(path, "/api/v1/professionals/"):
		return map[string]string{"id": pro.ID}
	case strings.HasPrefix(path, "/api/v1/credentials/"):
		return map[string]string{"id": j.SubmitLicence(t, pro)}
	case path == "/api/v1/assignments/available/{professionalId}":
		return map[string]string{"professionalId": pro.ID}
	case path == "/api/v1/assignments/claim/{caseId}":
		c := j.OpenCase(t, f.patientA, true)
		j.WaitAvailable(t, pro, c)
		return map[string]string{"caseId": c.ID}
	case path == "/api/v1/assignments/release/{assignmentId}":
		return map[string]string{"assignmentId": j.Claim(t, pro, j.OpenCase(t, f.patientA, true))}
	case path == "/api/v1/cases/{id}/opinion" && method == http.MethodPut:
		c := j.OpenCase(t, f.patientA, true)
		j.Claim(t, pro, c)
		return map[string]string{"id": c.ID}
	case path == "/api/v1/cases/{id}/opinion/submit":
		c := j.OpenCase(t, f.patientA, true)
		j.Claim(t, pro, c)
		j.Do(t, pro.Token, http.MethodPut, "/api/v1/cases/"+c.ID+"/opinion", journey.Draft).Want(t, http.StatusOK)
		return map[string]string{"id": c.ID}
	case strings.HasPrefix(path, "/api/v1/cases/{id}/opinion"):
		c := j.OpenCase(t, f.patientA, true)
		j.Approved(t, pro, c)
		return map[string]string{"id": c.ID}
	case strings.HasPrefix(path, "/api/v1/cases/"):
		c := j.OpenCase(t, f.patientA, false)
		return map[string]string{"id": c.ID, "caseNumber": c.Number}
	case strings.HasPrefix(path, "/api/v1/records/"):
		c := j.OpenCase(t, f.patientA, false)
		h, body := multipartPDF(t)
		return map[string]string{"id": f.uploadRecord(t, c.ID, h, body)}
	case strings.HasPrefix(path, "/api/v1/uploads/"):
		h, _ := requests["POST /api/v1/uploads"].raw(t, f)
		return map[string]string{"id": f.startUpload(t, h)}
	case strings.HasPrefix(path, "/api/v1/opinions/"):
		c := j.OpenCase(t, f.patientA, true)
		out := map[string]string{"id": j.Approved(t, pro, c)}
		if strings.Contains(path, "{questionId}") {
			q := j.Do(t, f.patientA.Token, http.MethodPost, "/api/v1/cases/"+c.ID+"/opinion/questions",
				map[string]string{"question": "May I drive?"}).Want(t, http.StatusCreated)
			out["questionId"] = journey.Str(t, q, "id")
		}
		return out
	}
	t.Fatalf("%s %s: the matrix has no scene for this path: add one", method, path)
	return nil
}

type caller struct {
	name string
	role authn.Role // "" is anonymous
	isB  bool
}

var callers = []caller{
	{name: "anonymous"},
	{name: "patient A", role: authn.RolePatient},
	{name: "patient B", role: authn.RolePatient, isB: true},
	{name: "professional", role: authn.RoleProfessional},
	{name: "admin", role: authn.RoleAdmin},
}

// expect is the refusal the policy gives a caller on A's data (see
// package kit/authz), or 0 when the policy admits the caller.
func expect(p authz.Policy, c caller) int {
	switch {
	case p.IsPublic():
		return 0
	case c.role == "":
		return http.StatusUnauthorized
	case !p.Admits(c.role):
		return http.StatusForbidden
	case c.isB && p.IsOwned():
		return http.StatusNotFound
	}
	return 0
}

func TestMatrix(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir(), "REGION": "EU", "SHUTDOWN_TIMEOUT": "20s",
				"ADMIN_EMAIL": "admin@example.org", "ADMIN_PASSWORD": journey.Password} // every caller shares it: some bodies carry it
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = apptest.Database(t)
			}
			f := boot(t, env)
			matrix(t, f)
			t.Run("a professional the case is not assigned to", func(t *testing.T) { unassigned(t, f) })
			t.Run("a professional's search", func(t *testing.T) { searchScopes(t, f) })
		})
	}
}

type ops map[string]authz.Policy // "METHOD path" → its policy

func matrix(t *testing.T, f *fixtures) {
	declared := f.spec(t)
	for key := range requests {
		if _, ok := declared[key]; !ok {
			t.Errorf("%s is in the matrix but not in the merged spec: remove it or route it", key)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(declared)) {
		policy := declared[key]
		req, ok := requests[key]
		if !ok {
			t.Errorf("%s has no entry in the matrix's request table: add one", key)
			continue
		}
		if req.ofA && policy.Admits(authn.RolePatient) && !policy.IsPublic() && !policy.IsOwned() {
			t.Errorf("%s reaches a patient's data but its policy %s does not restrict patients to their own", key, policy)
		}
		t.Run(key, func(t *testing.T) {
			for _, c := range callers {
				// A refusal is only ever expected where the policy restricts
				// callers: a public operation's answer is the request's own.
				refusal := expect(policy, c)
				// Someone's data is missing to everyone else but an admin:
				// patient A's to patient B and to a professional no case of
				// A's is assigned to.
				if owners := req.ownedBy(); refusal == 0 && !policy.IsPublic() && owners != nil &&
					(c.role != authn.RoleAdmin || req.personal) && !slices.Contains(owners, c.name) {
					refusal = http.StatusNotFound
				}
				status, body := f.call(t, c, key, req)
				switch {
				case refusal != 0 && status/100 == 2:
					t.Errorf("UNEXPECTED ALLOW: %s (%s): %d, want %d: %s", c.name, policy, status, refusal, body)
				case refusal != 0 && status != refusal:
					t.Errorf("%s (%s): %d, want %d: %s", c.name, policy, status, refusal, body)
				case refusal == 0 && req.answer == 0 && status/100 != 2:
					t.Errorf("%s (%s): %d, want 2xx: %s", c.name, policy, status, body)
				case refusal == 0 && req.answer != 0 && status != req.answer:
					t.Errorf("%s (%s): %d, want %d: %s", c.name, policy, status, req.answer, body)
				case status/100 != 2 && !strings.HasPrefix(key, "HEAD ") && !isProblem(body, status):
					t.Errorf("%s: %d is not a problem document: %s", c.name, status, body)
				}
			}
		})
	}
}

// spec reads the merged document's operations and their policies, and
// checks that every local service's own operations carry a policy and are
// routed, so none hides from the matrix outside the merged document.
func (f *fixtures) spec(t *testing.T) ops {
	t.Helper()
	status, body := f.do(t, "", http.MethodGet, "/openapi.json", nil)
	if status != http.StatusOK {
		t.Fatalf("openapi: %d", status)
	}
	var doc struct {
		Paths map[string]map[string]map[string]any
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	out := ops{}
	for path, item := range doc.Paths {
		for method, op := range item {
			key := strings.ToUpper(method) + " " + path
			name, ok := op[authz.Extension].(string)
			if !ok {
				t.Errorf("%s declares no %s", key, authz.Extension)
				continue
			}
			p, err := authz.Parse(name)
			if err != nil {
				t.Errorf("%s: %v", key, err)
				continue
			}
			out[key] = p
		}
	}
	targets, err := app.Resolve([]string{app.All})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		spec := f.app.OpenAPI(tg.Name)
		if spec == nil {
			continue
		}
		for _, key := range authz.Missing(spec) {
			t.Errorf("%s: %s declares no policy", tg.Name, key)
		}
		for path, item := range spec.Paths {
			for method, op := range map[string]*huma.Operation{"GET": item.Get, "PUT": item.Put, "POST": item.Post, "DELETE": item.Delete, "PATCH": item.Patch} {
				if op == nil {
					continue
				}
				if _, routed := doc.Paths[path][strings.ToLower(method)]; !routed {
					t.Errorf("%s serves %s %s, which the gateway does not route: the matrix cannot reach it", tg.Name, method, path)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("the merged spec has no operations")
	}
	return out
}

// call makes one concrete request of the operation key as c.
func (f *fixtures) call(t *testing.T, c caller, key string, req request) (int, []byte) {
	t.Helper()
	method, path, _ := strings.Cut(key, " ")
	values := f.scene(t, method, path)
	token := f.token(c)
	if req.standIn {
		p := f.j.RegisterPatient(t)
		values = map[string]string{"id": p.ID}
		if c.name == "patient A" {
			token = p.Token
		}
	}
	concrete := path
	for {
		start := strings.Index(concrete, "{")
		if start < 0 {
			break
		}
		end := strings.Index(concrete[start:], "}") + start
		v, ok := values[concrete[start+1:end]]
		if !ok {
			t.Fatalf("%s: the scene has no value for {%s}", key, concrete[start+1:end])
		}
		concrete = concrete[:start] + v + concrete[end+1:]
	}
	if req.query != nil {
		concrete += "?" + req.query(f)
	}
	var body any
	if req.body != nil {
		body = req.body(f)
	}
	if req.ownSession && token != "" {
		token = f.login(t, *f.accounts[c.name])
	}
	if req.raw != nil {
		h, raw := req.raw(t, f)
		return f.send(t, token, method, concrete, h, raw)
	}
	return f.do(t, token, method, concrete, body)
}

func isProblem(body []byte, status int) bool {
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	return json.Unmarshal(body, &p) == nil && p.Status == status && p.Title != ""
}

// fixtures is the running platform with patients A and B registered and
// every caller but the anonymous one logged in.
type fixtures struct {
	app      *app.App
	base     string
	accounts map[string]*account // by caller name
	a, b     string
	// j drives the platform for the scenes; patientA and pro are the
	// callers "patient A" and "professional" (a verified SENIOR neurologist).
	j        journey.Platform
	patientA journey.Account
	pro      journey.Account
	// record is a record of draft, a draft case of patient A's.
	record, draft string
	// lastPaid is the case f.pay paid for last. The scenes that only
	// read (or that admit only admins) share a payment, an invoice and a
	// payout batch, made at the first: every paid case goes through the
	// AI, which the triage scenes wait on.
	lastPaid              journey.Case
	paid, invoiced, batch string
}

// account is a caller's login and the access token it got.
type account struct{ email, password, token string }

func (f *fixtures) token(c caller) string {
	if a := f.accounts[c.name]; a != nil {
		return a.token
	}
	return ""
}

func boot(t *testing.T, env map[string]string) *fixtures {
	t.Helper()
	env["AUTH_BCRYPT_COST"] = "4"
	failingProvider(t, env)
	cfg, err := app.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, []string{app.All}, app.Options{
		Listener: testkit.Listen(t), Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	f := &fixtures{app: a, base: "http://" + a.Addr().String(), accounts: map[string]*account{}}
	f.j = journey.Connect(t, f.base)
	// Registration is public and creates the login, whose user id is the
	// profile's; the first admin comes from ADMIN_EMAIL.
	adminEmail, adminPassword := env["ADMIN_EMAIL"], env["ADMIN_PASSWORD"]
	adminToken := f.j.Login(t, adminEmail, adminPassword)
	f.patientA = f.j.RegisterPatient(t)
	pb := f.j.RegisterPatient(t)
	f.pro = f.j.RegisterProfessional(t)
	f.j.Credential(t, adminToken, f.pro, "SENIOR")
	f.a, f.b = f.patientA.ID, pb.ID
	for name, acc := range map[string]journey.Account{"patient A": f.patientA, "patient B": pb, "professional": f.pro,
		"admin": {Email: adminEmail, Password: adminPassword, Token: adminToken}} {
		f.accounts[name] = &account{email: acc.Email, password: acc.Password, token: acc.Token}
	}
	draft := f.j.OpenCase(t, f.patientA, false)
	h, body := multipartText(t)
	f.record, f.draft = f.uploadRecord(t, draft.ID, h, body), draft.ID
	// Where the professional is paid, for the payout batch's SEPA file.
	f.j.Do(t, f.pro.Token, http.MethodPut, "/api/v1/professionals/"+f.pro.ID+"/payout-account",
		map[string]string{"holder": "Grace Neurologist", "iban": "DE89370400440532013000"}).Want(t, http.StatusOK)
	// Patient B has a case of their own, so refusals are not for want of one.
	if status, body := f.do(t, f.accounts["patient B"].token, http.MethodPost, "/api/v1/cases", newCase(f.b)); status != http.StatusCreated {
		t.Fatalf("B's case: %d %s", status, body)
	}
	return f
}

// login signs acc in and returns a new access token.
func (f *fixtures) login(t *testing.T, acc account) string {
	t.Helper()
	status, body := f.do(t, "", http.MethodPost, "/api/v1/auth/login", map[string]string{"email": acc.email, "password": acc.password})
	var r struct{ AccessToken string }
	if status != http.StatusOK || json.Unmarshal(body, &r) != nil || r.AccessToken == "" {
		t.Fatalf("login: %d %s", status, body)
	}
	return r.AccessToken
}

// consentVersion is the version of purpose's consent text in force, as
// GET /api/v1/consents/texts publishes it; "" when it cannot be read, which
// the grant then answers 409.
func (f *fixtures) consentVersion(purpose string) string {
	res, err := http.Get(f.base + "/api/v1/consents/texts")
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	var texts struct {
		Items []struct{ Purpose, Version string }
	}
	if json.NewDecoder(res.Body).Decode(&texts) != nil {
		return ""
	}
	for _, t := range texts.Items {
		if t.Purpose == purpose {
			return t.Version
		}
	}
	return ""
}

func registration() map[string]any {
	return map[string]any{
		"firstName": "Test", "lastName": "Patient", "dateOfBirth": "1980-01-02",
		"email": "p." + uuid.NewString()[:12] + "@example.org", "password": "a long enough passphrase",
	}
}

func newCase(customer string) map[string]any {
	return map[string]any{"customerId": customer, "specialty": "CARDIOLOGY",
		"title": "Palpitations", "question": "Should the arrhythmia be treated?"}
}

func (f *fixtures) do(t *testing.T, token, method, path string, body any) (int, []byte) {
	t.Helper()
	r := f.j.Do(t, token, method, path, body)
	return r.Status, r.Body
}

func professionalRegistration() map[string]any {
	return map[string]any{"firstName": "Test", "lastName": "Doctor", "email": "dr." + uuid.NewString()[:12] + "@example.org",
		"password": "a long enough passphrase", "specialties": []string{"CARDIOLOGY"}, "languages": []string{"en"}, "country": "FR"}
}

func licence() map[string]any {
	return map[string]any{"licenseNumber": "LIC-" + uuid.NewString()[:8], "issuingAuthority": "Ordre des médecins",
		"country": "FR", "specialty": "NEUROLOGY", "expiresAt": time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)}
}
