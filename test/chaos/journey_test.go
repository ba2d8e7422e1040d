package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secondopinion/platform/test/journey"
)

// long is whether the long variants run (CHAOS_LONG=1, make chaos).
var long = os.Getenv("CHAOS_LONG") == "1"

// short or long: the length of a phase of load.
func phase(short, long_ time.Duration) time.Duration {
	if long {
		return long_
	}
	return short
}

// patients is how many patients run the journey at once, and think how
// long each waits between journeys: the short variants keep the backlog
// of events a fault leaves small.
const patients = 6

var think = phase(50*time.Millisecond, 0)

// platform is the running process the load is aimed at: a crash test
// replaces it with a new one on another port.
type platform struct{ base atomic.Pointer[string] }

func (p *platform) set(base string) { p.base.Store(&base) }
func (p *platform) url(path string) string {
	return *p.base.Load() + path
}

// ledger is what the load was told and what it sent: the claims the
// platform must honour after any fault.
type ledger struct {
	mu       sync.Mutex
	keys     map[string]int // creation keys each patient used
	unknown  map[string]int // creations carried out whose answer was lost
	acked    map[string]*caseRecord
	patients []patient
	// refused counts the answers a fault explains and that were retried.
	refused     int
	lastRefusal string
}

// caseRecord is one acknowledged case: whether its submission was
// acknowledged, and the reads of it sent and answered 200. Each answered
// read owes an audit entry; a read whose answer was lost may have made
// one, so the count of entries lies between the two.
type caseRecord struct {
	patient           string
	submitted         bool
	readsSent, readOK int
}

type patient struct{ id, token string }

func newLedger() *ledger {
	return &ledger{keys: map[string]int{}, unknown: map[string]int{}, acked: map[string]*caseRecord{}}
}

// journey is a patient's loop — create a case, submit it, read it — every
// write under an Idempotency-Key and retried through faults until it is
// answered, until ctx ends.
func (l *ledger) journey(ctx context.Context, t *testing.T, p *platform, pt patient) {
	for n := 0; ctx.Err() == nil; n++ {
		l.mu.Lock()
		l.keys[pt.id]++
		l.mu.Unlock()
		body := `{"customerId":"` + pt.id + `","specialty":"NEUROLOGY","urgency":"STANDARD","title":"Headaches","question":"Are these migraines?"}`
		code, out, ok := l.write(t, p, http.MethodPost, "/api/v1/cases", pt.token, fmt.Sprintf("%s-create-%d", pt.id, n), body)
		switch {
		case !ok:
			return
		case code == http.StatusConflict:
			l.mu.Lock()
			l.unknown[pt.id]++
			l.mu.Unlock()
			continue
		}
		var c struct{ ID string }
		if err := json.Unmarshal(out, &c); err != nil || c.ID == "" {
			t.Errorf("create answered %d without a case: %s", code, out)
			return
		}
		rec := &caseRecord{patient: pt.id}
		l.mu.Lock()
		l.acked[c.ID] = rec
		l.mu.Unlock()

		// A submission whose answer was lost was carried out: 409 says so.
		if _, _, ok := l.write(t, p, http.MethodPost, "/api/v1/cases/"+c.ID+"/submit", pt.token, fmt.Sprintf("%s-submit-%d", pt.id, n),
			`{"confirmIncomplete":true}`); !ok {
			return
		}
		l.mu.Lock()
		rec.submitted = true
		rec.readsSent++
		l.mu.Unlock()
		code, _, _, err := do(http.MethodGet, p.url("/api/v1/cases/"+c.ID), pt.token, "", "")
		if err == nil && code == http.StatusOK {
			l.mu.Lock()
			rec.readOK++
			l.mu.Unlock()
		}
		time.Sleep(think)
	}
}

// write sends a keyed write until it is answered: a success, or 409 for
// a request the platform carried out but whose answer died with a
// process. Anything else a fault explains — no answer, 502, 503, a key
// still held by a dead process — is retried; anything unexplained fails
// the test. ok is false when the test has failed or the retries ran out.
func (l *ledger) write(t *testing.T, p *platform, method, path, token, key, body string) (code int, out []byte, ok bool) {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		code, _, out, err := do(method, p.url(path), token, key, body)
		var doc struct{ Title string }
		_ = json.Unmarshal(out, &doc)
		if code > 0 && code < 300 || code == http.StatusConflict && doc.Title == "Request already carried out" {
			return code, out, true
		}
		if err == nil && code != http.StatusBadGateway && code != http.StatusServiceUnavailable &&
			(code != http.StatusConflict || doc.Title != "Request in progress") {
			t.Errorf("%s %s: %d %s", method, path, code, out)
			return code, out, false
		}
		l.mu.Lock()
		l.refused++
		l.lastRefusal = fmt.Sprintf("%s %s: %d %v %.200s", method, path, code, err, out)
		l.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%s %s: not answered in 90 s", method, path)
	return 0, nil, false
}

// load runs the journey for every patient until stop is called, which
// waits for each patient's current step to be answered.
func (l *ledger) load(t *testing.T, p *platform) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, pt := range l.patients {
		wg.Go(func() { l.journey(ctx, t, p, pt) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// acknowledged is how many cases were created and submitted so far.
func (l *ledger) acknowledged() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, rec := range l.acked {
		if rec.submitted {
			n++
		}
	}
	return n
}

// refusals is how many writes were retried, and the last one's answer.
func (l *ledger) refusals() (int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refused, l.lastRefusal
}

// signUpPatients registers the load's patients, each consenting to share
// their cases with professionals, so that every submitted case reaches
// the pool.
func (l *ledger) signUpPatients(t *testing.T, base string) {
	j := journey.Platform{Base: base}
	for range patients {
		a := j.RegisterPatient(t)
		l.patients = append(l.patients, patient{a.ID, a.Token})
	}
}

// check holds the platform at base to the ledger: every key made exactly
// one case, every acknowledged case and submission is there, every
// submitted case reached the pool once (case.submitted and what follows
// it were delivered), and every answered read has its audit entry — none
// lost, none doubled. Events may still be on their way: the pool and the
// trail are given time to catch up as long as they keep growing.
func (l *ledger) check(t *testing.T, base, admin string, pro patient) {
	t.Helper()
	submitted, reads := 0, 0
	for _, pt := range l.patients {
		cases := listCases(t, base, pt.token)
		if want := l.keys[pt.id]; len(cases) != want {
			t.Errorf("patient %s: %d cases for %d creation keys (%d answers lost)", pt.id, len(cases), want, l.unknown[pt.id])
		}
		for id, rec := range l.acked {
			if rec.patient != pt.id {
				continue
			}
			status, ok := cases[id]
			switch {
			case !ok:
				t.Errorf("acknowledged case %s is gone", id)
			case rec.submitted && status == "DRAFT":
				t.Errorf("case %s: submission acknowledged, case still DRAFT", id)
			}
		}
	}
	for _, rec := range l.acked {
		if rec.submitted {
			submitted++
		}
		reads += rec.readOK
	}

	// Delivery may be slow after a long outage — the backlog drains one
	// event per consumer at a time — but it must not stop: the check
	// waits while the pool and the trail grow, and gives up after 30 s
	// without progress.
	var pool, trail map[string]int
	start := time.Now()
	progress, stalled := -1, time.Now().Add(30*time.Second)
	for {
		pool = available(t, base, pro)
		trail = caseReads(t, base, admin)
		if l.caughtUp(pool, trail) || time.Now().After(stalled) {
			break
		}
		if n := len(pool) + sum(trail); n > progress {
			progress, stalled = n, time.Now().Add(30*time.Second)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for id, rec := range l.acked {
		if rec.submitted && pool[id] != 1 {
			t.Errorf("submitted case %s is in the pool %d times, want once", id, pool[id])
		}
		if n := trail[id]; n < rec.readOK || n > rec.readsSent {
			t.Errorf("case %s: %d audit entries of reads for %d answered of %d sent", id, n, rec.readOK, rec.readsSent)
		}
	}
	t.Logf("ledger: %d acknowledged cases, %d submissions, %d answered reads; %d answers lost to the fault; events caught up in %v",
		len(l.acked), submitted, reads, sum(l.unknown), time.Since(start).Round(time.Millisecond))
}

func (l *ledger) caughtUp(pool, trail map[string]int) bool {
	for id, rec := range l.acked {
		if rec.submitted && pool[id] < 1 || trail[id] < rec.readOK {
			return false
		}
	}
	return true
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// available counts the entries of each case in pro's pool, every page.
func available(t *testing.T, base string, pro patient) map[string]int {
	seen := map[string]int{}
	each(t, base+"/api/v1/assignments/available/"+pro.id+"?limit=100", pro.token, func(raw json.RawMessage) {
		var e struct{ CaseID string }
		_ = json.Unmarshal(raw, &e)
		seen[e.CaseID]++
	})
	return seen
}

// caseReads counts the audit entries of the patients' case reads per
// case; the services' own reads (search fetching a case's text) are
// audited too, but are not the load's.
func caseReads(t *testing.T, base, admin string) map[string]int {
	seen := map[string]int{}
	each(t, base+"/api/v1/audit?resourceType=case&limit=200", admin, func(raw json.RawMessage) {
		var e struct{ Action, ActorRole, ResourceID string }
		_ = json.Unmarshal(raw, &e)
		if e.Action == "case.read" && e.ActorRole == "patient" {
			seen[e.ResourceID]++
		}
	})
	return seen
}

// each calls fn with every item of every page of a listing.
func each(t *testing.T, first, token string, fn func(json.RawMessage)) {
	t.Helper()
	next := first
	for next != "" {
		code, _, out, err := do(http.MethodGet, next, token, "", "")
		var page struct {
			Items      []json.RawMessage
			NextCursor string
		}
		if err != nil || code != http.StatusOK || json.Unmarshal(out, &page) != nil {
			t.Fatalf("GET %s: %d %s %v", next, code, out, err)
		}
		for _, it := range page.Items {
			fn(it)
		}
		next = ""
		if page.NextCursor != "" {
			u, _ := url.Parse(first)
			q := u.Query()
			q.Set("cursor", page.NextCursor)
			u.RawQuery = q.Encode()
			next = u.String()
		}
	}
}
