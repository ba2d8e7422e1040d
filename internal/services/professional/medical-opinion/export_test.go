package medicalopinion

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/google/uuid"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// exportFiles calls PatientDataService.Export as the holder of token and
// gathers the streamed files by path.
func (h *harness) exportFiles(token, patientID string, caseIDs ...string) (map[string][]byte, error) {
	h.t.Helper()
	mem := rpc.NewInProcess(httpapi.Wrap(h.svc.Handler(), httpapi.Options{Service: Name, Verifier: tokens{}}))
	defer mem.Close()
	client := mem.Client()
	if token != "" {
		client = rpc.WithIdentity(client, func(context.Context) (string, time.Time, error) {
			return token, time.Now().Add(time.Hour), nil
		})
	}
	c := patientv1connect.NewPatientDataServiceClient(client, rpc.BaseURL, rpc.ClientOptions()...)
	stream, err := c.Export(context.Background(), connect.NewRequest(&patientv1.ExportRequest{PatientId: patientID, CaseIds: caseIDs}))
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	files, path := map[string][]byte{}, ""
	for stream.Receive() {
		if p := stream.Msg().Path; p != "" {
			if _, dup := files[p]; dup {
				h.t.Errorf("file %s exported twice", p)
			}
			path = p
		}
		if path == "" {
			h.t.Fatal("a chunk continues no file")
		}
		files[path] = append(files[path], stream.Msg().Data...)
	}
	return files, stream.Err()
}

// The export holds what the patient reads of their cases' opinions, and
// nothing else: the approved opinion of each case named, with its
// follow-ups and without the review's internals, and its PDF report;
// neither drafts nor opinions in review, nor other patients' opinions.
// Only patient-identity may ask, and every exported opinion is audited.
func TestExport(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		// The patient's cases: one approved after review and answered, one
		// in review, one with a draft, one without an opinion.
		approved := h.newFixture("JUNIOR")
		patient := approved.patient
		path := "/api/v1/cases/" + approved.caseID + "/opinion"
		d := reviewed()
		d["summary"] = "Exported summary."
		id := h.want(h.do("pro:"+approved.author, "PUT", path, d), 200, "draft").body["id"].(string)
		h.want(h.do("pro:"+approved.author, "POST", path+"/submit", nil), 200, "submit")
		review := "/api/v1/opinions/" + id + "/review"
		h.want(h.do("pro:"+approved.reviewer, "POST", review, map[string]any{"decision": "REQUEST_CHANGES", "comments": "Internal comment."}), 200, "changes")
		h.want(h.do("pro:"+approved.author, "POST", path+"/submit", nil), 200, "resubmit")
		h.want(h.do("pro:"+approved.reviewer, "POST", review, map[string]any{"decision": "APPROVE"}), 200, "approve")
		qid := h.want(h.do("patient:"+patient, "POST", path+"/questions", map[string]any{"question": "Exported question?"}), 201, "ask").body["id"].(string)
		h.want(h.do("pro:"+approved.author, "POST", "/api/v1/opinions/"+id+"/questions/"+qid+"/answer",
			map[string]any{"answer": "Exported addendum."}), 200, "answer")
		inReview := h.ownCase(patient, "JUNIOR")
		h.want(h.do("pro:"+inReview.author, "PUT", "/api/v1/cases/"+inReview.caseID+"/opinion", unseen()), 200, "draft in review")
		h.want(h.do("pro:"+inReview.author, "POST", "/api/v1/cases/"+inReview.caseID+"/opinion/submit", nil), 200, "submit for review")
		drafted := h.ownCase(patient, "SENIOR")
		h.want(h.do("pro:"+drafted.author, "PUT", "/api/v1/cases/"+drafted.caseID+"/opinion", unseen()), 200, "draft")
		empty := h.ownCase(patient, "SENIOR")
		// Another patient's approved opinion.
		other := h.newFixture("SENIOR")
		h.want(h.do("pro:"+other.author, "PUT", "/api/v1/cases/"+other.caseID+"/opinion", unseen()), 200, "other's draft")
		h.want(h.do("pro:"+other.author, "POST", "/api/v1/cases/"+other.caseID+"/opinion/submit", nil), 200, "other's submit")

		const identity = "service:patient-identity"
		files, err := h.exportFiles(identity, patient, approved.caseID, inReview.caseID, drafted.caseID, empty.caseID, approved.caseID)
		if err != nil {
			t.Fatal(err)
		}
		report := "reports/" + approved.number + ".pdf"
		if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, []string{"opinions.json", report}) {
			t.Fatalf("exported %v", got)
		}
		var opinions []map[string]any
		if err := json.Unmarshal(files["opinions.json"], &opinions); err != nil {
			t.Fatal(err)
		}
		patientsRead := h.want(h.do("patient:"+patient, "GET", path, nil), 200, "the patient's read").body
		if len(opinions) != 1 {
			t.Fatalf("opinions.json: %s", files["opinions.json"])
		}
		o := opinions[0]
		if o["caseNumber"] != approved.number || o["report"] != report {
			t.Errorf("exported opinion's case number and report: %v %v", o["caseNumber"], o["report"])
		}
		delete(o, "caseNumber")
		delete(o, "report")
		if got, want := jsonText(t, o), jsonText(t, patientsRead); got != want {
			t.Errorf("exported opinion\n%s\nis not what the patient reads\n%s", got, want)
		}
		raw := string(files["opinions.json"])
		for _, want := range []string{"Exported summary.", "Exported question?", "Exported addendum.", "I20.9", acceptedLabel, editedText} {
			if !strings.Contains(raw, want) {
				t.Errorf("opinions.json lacks %q", want)
			}
		}
		for _, hidden := range []string{"Internal comment.", approved.reviewer, "Unseen", rejectedLabel, editedLabel} {
			if strings.Contains(raw, hidden) {
				t.Errorf("opinions.json shows %q", hidden)
			}
		}
		pdf := files[report]
		if !strings.HasPrefix(string(pdf), "%PDF") {
			t.Fatalf("report: %.20q", pdf)
		}
		text := pdfText(t, pdf)
		for _, want := range []string{approved.number, question, "Exported summary.", "Exported addendum.", "Ada Lovelace", editedText} {
			if !strings.Contains(text, want) {
				t.Errorf("report lacks %q", want)
			}
		}
		if strings.Contains(text, rejectedLabel) {
			t.Error("the exported report shows a rejected finding")
		}

		// Every exported opinion is in the patient's access log, read by
		// patient-identity; its case was read for the purpose of the export.
		exported := 0
		for _, e := range h.auditEntries(patient) {
			if e.Action == "opinion.export" {
				exported++
				if e.Actor != "patient-identity" || e.ResourceID != id || e.Outcome != "allowed" {
					t.Errorf("audit entry of the export: %+v", e)
				}
			}
		}
		if exported != 1 {
			t.Errorf("%d audit entries of the export, want 1", exported)
		}

		// A patient with nothing to show gets an empty list.
		files, err = h.exportFiles(identity, uuid.NewString())
		if err != nil || len(files) != 1 || strings.TrimSpace(string(files["opinions.json"])) != "[]" {
			t.Errorf("export of nothing: %v %q", err, files["opinions.json"])
		}
		// A case that is not the patient's fails the export.
		if _, err := h.exportFiles(identity, patient, approved.caseID, other.caseID); connect.CodeOf(err) != connect.CodeInvalidArgument ||
			strings.Contains(err.Error(), "Unseen") {
			t.Errorf("export naming another patient's case: %v", err)
		}
		if _, err := h.exportFiles(identity, "42", approved.caseID); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("export of a malformed patient id: %v", err)
		}
		// Nobody but patient-identity may ask.
		for token, want := range map[string]connect.Code{
			"":                         connect.CodeUnauthenticated,
			"patient:" + patient:       connect.CodePermissionDenied,
			"pro:" + approved.author:   connect.CodePermissionDenied,
			"admin":                    connect.CodePermissionDenied,
			"service:medical-records":  connect.CodePermissionDenied,
			"service:case-management":  connect.CodePermissionDenied,
			"pro:patient-identity":     connect.CodePermissionDenied,
			"patient:patient-identity": connect.CodePermissionDenied,
		} {
			files, err := h.exportFiles(token, patient, approved.caseID)
			if connect.CodeOf(err) != want || len(files) != 0 {
				t.Errorf("export as %q: %d files, %v, want %v", token, len(files), err, want)
			}
		}
	})
}

// The gRPC health service reports PatientDataService serving, as
// patient-identity's readiness may ask.
func TestPatientDataServiceHealth(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		mem := rpc.NewInProcess(httpapi.Wrap(h.svc.Handler(), httpapi.Options{Service: Name, Verifier: tokens{}}))
		t.Cleanup(func() { mem.Close() })
		hc := grpchealth.NewClient(mem.Client(), rpc.BaseURL, rpc.ClientOptions()...)
		if err := rpc.Serving(hc, Name, patientv1connect.PatientDataServiceName)(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// ownCase opens another case of patient, assigned to a professional of
// authorLevel.
func (h *harness) ownCase(patient, authorLevel string) fixture {
	h.t.Helper()
	f := h.newFixture(authorLevel)
	h.peers.mu.Lock()
	h.peers.cases[f.caseID].CustomerId = patient
	h.peers.mu.Unlock()
	f.patient = patient
	return f
}

// unseen is a complete draft whose texts the patient may not see here.
func unseen() map[string]any {
	d := draft()
	d["summary"] = "Unseen summary."
	d["answer"] = "Unseen answer."
	return d
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
