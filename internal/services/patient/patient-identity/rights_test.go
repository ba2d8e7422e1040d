package patientidentity_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	contracts "github.com/secondopinion/platform/api/events"
	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/testkit"
	identity "github.com/secondopinion/platform/internal/services/patient/patient-identity"
)

// holder stands in for a service holding part of a patient's data: its
// part of the export is one file, part.json, naming what it was asked
// for, sent in two chunks. The case-management stand-in also names each
// patient's cases.
type holder struct {
	target string
	mem    *rpc.InProcess
	health *grpchealth.StaticChecker

	mu    sync.Mutex
	cases map[string][]string // by patient
	cut   bool                // fail after the first chunk
}

func serveHolders(t *testing.T) map[string]*holder {
	t.Helper()
	out := map[string]*holder{}
	for _, target := range []string{"patient-consent", "case-management", "medical-records", "medical-opinion", "audit"} {
		h := &holder{target: target, cases: map[string][]string{},
			health: grpchealth.NewStaticChecker(patientv1connect.PatientDataServiceName)}
		guard := rpc.Guard(rpc.Callers{
			patientv1connect.PatientDataServiceExportProcedure: {identity.Name},
			patientv1connect.CaseServiceCaseIdsProcedure:       {identity.Name},
		})
		mux := http.NewServeMux()
		mux.Handle(patientv1connect.NewPatientDataServiceHandler(h, guard))
		if target == "case-management" {
			mux.Handle(patientv1connect.NewCaseServiceHandler(caseIDs{h: h}, guard))
		}
		mux.Handle(grpchealth.NewHandler(h.health))
		h.mem = rpc.NewInProcess(httpapi.Wrap(mux, httpapi.Options{Service: target, Verifier: tokens{}}))
		t.Cleanup(func() { h.mem.Close() })
		out[target] = h
	}
	return out
}

// part is what a holder's part.json says.
type part struct {
	Holder    string   `json:"holder"`
	PatientID string   `json:"patientId"`
	CaseIDs   []string `json:"caseIds"`
}

func (h *holder) Export(_ context.Context, req *connect.Request[patientv1.ExportRequest], stream *connect.ServerStream[patientv1.ExportChunk]) error {
	b, err := json.Marshal(part{Holder: h.target, PatientID: req.Msg.PatientId, CaseIDs: req.Msg.CaseIds})
	if err != nil {
		return err
	}
	half := len(b) / 2
	if err := stream.Send(&patientv1.ExportChunk{Path: "part.json", Data: b[:half]}); err != nil {
		return err
	}
	h.mu.Lock()
	cut := h.cut
	h.mu.Unlock()
	if cut {
		return connect.NewError(connect.CodeInternal, errors.New("disk on fire"))
	}
	return stream.Send(&patientv1.ExportChunk{Data: b[half:]})
}

type caseIDs struct {
	patientv1connect.UnimplementedCaseServiceHandler
	h *holder
}

func (c caseIDs) CaseIds(_ context.Context, req *connect.Request[patientv1.CaseIdsRequest]) (*connect.Response[patientv1.CaseIdsResponse], error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	return connect.NewResponse(&patientv1.CaseIdsResponse{Ids: c.h.cases[req.Msg.CustomerId]}), nil
}

// exportOf fetches id's export as token: the status and, on 200, the
// files of the archive by name in archive order.
func exportOf(t *testing.T, f fixture, token, id string) (int, []string, map[string][]byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.url+"/api/v1/patients/"+id+"/export", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("export refused as %s, want a problem: %d %s", ct, res.StatusCode, raw)
		}
		return res.StatusCode, nil, nil
	}
	if err != nil {
		t.Fatalf("read the export: %v", err)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/zip" || res.Header.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), `attachment; filename="secondopinion-export-`) {
		t.Errorf("export headers: %v", res.Header)
	}
	z, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("the export is no ZIP: %v", err)
	}
	var names []string
	files := map[string][]byte{}
	for _, zf := range z.File {
		r, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", zf.Name, err)
		}
		names = append(names, zf.Name)
		files[zf.Name] = b
	}
	return res.StatusCode, names, files
}

const bobby = `{"firstName":"Bobby","lastName":"Tables","dateOfBirth":"1985-03-14","email":"bobby@example.org","password":"little bobby tables"}`

// registerBobby registers a second patient, who must be untouched by what
// Ada does.
func registerBobby(t *testing.T, f fixture) string {
	t.Helper()
	r := call(t, http.MethodPost, f.url+"/api/v1/patients", bobby)
	if r.status != http.StatusCreated {
		t.Fatalf("register Bobby: %d %s", r.status, r.raw)
	}
	return r.doc["id"].(string)
}

func TestRights(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			run := func(name string, test func(t *testing.T, f fixture, id string)) {
				t.Run(name, func(t *testing.T) {
					f := start(t, testkit.OpenDB(t, e, identity.Name))
					test(t, f, register(t, f))
				})
			}
			run("export", testExport)
			run("export access", testExportAccess)
			run("export failures", testExportFailures)
			run("erase by the patient", testEraseByPatient)
			run("erase by an admin", testEraseByAdmin)
		})
	}
}

// The bundle is the README, the profile, then each holder's part, each
// asked for this patient and their cases; the export is audited.
func testExport(t *testing.T, f fixture, id string) {
	cases := []string{"0190a0a0-0000-7000-8000-00000000c001", "0190a0a0-0000-7000-8000-00000000c002"}
	f.holders["case-management"].cases[id] = cases
	bob := registerBobby(t, f)
	f.holders["case-management"].cases[bob] = []string{"0190a0a0-0000-7000-8000-00000000c0b0"}

	code, names, files := exportOf(t, f, "patient:"+id, id)
	if code != http.StatusOK {
		t.Fatalf("export: %d", code)
	}
	want := []string{"README.txt", "patient-identity/profile.json", "patient-consent/part.json", "case-management/part.json",
		"medical-records/part.json", "medical-opinion/part.json", "audit/part.json"}
	if !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	var profile map[string]any
	if err := json.Unmarshal(files["patient-identity/profile.json"], &profile); err != nil {
		t.Fatal(err)
	}
	if profile["id"] != id || profile["lastName"] != "Lovelace" || profile["email"] != "ada.lovelace@example.org" {
		t.Errorf("profile.json: %s", files["patient-identity/profile.json"])
	}
	if bytes.Contains(files["patient-identity/profile.json"], []byte("Bobby")) {
		t.Error("the export carries another patient's profile")
	}
	for _, name := range want[2:] {
		var p part
		if err := json.Unmarshal(files[name], &p); err != nil {
			t.Fatalf("%s, joined from its chunks: %v: %s", name, err, files[name])
		}
		if p.Holder+"/part.json" != name || p.PatientID != id || !slices.Equal(p.CaseIDs, cases) {
			t.Errorf("%s asked for %+v, want patient %s with cases %v", name, p, id, cases)
		}
	}
	if !strings.Contains(string(files["README.txt"]), "patient-identity/profile.json") {
		t.Errorf("README: %s", files["README.txt"])
	}
	var exports []string
	for _, e := range auditEntries(t, f.db, id) {
		if e.Action == "patient.export" {
			exports = append(exports, e.ActorRole+" "+e.Outcome+" "+e.PatientID)
		}
	}
	if !slices.Equal(exports, []string{"patient allowed " + id}) {
		t.Errorf("export audit entries %v", exports)
	}
}

// The export is the patient's and the admins'; refusals are problems
// and are audited when the caller is known.
func testExportAccess(t *testing.T, f fixture, id string) {
	bob := registerBobby(t, f)
	for token, want := range map[string]int{"": 401, "pro": 403, "patient:" + bob: 404, "admin": 200, "patient:" + id: 200} {
		if code, _, _ := exportOf(t, f, token, id); code != want {
			t.Errorf("export as %q: %d, want %d", token, code, want)
		}
	}
	if code, _, _ := exportOf(t, f, "admin", "0190a0a0-0000-7000-8000-00000000dead"); code != http.StatusNotFound {
		t.Errorf("export of nobody: %d, want 404", code)
	}
	if code, _, _ := exportOf(t, f, "admin", "not-a-uuid"); code != http.StatusUnprocessableEntity {
		t.Errorf("export of a malformed id: %d, want 422", code)
	}
	got := map[string]bool{}
	for _, e := range auditEntries(t, f.db, id) {
		if e.Action == "patient.export" {
			got[e.ActorRole+" "+e.Outcome] = true
		}
	}
	for _, key := range []string{"patient allowed", "admin allowed", "patient denied"} {
		if !got[key] {
			t.Errorf("no %q export audit entry in %v", key, got)
		}
	}
}

// A holder that is down refuses the export before a byte is sent; one
// that fails midway cuts the connection, so the archive never looks whole.
func testExportFailures(t *testing.T, f fixture, id string) {
	records := f.holders["medical-records"]
	records.health.SetStatus(patientv1connect.PatientDataServiceName, grpchealth.StatusNotServing)
	if code, _, _ := exportOf(t, f, "patient:"+id, id); code != http.StatusServiceUnavailable {
		t.Errorf("export with medical-records down: %d, want 503", code)
	}
	records.health.SetStatus(patientv1connect.PatientDataServiceName, grpchealth.StatusServing)

	records.mu.Lock()
	records.cut = true
	records.mu.Unlock()
	req, _ := http.NewRequest(http.MethodGet, f.url+"/api/v1/patients/"+id+"/export", nil)
	req.Header.Set("Authorization", "Bearer patient:"+id)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return // cut before the answer began
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err == nil {
		if _, zerr := zip.NewReader(bytes.NewReader(raw), int64(len(raw))); zerr == nil {
			t.Fatalf("a failed export arrived whole: %d, %d bytes", res.StatusCode, len(raw))
		}
		t.Errorf("a failed export ended cleanly (%d, %d bytes), want a cut connection", res.StatusCode, len(raw))
	}
}

// eraseAs asks for id's erasure as token with body.
func eraseAs(t *testing.T, f fixture, token, id, body string) response {
	t.Helper()
	return callAs(t, token, http.MethodDelete, f.url+"/api/v1/patients/"+id, body)
}

// idempotencyRecord stores the recorded answer of a registration naming
// id, as the idempotency middleware would have.
func idempotencyRecord(t *testing.T, f fixture, key, id string) {
	t.Helper()
	if _, err := f.db.Exec(`INSERT INTO idempotency_keys (key, fingerprint, token, owner, state, held_until, expires_at, status, body)
		VALUES ($1, 'f', 't', 'o', 'done', $2, $2, 201, $3)`, key, "2099-01-01T00:00:00Z", []byte(`{"id":"`+id+`"}`)); err != nil {
		t.Fatal(err)
	}
}

// erasedEvents are the patient.erased events queued.
func erasedEvents(t *testing.T, f fixture) []string {
	t.Helper()
	var out []string
	for _, e := range testkit.Outbox(t, f.db) {
		if e.Type == contracts.PatientErasedV1.Type {
			var p contracts.PatientErased
			if err := json.Unmarshal(e.Payload, &p); err != nil || e.AggregateID != p.PatientID {
				t.Errorf("patient.erased %s: %v", e.Payload, err)
			}
			out = append(out, p.PatientID)
		}
	}
	return out
}

// A patient erases themself with their password: the profile and the
// records of their requests go at once with patient.erased queued and
// the erasure audited; a refusal changes nothing.
func testEraseByPatient(t *testing.T, f fixture, id string) {
	bob := registerBobby(t, f)
	idempotencyRecord(t, f, "idem:patient-identity:anon:registration-ada", id)
	idempotencyRecord(t, f, "idem:patient-identity:anon:registration-bob", bob)

	for _, c := range []struct {
		token, body string
		want        int
	}{
		{"", `{"password":"` + adaPassword + `"}`, 401},
		{"pro", `{"password":"` + adaPassword + `"}`, 403},
		{"patient:" + bob, `{"password":"little bobby tables"}`, 404},
		{"patient:" + id, ``, 422},
		{"patient:" + id, `{}`, 422},
		{"patient:" + id, `{"password":"little bobby tables"}`, 403},
	} {
		if r := eraseAs(t, f, c.token, id, c.body); r.status != c.want || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("erase as %q with %s: %d %s, want a %d problem", c.token, c.body, r.status, r.raw, c.want)
		}
	}
	if n := count(t, f.db, "patients"); n != 2 || len(erasedEvents(t, f)) != 0 {
		t.Fatalf("a refused erasure erased: %d patients, events %v", n, erasedEvents(t, f))
	}

	r := eraseAs(t, f, "patient:"+id, id, `{"password":"`+adaPassword+`"}`)
	if r.status != http.StatusAccepted || r.doc["id"] != id || r.doc["erasedAt"] == nil {
		t.Fatalf("erase: %d %s", r.status, r.raw)
	}
	if got := erasedEvents(t, f); !slices.Equal(got, []string{id}) {
		t.Errorf("patient.erased for %v, want [%s]", got, id)
	}
	var erasures []string
	for _, e := range auditEntries(t, f.db, id) {
		if e.Action == "patient.erase" {
			erasures = append(erasures, e.ActorRole+" "+e.Outcome+" "+e.PatientID+" "+e.Purpose)
		}
	}
	if !slices.Contains(erasures, "patient allowed "+id+" self-service") {
		t.Errorf("erasure audit entries %v", erasures)
	}
	for _, table := range []string{"patients", "idempotency_keys"} {
		if n := testkit.CountContaining(t, f.db, table, id, "Lovelace", "ada.lovelace"); n != 0 {
			t.Errorf("%d rows of %s still name Ada", n, table)
		}
		if n := testkit.CountContaining(t, f.db, table, bob); n != 1 {
			t.Errorf("%d rows of %s name Bobby, want 1", n, table)
		}
	}
	for token, want := range map[string]int{"admin": 404, "patient:" + id: 404} {
		if r := callAs(t, token, http.MethodGet, f.url+"/api/v1/patients/"+id, ""); r.status != want {
			t.Errorf("read after erasure as %q: %d, want %d", token, r.status, want)
		}
	}
	if r := eraseAs(t, f, "admin", id, ""); r.status != http.StatusNotFound {
		t.Errorf("erase again: %d %s, want 404", r.status, r.raw)
	}
	if got := erasedEvents(t, f); len(got) != 1 {
		t.Errorf("patient.erased queued %d times", len(got))
	}
	if r := callAs(t, "patient:"+bob, http.MethodGet, f.url+"/api/v1/patients/"+bob, ""); r.status != 200 || r.doc["firstName"] != "Bobby" {
		t.Errorf("Bobby after Ada's erasure: %d %s", r.status, r.raw)
	}
}

// An admin erases without a password; the audit trail names the admin.
func testEraseByAdmin(t *testing.T, f fixture, id string) {
	if r := eraseAs(t, f, "admin", id, ""); r.status != http.StatusAccepted {
		t.Fatalf("erase: %d %s", r.status, r.raw)
	}
	if got := erasedEvents(t, f); !slices.Equal(got, []string{id}) {
		t.Errorf("patient.erased for %v", got)
	}
	found := false
	for _, e := range auditEntries(t, f.db, id) {
		found = found || e.Action == "patient.erase" && e.ActorRole == "admin" && e.Actor == "0190a0a0-0000-7000-8000-0000000000ad" &&
			e.Purpose == "administration"
	}
	if !found {
		t.Error("the admin's erasure is not in the audit trail")
	}
	if n := count(t, f.db, "patients"); n != 0 {
		t.Errorf("%d patients after the erasure", n)
	}
}
