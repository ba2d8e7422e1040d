package casemanagement

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// The professional a case is assigned to reads it until the assignment
// ends; the pool learns of every return with a de-identified summary.
func testAssignee(t *testing.T, h *harness) {
	ctx := context.Background()
	res := h.do("POST", "/api/v1/cases", map[string]any{"customerId": h.patient, "specialty": "NEUROLOGY",
		"title": title, "question": question, "urgency": "URGENT", "language": "de"})
	if res.status != 201 || res.body["language"] != "de" {
		t.Fatalf("create: %d %v", res.status, res.body)
	}
	id := res.body["id"].(string)
	number := res.body["caseNumber"].(string)
	h.do("POST", "/api/v1/cases/"+id+"/submit", nil)
	if res := h.doAs("pro", "GET", "/api/v1/cases/"+id, nil); res.status != 404 {
		t.Fatalf("unassigned professional reads the case: %d", res.status)
	}
	handle := func(typ, pro string) {
		t.Helper()
		if err := h.svc.Consume(ctx, event(t, typ, id, map[string]any{"professionalId": pro})); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	handle("case.assigned", proID)
	for _, path := range []string{"/api/v1/cases/" + id, "/api/v1/cases/" + number + "/status"} {
		if res := h.doAs("pro", "GET", path, nil); res.status != 200 {
			t.Errorf("assigned professional: GET %s: %d %v", path, res.status, res.body)
		}
	}
	if res := h.doAs("pro", "POST", "/api/v1/cases/"+id+"/cancel", nil); res.status != 403 {
		t.Errorf("assigned professional cancels: %d", res.status)
	}
	var read bool
	for _, e := range h.auditEntries() {
		read = read || (e.Action == "case.read" && e.Actor == proID && e.Outcome == "allowed" && e.Purpose == "assigned second opinion")
	}
	if !read {
		t.Error("the assignee's read is not in the audit trail as such")
	}

	handle("assignment.expired", uuid.NewString()) // a former assignee's
	if st := h.do("GET", "/api/v1/cases/"+id, nil).body; st["status"] != "ASSIGNED" || st["professionalId"] != proID {
		t.Fatalf("a former assignment's end moved the case: %v", st)
	}
	handle("assignment.expired", proID)
	if st := h.do("GET", "/api/v1/cases/"+id, nil).body; st["status"] != "AWAITING_ASSIGNMENT" || st["professionalId"] != nil {
		t.Fatalf("after expiry: %v", st)
	}
	if res := h.doAs("pro", "GET", "/api/v1/cases/"+id, nil); res.status != 404 {
		t.Errorf("the expired assignee still reads the case: %d", res.status)
	}

	var pool []map[string]any
	for _, e := range h.outbox(id) {
		if e.Type != "case.awaiting_assignment" {
			continue
		}
		if strings.Contains(string(e.Payload), title) || strings.Contains(string(e.Payload), question) {
			t.Errorf("the pool event carries health data: %s", e.Payload)
		}
		var p map[string]any
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatal(err)
		}
		pool = append(pool, p)
	}
	if len(pool) != 2 {
		t.Fatalf("%d case.awaiting_assignment events, want one per entry into the pool", len(pool))
	}
	// The stand-in patient was born 1990-12-10; the clock is in 2031.
	if p := pool[1]; p["caseNumber"] != number || p["specialty"] != "NEUROLOGY" || p["urgency"] != "URGENT" ||
		p["language"] != "de" || p["ageBand"] != "40-49" {
		t.Errorf("pool summary %v", p)
	}
}

// CaseService admits only medical-opinion and audits each read with the
// purpose the caller gives.
func testCaseService(t *testing.T, h *harness) {
	id := h.newCase()["id"].(string)
	mem := rpc.NewInProcess(h.handler)
	t.Cleanup(func() { mem.Close() })
	client := func(tok string) patientv1connect.CaseServiceClient {
		c := mem.Client()
		if tok != "" {
			c = rpc.WithIdentity(c, func(context.Context) (string, time.Time, error) { return tok, time.Now().Add(time.Hour), nil })
		}
		return patientv1connect.NewCaseServiceClient(c, rpc.BaseURL, rpc.ClientOptions()...)
	}
	get := func(tok, caseID string) (*patientv1.CaseResponse, connect.Code) {
		res, err := client(tok).GetCase(context.Background(), connect.NewRequest(&patientv1.GetCaseRequest{Id: caseID, Purpose: "opinion.report"}))
		if err != nil {
			return nil, connect.CodeOf(err)
		}
		return res.Msg, 0
	}
	c, code := get("service:medical-opinion", id)
	if code != 0 || c.CustomerId != h.patient || c.Question != question || c.Language != "en" || c.Status != "DRAFT" {
		t.Fatalf("get: %v %v", c, code)
	}
	var audited bool
	for _, e := range h.auditEntries() {
		audited = audited || (e.Action == "case.read" && e.Actor == "medical-opinion" && e.Purpose == "opinion.report" && e.ResourceID == id)
	}
	if !audited {
		t.Error("a service's read of a case is not audited")
	}
	for tok, want := range map[string]connect.Code{
		"":                        connect.CodeUnauthenticated,
		h.token:                   connect.CodePermissionDenied,
		"admin":                   connect.CodePermissionDenied,
		"service:case-assignment": connect.CodePermissionDenied,
	} {
		if _, code := get(tok, id); code != want {
			t.Errorf("as %q: %v, want %v", tok, code, want)
		}
	}
	if _, code := get("service:medical-opinion", uuid.NewString()); code != connect.CodeNotFound {
		t.Errorf("unknown case: %v", code)
	}
}
