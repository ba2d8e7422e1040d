// Package journey drives a running platform over HTTP through its gateway
// the way its users do: patients, professionals and admins. The
// end-to-end and authorisation tests share it, so both walk the same
// steps; each step fails the test with the answer it got.
package journey

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Platform is a running gateway. With a Contract, every exchange is held
// to the published document.
type Platform struct {
	Base     string
	Contract *Contract
}

// Response is an answer: its status, content type and body.
type Response struct {
	Status int
	Type   string
	Body   []byte
}

// Do sends a request as the holder of token ("" is anonymous); body, when
// not nil, is sent as JSON.
func (p Platform) Do(t testing.TB, token, method, path string, body any) Response {
	t.Helper()
	return p.DoWith(t, token, method, path, body, nil)
}

// DoWith is Do with extra request headers, such as an Idempotency-Key.
func (p Platform) DoWith(t testing.TB, token, method, path string, body any, header http.Header) Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, p.Base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	var sent []byte
	if rd != nil {
		sent, _ = io.ReadAll(rd)
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if p.Contract != nil {
		for _, broken := range p.Contract.Check(req, sent, res, b) {
			t.Errorf("%s %s breaks the published document: %s", method, path, broken)
		}
	}
	return Response{res.StatusCode, res.Header.Get("Content-Type"), b}
}

// Want fails the test unless the answer has status; it returns the
// decoded JSON object (nil for other bodies).
func (r Response) Want(t testing.TB, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Str is a string field of a JSON object, which must be there.
func Str(t testing.TB, m map[string]any, field string) string {
	t.Helper()
	s, ok := m[field].(string)
	if !ok || s == "" {
		t.Fatalf("no %s in %v", field, m)
	}
	return s
}

// Eventually retries check until it reports done, for what events bring
// about in other services; it fails after 15 seconds with check's last
// word.
func Eventually(t testing.TB, what string, check func() (bool, string)) {
	t.Helper()
	EventuallyWithin(t, 15*time.Second, what, check)
}

// EventuallyWithin is Eventually with its own bound, for a platform under
// faults: what a killed consumer held comes back only after the bus'
// redelivery wait.
func EventuallyWithin(t testing.TB, bound time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		ok, last := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen: %s", what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// First is the id of the first item of the page listed at path for token,
// once there is one.
func (p Platform) First(t testing.TB, token, path string) string {
	t.Helper()
	var id string
	Eventually(t, "an item at "+path, func() (bool, string) {
		r := p.Do(t, token, http.MethodGet, path, nil)
		var page struct{ Items []struct{ ID string } }
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &page) != nil || len(page.Items) == 0 {
			return false, string(r.Body)
		}
		id = page.Items[0].ID
		return id != "", ""
	})
	return id
}

// Login signs in and returns the access token.
func (p Platform) Login(t testing.TB, email, password string) string {
	t.Helper()
	m := p.Do(t, "", http.MethodPost, "/api/v1/auth/login", map[string]string{"email": email, "password": password}).Want(t, http.StatusOK)
	return Str(t, m, "accessToken")
}

// Account is a registered login.
type Account struct {
	ID, Email, Password, Token string
}

// Password is every account's the helpers register.
const Password = "a long enough passphrase"

// RegisterPatient registers and logs in a patient who grants the consents
// a case needs on its way to an opinion: AI_PROCESSING and
// SHARE_WITH_PROFESSIONALS (without which a case never reaches the pool).
func (p Platform) RegisterPatient(t testing.TB) Account {
	t.Helper()
	return p.RegisterPatientConsenting(t, "AI_PROCESSING", "SHARE_WITH_PROFESSIONALS")
}

// RegisterPatientConsenting registers and logs in a patient who grants
// the consents for purposes, and no other.
func (p Platform) RegisterPatientConsenting(t testing.TB, purposes ...string) Account {
	t.Helper()
	a := Account{Email: "p." + uuid.NewString()[:12] + "@example.org", Password: Password}
	m := p.Do(t, "", http.MethodPost, "/api/v1/patients", map[string]any{
		"firstName": "Test", "lastName": "Patient", "dateOfBirth": "1980-01-02", "email": a.Email, "password": a.Password,
	}).Want(t, http.StatusCreated)
	a.ID = Str(t, m, "id")
	a.Token = p.Login(t, a.Email, a.Password)
	for _, purpose := range purposes {
		p.Grant(t, a, purpose)
	}
	return a
}

// Grant grants patient's consent for purpose to the text in force and
// returns the consent.
func (p Platform) Grant(t testing.TB, patient Account, purpose string) map[string]any {
	t.Helper()
	texts := p.Do(t, "", http.MethodGet, "/api/v1/consents/texts", nil)
	var in struct {
		Items []struct{ Purpose, Version string }
	}
	if texts.Want(t, http.StatusOK); json.Unmarshal(texts.Body, &in) != nil {
		t.Fatalf("consent texts: %s", texts.Body)
	}
	for _, text := range in.Items {
		if text.Purpose == purpose {
			return p.Do(t, patient.Token, http.MethodPost, "/api/v1/consents", map[string]string{"purpose": purpose, "version": text.Version}).
				Want(t, http.StatusOK)
		}
	}
	t.Fatalf("no consent text for %s: %s", purpose, texts.Body)
	return nil
}

// Withdraw withdraws patient's consent for purpose and returns the answer.
func (p Platform) Withdraw(t testing.TB, patient Account, purpose string) map[string]any {
	t.Helper()
	return p.Do(t, patient.Token, http.MethodDelete, "/api/v1/consents/"+purpose, nil).Want(t, http.StatusOK)
}

// Case is a patient's case.
type Case struct{ ID, Number string }

// OpenCase opens a NEUROLOGY case for patient; submitted, it goes to the
// pool.
func (p Platform) OpenCase(t testing.TB, patient Account, submit bool) Case {
	t.Helper()
	m := p.Do(t, patient.Token, http.MethodPost, "/api/v1/cases", map[string]any{"customerId": patient.ID,
		"specialty": "NEUROLOGY", "title": "Recurring migraines", "question": "Is the proposed preventive treatment right for me?"}).
		Want(t, http.StatusCreated)
	c := Case{Str(t, m, "id"), Str(t, m, "caseNumber")}
	if submit {
		// Without the records NEUROLOGY's checklist names: the records
		// journey (test/e2e TestRecords) uploads them.
		p.Submit(t, patient, c, map[string]bool{"confirmIncomplete": true})
	}
	return c
}

// Submit submits c with body and, when the platform asks for payment
// first, pays for it.
func (p Platform) Submit(t testing.TB, patient Account, c Case, body any) {
	t.Helper()
	m := p.Do(t, patient.Token, http.MethodPost, "/api/v1/cases/"+c.ID+"/submit", body).Want(t, http.StatusOK)
	if m["status"] == "AWAITING_PAYMENT" {
		p.Pay(t, patient, c, "pm_card_visa").Want(t, http.StatusCreated)
	}
}

// Pay gets a quote for c and pays it with the sandbox's payment method
// pm (Stripe's test methods: pm_card_visa succeeds).
func (p Platform) Pay(t testing.TB, patient Account, c Case, pm string) Response {
	t.Helper()
	q := p.Do(t, patient.Token, http.MethodPost, "/api/v1/pricing/quotes", map[string]string{"caseId": c.ID}).
		Want(t, http.StatusCreated)
	return p.DoWith(t, patient.Token, http.MethodPost, "/api/v1/payments",
		map[string]string{"caseId": c.ID, "quoteToken": Str(t, q, "token"), "paymentMethod": pm},
		http.Header{"Idempotency-Key": {uuid.NewString()}})
}

// RegisterProfessional onboards a NEUROLOGY professional speaking English
// and logs them in; they are PENDING and JUNIOR until credentialed.
func (p Platform) RegisterProfessional(t testing.TB) Account {
	t.Helper()
	a := Account{Email: "dr." + uuid.NewString()[:12] + "@example.org", Password: Password}
	m := p.Do(t, "", http.MethodPost, "/api/v1/professionals", map[string]any{
		"firstName": "Grace", "lastName": "Neurologist", "email": a.Email, "password": a.Password,
		"specialties": []string{"NEUROLOGY"}, "languages": []string{"en"}, "country": "DE", "bio": "Neurology, 12 years",
	}).Want(t, http.StatusCreated)
	a.ID = Str(t, m, "id")
	a.Token = p.Login(t, a.Email, a.Password)
	return a
}

// SubmitLicence submits a NEUROLOGY licence for pro, valid two years,
// once credentialing knows of them, and returns its id.
func (p Platform) SubmitLicence(t testing.TB, pro Account) string {
	t.Helper()
	var id string
	Eventually(t, "credentialing learns of the professional", func() (bool, string) {
		r := p.Do(t, pro.Token, http.MethodPost, "/api/v1/professionals/"+pro.ID+"/credentials", map[string]any{
			"licenseNumber": "LIC-" + uuid.NewString()[:8], "issuingAuthority": "Ärztekammer Berlin", "country": "DE",
			"specialty": "NEUROLOGY", "expiresAt": time.Now().AddDate(2, 0, 0).UTC().Format(time.RFC3339),
		})
		if r.Status == http.StatusNotFound {
			return false, string(r.Body)
		}
		id = Str(t, r.Want(t, http.StatusCreated), "id")
		return true, ""
	})
	return id
}

// Credential verifies a licence of pro as admin and sets their level,
// then waits until the pool sees them verified at that level.
func (p Platform) Credential(t testing.TB, admin string, pro Account, level string) {
	t.Helper()
	lic := p.SubmitLicence(t, pro)
	p.Do(t, admin, http.MethodPost, "/api/v1/credentials/"+lic+"/verify", nil).Want(t, http.StatusOK)
	if level != "JUNIOR" {
		p.Do(t, admin, http.MethodPost, "/api/v1/professionals/"+pro.ID+"/level", map[string]string{"level": level}).Want(t, http.StatusOK)
	}
	Eventually(t, "the profile shows the standing", func() (bool, string) {
		m := p.Do(t, pro.Token, http.MethodGet, "/api/v1/professionals/"+pro.ID, nil).Want(t, http.StatusOK)
		return m["status"] == "VERIFIED" && m["level"] == level, fmt.Sprint(m)
	})
}

// WaitAvailable waits until pro sees case c in the pool.
func (p Platform) WaitAvailable(t testing.TB, pro Account, c Case) {
	t.Helper()
	Eventually(t, "case "+c.Number+" in the pool", func() (bool, string) {
		r := p.Do(t, pro.Token, http.MethodGet, "/api/v1/assignments/available/"+pro.ID+"?limit=100", nil)
		return r.Status == http.StatusOK && strings.Contains(string(r.Body), c.ID), string(r.Body)
	})
}

// Claim claims c for pro once it is in their pool; it returns the
// assignment's id.
func (p Platform) Claim(t testing.TB, pro Account, c Case) string {
	t.Helper()
	p.WaitAvailable(t, pro, c)
	m := p.Do(t, pro.Token, http.MethodPost, "/api/v1/assignments/claim/"+c.ID, nil).Want(t, http.StatusCreated)
	return Str(t, m, "id")
}

// Draft is a complete opinion.
var Draft = map[string]any{
	"summary":         "Episodic migraine without aura; the MRI is unremarkable.",
	"diagnoses":       []map[string]string{{"code": "G43.009", "description": "Migraine without aura, not intractable"}},
	"recommendations": []string{"Start a beta blocker as prevention", "Keep a headache diary for three months"},
	"confidence":      "HIGH",
	"answer":          "Yes: preventive treatment is appropriate at your attack frequency.",
	"references":      []string{"EHF guideline on migraine prevention, 2022"},
}

// WriteOpinion saves Draft as pro's opinion of c and submits it, right
// after the claim: the opinion service asks case-assignment when the
// case.assigned event has not reached it yet. It returns the opinion's id
// and its status after submission.
func (p Platform) WriteOpinion(t testing.TB, pro Account, c Case) (id, status string) {
	t.Helper()
	id = Str(t, p.Do(t, pro.Token, http.MethodPut, "/api/v1/cases/"+c.ID+"/opinion", Draft).Want(t, http.StatusOK), "id")
	m := p.Do(t, pro.Token, http.MethodPost, "/api/v1/cases/"+c.ID+"/opinion/submit", nil).Want(t, http.StatusOK)
	return id, Str(t, m, "status")
}

// Approved walks c from the pool to an approved opinion by pro, who must
// be SENIOR or higher; it returns the opinion's id.
func (p Platform) Approved(t testing.TB, pro Account, c Case) string {
	t.Helper()
	p.Claim(t, pro, c)
	id, status := p.WriteOpinion(t, pro, c)
	if status != "APPROVED" {
		t.Fatalf("a senior's opinion is %s after submission, want APPROVED", status)
	}
	return id
}
