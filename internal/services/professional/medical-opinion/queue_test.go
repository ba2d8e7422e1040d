package medicalopinion

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
)

// queueSpecialty is used by no other test, so the shared store's other
// opinions stay out of the professionals' queues here.
const queueSpecialty = "DERMATOLOGY"

// queue reads a page of the review queue as token and returns its
// opinion ids and next cursor.
func (h *harness) queue(token, query string) ([]string, string) {
	h.t.Helper()
	res := h.want(h.do(token, "GET", "/api/v1/opinions/awaiting-review"+query, nil), 200, "queue as "+token)
	var ids []string
	for _, it := range res.body["items"].([]any) {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	next, _ := res.body["nextCursor"].(string)
	return ids, next
}

// submitted opens a case of queueSpecialty, has its JUNIOR author submit
// an opinion and returns the fixture and the opinion's id.
func (h *harness) submitted() (fixture, string) {
	h.t.Helper()
	f := h.newFixture("JUNIOR")
	h.peers.mu.Lock()
	h.peers.cases[f.caseID].Specialty = queueSpecialty
	h.peers.mu.Unlock()
	path := "/api/v1/cases/" + f.caseID + "/opinion"
	id := h.want(h.do("pro:"+f.author, "PUT", path, draft()), 200, "save").body["id"].(string)
	h.want(h.do("pro:"+f.author, "POST", path+"/submit", nil), 200, "submit")
	return f, id
}

// A reviewer finds the submitted opinions they may review, and only
// those; reviewing one takes it off the queue.
func testQueue(t *testing.T, h *harness) {
	senior := "pro:" + h.pro("SENIOR", "VERIFIED", "NEUROLOGY", queueSpecialty)
	ineligible := map[string]string{
		"other specialty": "pro:" + h.pro("EXPERT", "VERIFIED", "ONCOLOGY"),
		"junior":          "pro:" + h.pro("JUNIOR", "VERIFIED", queueSpecialty),
		"pending":         "pro:" + h.pro("SENIOR", "PENDING", queueSpecialty),
		"suspended":       "pro:" + h.pro("SENIOR", "SUSPENDED", queueSpecialty),
		"unknown":         "pro:" + uuid.NewString(),
	}
	if ids, next := h.queue(senior, ""); len(ids) != 0 || next != "" {
		t.Fatalf("queue before any submission: %v %q", ids, next)
	}

	f, id := h.submitted()
	res := h.want(h.do(senior, "GET", "/api/v1/opinions/awaiting-review", nil), 200, "senior's queue")
	items := res.body["items"].([]any)
	if len(items) != 1 || res.body["nextCursor"] != nil {
		t.Fatalf("senior's queue: %s", res.raw)
	}
	item := items[0].(map[string]any)
	submittedAt, err := time.Parse(time.RFC3339, item["submittedAt"].(string))
	if item["id"] != id || item["caseId"] != f.caseID || item["specialty"] != queueSpecialty ||
		item["professionalId"] != f.author || err != nil || !submittedAt.Equal(h.clock.now()) || len(item) != 5 {
		t.Errorf("queue item: %v", item)
	}
	if strings.Contains(string(res.raw), "angina") || strings.Contains(string(res.raw), f.patient) {
		t.Errorf("the queue leaks the opinion or the patient: %s", res.raw)
	}

	// The author may not review their own, even once promoted.
	h.peers.mu.Lock()
	h.peers.pros[f.author].Level, h.peers.pros[f.author].Specialties = "EXPERT", []string{queueSpecialty}
	h.peers.mu.Unlock()
	ineligible["author"] = "pro:" + f.author
	for name, token := range ineligible {
		if ids, _ := h.queue(token, ""); len(ids) != 0 {
			t.Errorf("%s sees %v", name, ids)
		}
	}
	h.want(h.do("patient:"+f.patient, "GET", "/api/v1/opinions/awaiting-review", nil), 403, "patient's queue")
	h.want(h.do("", "GET", "/api/v1/opinions/awaiting-review", nil), 401, "anonymous queue")
	if ids, _ := h.queue("admin", "?limit=100"); !slices.Contains(ids, id) {
		t.Errorf("admin's queue lacks %s: %v", id, ids)
	}
	if !slices.ContainsFunc(h.auditEntries(""), func(e kitaudit.Entry) bool {
		return e.Action == "opinion.queue.read" && e.ActorRole == "admin"
	}) {
		t.Error("the admin's look at the queue is not audited")
	}

	// The reviewer opens it from the queue and approves it: off the queue.
	h.want(h.do(senior, "GET", "/api/v1/opinions/"+id, nil), 200, "reviewer opens it")
	h.want(h.do(senior, "POST", "/api/v1/opinions/"+id+"/review", map[string]any{"decision": "APPROVE"}), 200, "approve")
	if ids, _ := h.queue(senior, ""); len(ids) != 0 {
		t.Errorf("queue after approval: %v", ids)
	}
	if ids, _ := h.queue("admin", "?limit=100"); slices.Contains(ids, id) {
		t.Errorf("admin's queue still has the approved opinion: %v", ids)
	}

	// Oldest submission first, in pages.
	var want []string
	for range 3 {
		h.clock.advance(time.Minute)
		_, id := h.submitted()
		want = append(want, id)
	}
	first, next := h.queue(senior, "?limit=2")
	if !slices.Equal(first, want[:2]) || next == "" {
		t.Fatalf("first page: %v %q, want %v", first, next, want[:2])
	}
	second, last := h.queue(senior, "?limit=2&cursor="+url.QueryEscape(next))
	if !slices.Equal(second, want[2:]) || last != "" {
		t.Fatalf("second page: %v %q, want %v", second, last, want[2:])
	}
	for _, query := range []string{"?cursor=garbage", "?limit=0", "?limit=101"} {
		h.want(h.do(senior, "GET", "/api/v1/opinions/awaiting-review"+query, nil), 422, "queue"+query)
	}
	// Done: approve them so the shared store's queue is empty again.
	for _, id := range want {
		h.want(h.do(senior, "POST", "/api/v1/opinions/"+id+"/review", map[string]any{"decision": "APPROVE"}), 200, "approve")
	}
}
