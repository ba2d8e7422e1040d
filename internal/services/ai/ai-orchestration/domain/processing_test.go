package domain

import (
	"errors"
	"testing"
	"time"
)

var (
	t0  = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	pol = Policy{MaxAttempts: 3, Backoff: time.Second, MaxBackoff: 5 * time.Second, Lease: time.Minute}
)

func TestWaitDoublesUpToTheLongest(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := pol.Wait(i + 1); got != w {
			t.Errorf("Wait(%d) = %v, want %v", i+1, got, w)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	for name, p := range map[string]Policy{
		"no attempts":       {MaxAttempts: 0, Backoff: 1, MaxBackoff: 1, Lease: 1},
		"no backoff":        {MaxAttempts: 1, Backoff: 0, MaxBackoff: 1, Lease: 1},
		"longest too short": {MaxAttempts: 1, Backoff: 2, MaxBackoff: 1, Lease: 1},
		"no lease":          {MaxAttempts: 1, Backoff: 1, MaxBackoff: 1, Lease: 0},
	} {
		if p.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := pol.Validate(); err != nil {
		t.Errorf("a sane policy refused: %v", err)
	}
}

// TestACaseIsOrphanedAfterItsLastAttempt walks a case through its
// attempts: each failure waits longer, the last orphans it.
func TestACaseIsOrphanedAfterItsLastAttempt(t *testing.T) {
	p := Processing{ID: "p", Kind: KindCase, Status: Queued, Due: t0}
	now := t0
	for n := 1; n <= pol.MaxAttempts; n++ {
		var err error
		if p, err = p.Claim(now, pol); err != nil {
			t.Fatalf("attempt %d: %v", n, err)
		}
		if p.Status != Running || p.Attempts != n || !p.Due.Equal(now.Add(pol.Lease)) {
			t.Fatalf("attempt %d claimed: %+v", n, p)
		}
		if _, err := p.Claim(now, pol); err == nil {
			t.Fatalf("attempt %d: a second claim within the lease was accepted", n)
		}
		var retry bool
		p, retry = p.Fail(now, "ALL_PROVIDERS_FAILED", pol)
		if retry != (n < pol.MaxAttempts) {
			t.Fatalf("attempt %d: retry = %v", n, retry)
		}
		if retry && (p.Status != Queued || !p.Due.Equal(now.Add(pol.Wait(n)))) {
			t.Fatalf("attempt %d: after failure %+v", n, p)
		}
		now = now.Add(time.Minute)
	}
	if p.Status != Orphaned || p.Reason != "ALL_PROVIDERS_FAILED" || p.CompletedAt.IsZero() {
		t.Fatalf("after the last attempt: %+v", p)
	}
	if _, err := p.Claim(now, pol); err == nil {
		t.Fatal("an orphaned case was claimed")
	}
	// Triage: a retry starts a new round.
	r, err := p.Retry(now)
	if err != nil || r.Status != Queued || r.Attempts != 0 || !r.CompletedAt.IsZero() {
		t.Fatalf("retry: %+v, %v", r, err)
	}
	if _, err := r.Retry(now); !errors.Is(err, ErrNotOrphaned) {
		t.Fatalf("retry of a queued case: %v", err)
	}
}

func TestADocumentFailsInsteadOfOrphaning(t *testing.T) {
	p := Processing{Kind: KindDocument, Status: Queued}
	p, _ = p.Claim(t0, Policy{MaxAttempts: 1, Backoff: 1, MaxBackoff: 1, Lease: 1})
	p, retry := p.Fail(t0, "UNAVAILABLE", Policy{MaxAttempts: 1, Backoff: 1, MaxBackoff: 1, Lease: 1})
	if retry || p.Status != Failed {
		t.Fatalf("%+v retry=%v", p, retry)
	}
}

// TestADeadAttemptIsClaimedAgainAfterItsLease: a process that died mid
// attempt leaves it RUNNING; past the lease another may claim it.
func TestADeadAttemptIsClaimedAgainAfterItsLease(t *testing.T) {
	p, _ := Processing{Status: Queued}.Claim(t0, pol)
	if p.Claimable(t0.Add(pol.Lease - time.Nanosecond)) {
		t.Fatal("claimable within the lease")
	}
	if !p.Claimable(t0.Add(pol.Lease)) {
		t.Fatal("not claimable after the lease")
	}
	p, err := p.Claim(t0.Add(pol.Lease), pol)
	if err != nil || p.Attempts != 2 {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestReleaseGivesTheAttemptBack(t *testing.T) {
	p, _ := Processing{Status: Queued, Attempts: 1}.Claim(t0, pol)
	p = p.Release(t0.Add(time.Second))
	if p.Status != Queued || p.Attempts != 1 || !p.Claimable(t0.Add(time.Second)) {
		t.Fatalf("%+v", p)
	}
	done := Processing{Status: Completed}.Release(t0)
	if done.Status != Completed {
		t.Fatal("release moved a completed processing")
	}
}

func TestStuck(t *testing.T) {
	grace := time.Minute
	for _, c := range []struct {
		p    Processing
		at   time.Duration
		want bool
	}{
		{Processing{Status: Queued, Due: t0}, grace, false},
		{Processing{Status: Queued, Due: t0}, grace + time.Second, true},
		{Processing{Status: Running, Due: t0}, grace + time.Second, true},
		{Processing{Status: Orphaned, Due: t0}, time.Hour, false},
		{Processing{Status: Completed, Due: t0}, time.Hour, false},
	} {
		if got := c.p.Stuck(t0.Add(c.at), grace); got != c.want {
			t.Errorf("%s at +%v: stuck = %v", c.p.Status, c.at, got)
		}
	}
}

func TestSkip(t *testing.T) {
	for _, c := range []struct {
		from    Status
		changed bool
	}{
		{Queued, true}, {Running, true}, {Orphaned, true}, {Completed, false}, {Skipped, false}, {Failed, false},
	} {
		p, changed := Processing{Status: c.from}.Skip(t0, ReasonConsentWithdrawn)
		if changed != c.changed {
			t.Errorf("skip from %s: changed = %v", c.from, changed)
		}
		if changed && (p.Status != Skipped || p.Reason != ReasonConsentWithdrawn) {
			t.Errorf("skip from %s: %+v", c.from, p)
		}
		if !changed && p.Status != c.from {
			t.Errorf("skip from %s moved it to %s", c.from, p.Status)
		}
	}
}

func TestComplete(t *testing.T) {
	p := Processing{Status: Running, Reason: "TIMEOUT"}.Complete(t0)
	if p.Status != Completed || p.Reason != "" || !p.CompletedAt.Equal(t0) {
		t.Fatalf("%+v", p)
	}
}

func TestRequeue(t *testing.T) {
	p := Processing{Status: Running, Attempts: 2, Due: t0}.Requeue(t0.Add(time.Hour))
	if p.Status != Queued || p.Attempts != 2 || !p.Due.Equal(t0.Add(time.Hour)) {
		t.Fatalf("%+v", p)
	}
	if q := (Processing{Status: Orphaned}).Requeue(t0); q.Status != Orphaned {
		t.Fatal("an orphaned processing was requeued by the sweep")
	}
}
