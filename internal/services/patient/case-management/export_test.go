package casemanagement

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// rpcClient reaches the service's internal APIs as the holder of token
// ("" anonymous).
func (h *harness) rpcClient(token string) connect.HTTPClient {
	h.t.Helper()
	mem := rpc.NewInProcess(h.handler)
	h.t.Cleanup(func() { mem.Close() })
	c := mem.Client()
	if token != "" {
		c = rpc.WithIdentity(c, func(context.Context) (string, time.Time, error) { return token, time.Now().Add(time.Hour), nil })
	}
	return c
}

// export gathers the files of patient's export as the holder of token.
func (h *harness) export(token, patient string, caseIDs ...string) (map[string][]byte, connect.Code) {
	h.t.Helper()
	client := patientv1connect.NewPatientDataServiceClient(h.rpcClient(token), rpc.BaseURL, rpc.ClientOptions()...)
	stream, err := client.Export(context.Background(), connect.NewRequest(&patientv1.ExportRequest{PatientId: patient, CaseIds: caseIDs}))
	if err != nil {
		return nil, connect.CodeOf(err)
	}
	defer stream.Close()
	files := map[string][]byte{}
	var file string
	for stream.Receive() {
		if p := stream.Msg().Path; p != "" {
			file = p
		}
		files[file] = append(files[file], stream.Msg().Data...)
	}
	if err := stream.Err(); err != nil {
		return nil, connect.CodeOf(err)
	}
	return files, 0
}

// exportedCases is cases.json of patient's export, as patient-identity
// asks for it.
func (h *harness) exportedCases(patient string, caseIDs ...string) []map[string]any {
	h.t.Helper()
	files, code := h.export("service:patient-identity", patient, caseIDs...)
	if code != 0 || len(files) != 1 || files["cases.json"] == nil {
		h.t.Fatalf("export: %v, files %v", code, slices.Collect(maps.Keys(files)))
	}
	var out []map[string]any
	if err := json.Unmarshal(files["cases.json"], &out); err != nil || out == nil {
		h.t.Fatalf("cases.json %s: %v", files["cases.json"], err)
	}
	return out
}

// testExport: the export holds every case of the patient asked for, and
// only theirs, each as the patient reads it with its timeline; only
// patient-identity may ask, and the export records no read of its own.
func testExport(t *testing.T, h *harness) {
	theirs := h.doAs("patient:"+h.other, "POST", "/api/v1/cases", map[string]any{"customerId": h.other,
		"specialty": "NEUROLOGY", "title": title, "question": question}).body["id"].(string)
	first := h.newCase()["id"].(string)
	second := h.newCase()["id"].(string)
	h.do("POST", "/api/v1/cases/"+second+"/submit", nil)
	h.do("POST", "/api/v1/cases/"+second+"/cancel", map[string]any{"reason": "found a doctor nearby"})
	var views []map[string]any
	for _, id := range []string{first, second} {
		res := h.do("GET", "/api/v1/cases/"+id, nil)
		delete(res.body, "$schema")
		views = append(views, res.body)
	}
	audited := len(h.auditEntries())

	// The case ids are for services that do not know patients: naming
	// another patient's case brings it no closer.
	got := h.exportedCases(h.patient, theirs)
	if len(got) != 2 || got[0]["id"] != first || got[1]["id"] != second {
		t.Fatalf("exported %v, want %s and %s", got, first, second)
	}
	for i, want := range views {
		g, _ := json.Marshal(got[i])
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("exported\n%s\nthe patient reads\n%s", g, w)
		}
	}
	if n := len(h.auditEntries()); n != audited {
		t.Errorf("the export added %d audit entries: patient-identity audits it", n-audited)
	}
	if got := h.exportedCases(uuid.NewString()); len(got) != 0 {
		t.Errorf("a patient without cases: %v", got)
	}

	for tok, want := range map[string]connect.Code{
		"":                        connect.CodeUnauthenticated,
		h.token:                   connect.CodePermissionDenied,
		"admin":                   connect.CodePermissionDenied,
		"service:medical-records": connect.CodePermissionDenied,
	} {
		if files, code := h.export(tok, h.patient); code != want || files != nil {
			t.Errorf("export as %q: %v, want %v", tok, code, want)
		}
	}
	if _, code := h.export("service:patient-identity", "nobody"); code != connect.CodeInvalidArgument {
		t.Errorf("export of a malformed id: %v", code)
	}
}

// testCaseIDs: CaseIds names a patient's cases, oldest first, to
// patient-identity alone.
func testCaseIDs(t *testing.T, h *harness) {
	h.doAs("patient:"+h.other, "POST", "/api/v1/cases", map[string]any{"customerId": h.other,
		"specialty": "NEUROLOGY", "title": title, "question": question})
	want := []string{h.newCase()["id"].(string), h.newCase()["id"].(string)}
	ids := func(tok, customer string) ([]string, connect.Code) {
		client := patientv1connect.NewCaseServiceClient(h.rpcClient(tok), rpc.BaseURL, rpc.ClientOptions()...)
		res, err := client.CaseIds(context.Background(), connect.NewRequest(&patientv1.CaseIdsRequest{CustomerId: customer}))
		if err != nil {
			return nil, connect.CodeOf(err)
		}
		return res.Msg.Ids, 0
	}
	if got, code := ids("service:patient-identity", h.patient); code != 0 || !slices.Equal(got, want) {
		t.Errorf("case ids: %v %v, want %v", got, code, want)
	}
	if got, code := ids("service:patient-identity", uuid.NewString()); code != 0 || len(got) != 0 {
		t.Errorf("case ids of a patient without cases: %v %v", got, code)
	}
	if _, code := ids("service:patient-identity", "nobody"); code != connect.CodeInvalidArgument {
		t.Errorf("case ids of a malformed id: %v", code)
	}
	for tok, want := range map[string]connect.Code{
		"":                        connect.CodeUnauthenticated,
		h.token:                   connect.CodePermissionDenied,
		"admin":                   connect.CodePermissionDenied,
		"service:medical-opinion": connect.CodePermissionDenied,
	} {
		if _, code := ids(tok, h.patient); code != want {
			t.Errorf("case ids as %q: %v, want %v", tok, code, want)
		}
	}
}
