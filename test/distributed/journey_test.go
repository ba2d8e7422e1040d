package distributed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/secondopinion/platform/test/journey"
)

// On NATS JetStream services are killed with SIGKILL in the middle of the
// journey and started again, each on an emptied data folder, as a pod
// rescheduled elsewhere would be: case-management — which owns the case
// and whose events carry it on to the pool — right after the patient paid
// and read the case; medical-records, which holds the case's record, and
// auth, which signed every token in use, once the case is claimed. The
// case still reaches the pool and an approved opinion, once, the tokens
// still hold and the professional still reads the record (the keys of
// both a deployment must give every replica). In the long variant
// every workload is killed once in turn, each in a journey of its own.
func TestNATS(t *testing.T) {
	t.Parallel()
	c, base := boot(t, startNATS)
	r := newRun(t, c, base)
	r.journey(t, kills{paid: []string{"case-management"}, claimed: []string{"medical-records", "auth"}})
	if long {
		// Once the case is claimed its AI pre-analysis is over: an attempt
		// a kill interrupts is held by its lease (AI_ATTEMPT_TIMEOUT, 15
		// min by default), which the test does not shorten: it sets
		// nothing the topology does not list.
		for _, w := range c.topo.Workloads {
			t.Run("kill "+w.Name, func(t *testing.T) { r.journey(t, kills{claimed: []string{w.Name}}) })
		}
	}
}

// On Kafka the short variant runs the journey without a kill: a consumer
// killed with SIGKILL holds its group's partitions until its session times
// out (45 s in franz-go), which it cannot afford. The long variant kills
// case-management once the case is paid for, and waits.
func TestKafka(t *testing.T) {
	t.Parallel()
	c, base := boot(t, startKafka)
	var k kills
	if long {
		k.paid = []string{"case-management"}
	}
	newRun(t, c, base).journey(t, k)
}

// run is a cluster ready for journeys: an admin and a credentialed
// senior professional, whose opinions are approved at submission.
type run struct {
	c     *cluster
	j     journey.Platform
	admin string
	pro   journey.Account
}

func newRun(t *testing.T, c *cluster, base string) *run {
	t.Helper()
	j := journey.Connect(t, base)
	r := &run{c: c, j: j, admin: j.Login(t, c.admin, adminPassword), pro: j.RegisterProfessional(t)}
	j.Credential(t, r.admin, r.pro, "SENIOR")
	return r
}

// kills name the workloads a journey kills: once the case is paid for and
// read, and once it is claimed.
type kills struct{ paid, claimed []string }

// report is the NEUROLOGY case's one required record (IMAGING_REPORT).
var report = []byte("MRI of the head, 12 March: no structural lesion; white matter unremarkable.\n")

// journey walks a patient's case from its opening, with its record, to
// the approved opinion the patient reads, killing the workloads of k on
// the way, and then holds the platform to what it owes: the case moved
// through each status once, the professional reads the record as it was
// uploaded, and every read the patient was answered left one audit entry,
// no more — the events written before a kill were published and consumed
// once.
func (r *run) journey(t *testing.T, k kills) {
	j := r.j
	patient := j.RegisterPatient(t)
	c := j.OpenCase(t, patient, false)
	record := r.upload(t, patient, c, "IMAGING_REPORT", report)
	j.Submit(t, patient, c, nil) // and pays
	reads := 0
	read := func() map[string]any {
		reads++
		return j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.ID, nil).Want(t, http.StatusOK)
	}
	for range 3 {
		read()
	}
	r.kill(t, k.paid)

	// A restarted consumer is given its unacknowledged event again after
	// the bus' ack wait: the waits after a kill allow for it.
	journey.EventuallyWithin(t, waitBound, "case "+c.Number+" awaiting assignment", func() (bool, string) {
		m := j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.Number+"/status", nil).Want(t, http.StatusOK)
		return m["status"] == "AWAITING_ASSIGNMENT", fmt.Sprint(m)
	})
	j.Claim(t, r.pro, c)
	r.kill(t, k.claimed)
	res := r.download(t, r.pro, record)
	if res.Status != http.StatusOK || !bytes.Equal(res.Body, report) {
		t.Fatalf("the professional's copy of the record: %d %q", res.Status, res.Body)
	}
	opinion, status := j.WriteOpinion(t, r.pro, c)
	if status != "APPROVED" {
		t.Fatalf("a senior's opinion is %s after submission, want APPROVED", status)
	}
	journey.EventuallyWithin(t, waitBound, "case "+c.Number+" completed", func() (bool, string) {
		m := j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.Number+"/status", nil).Want(t, http.StatusOK)
		return m["status"] == "COMPLETED", fmt.Sprint(m)
	})
	m := j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.ID+"/opinion", nil).Want(t, http.StatusOK)
	if m["id"] != opinion || m["status"] != "APPROVED" || m["answer"] != journey.Draft["answer"] {
		t.Fatalf("the patient's opinion: %v", m)
	}

	timeline(t, read())
	journey.EventuallyWithin(t, waitBound, "the audit trail of the case's reads", func() (bool, string) {
		n := r.caseReads(t, c.ID)
		return n >= reads, fmt.Sprintf("%d audit entries of the patient's %d reads", n, reads)
	})
	if n := r.caseReads(t, c.ID); n != reads {
		t.Errorf("%d audit entries of the patient's reads of case %s, want %d", n, c.Number, reads)
	}
	if v := j.Do(t, r.admin, http.MethodGet, "/api/v1/audit/verify", nil).Want(t, http.StatusOK); v["ok"] != true {
		t.Errorf("the audit chain: %v", v)
	}
}

// kill kills each workload of names in turn and restarts it.
func (r *run) kill(t *testing.T, names []string) {
	t.Helper()
	for _, name := range names {
		start := time.Now()
		r.c.kill(t, name)
		t.Logf("%s killed, and the cluster ready again in %v", name, time.Since(start).Round(time.Millisecond))
	}
}

// upload sends content as a record of kind of case c, as multipart form
// data, and returns the record's id.
func (r *run) upload(t *testing.T, patient journey.Account, c journey.Case, kind string, content []byte) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", "mri-report.txt")
	if err == nil {
		_, err = part.Write(content)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.j.Base+"/api/v1/cases/"+c.ID+"/documents?kind="+kind, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+patient.Token)
	res := send(t, req)
	var doc struct{ ID string }
	if err := json.Unmarshal(res.Body, &doc); res.Status != http.StatusCreated || err != nil || doc.ID == "" {
		t.Fatalf("upload of the record: %d %s", res.Status, res.Body)
	}
	return doc.ID
}

// download reads a record's content as who.
func (r *run) download(t *testing.T, who journey.Account, record string) journey.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, r.j.Base+"/api/v1/records/"+record+"/content", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+who.Token)
	return send(t, req)
}

func send(t *testing.T, req *http.Request) journey.Response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return journey.Response{Status: res.StatusCode, Type: res.Header.Get("Content-Type"), Body: b}
}

// timeline holds a case's timeline to the way of a paid case to an
// approved opinion: each step once, in order, each by an event of its
// own.
func timeline(t *testing.T, kase map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(kase["timeline"])
	var entries []struct{ To, Trigger, EventID string }
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatalf("timeline: %v", err)
	}
	var steps, events []string
	for _, e := range entries {
		steps = append(steps, e.To)
		if e.EventID != "" {
			events = append(events, e.EventID)
		}
	}
	want := []string{"DRAFT", "AWAITING_PAYMENT", "SUBMITTED", "AI_PROCESSING", "AWAITING_ASSIGNMENT", "ASSIGNED", "COMPLETED"}
	if !slices.Equal(steps, want) {
		t.Errorf("the case went through %v, want %v once each: %s", steps, want, raw)
	}
	slices.Sort(events)
	if len(slices.Compact(events)) != len(events) {
		t.Errorf("an event moved the case twice: %s", raw)
	}
}

// caseReads counts the audit entries of the patient's reads of a case,
// every page: the polls of the case's status have entries of their own.
func (r *run) caseReads(t *testing.T, id string) int {
	t.Helper()
	n := 0
	for cursor := ""; ; {
		q := url.Values{"resourceType": {"case"}, "resourceId": {id}, "limit": {"200"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		res := r.j.Do(t, r.admin, http.MethodGet, "/api/v1/audit?"+q.Encode(), nil)
		res.Want(t, http.StatusOK)
		var page struct {
			Items      []struct{ Action, ActorRole string }
			NextCursor string
		}
		if err := json.Unmarshal(res.Body, &page); err != nil {
			t.Fatalf("the case's audit trail: %v %s", err, res.Body)
		}
		for _, e := range page.Items {
			if e.Action == "case.read" && e.ActorRole == "patient" {
				n++
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			return n
		}
	}
}

// waitBound is how long a wait after a kill may take: above the bus'
// redelivery of what a killed consumer held — JetStream's ack wait, or a
// Kafka group's session timeout.
const waitBound = 2 * time.Minute
