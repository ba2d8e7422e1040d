package audit

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/audit/store"
)

// TestRecordReachesTheChain follows an access from a producing service's
// outbox over the relay and the in-process bus into the audit chain.
func TestRecordReachesTheChain(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tr := inproc.New()
		t.Cleanup(func() { tr.Close() })
		s, h := newService(t, db, tr)
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})

		producer := testkit.OpenDB(t, db.Engine, "case-management")
		if err := outbox.Migrate(ctx, producer); err != nil {
			t.Fatal(err)
		}
		patient, caseID := uuid.NewString(), uuid.NewString()
		if err := kitaudit.Record(ctx, producer, kitaudit.Entry{
			Actor: patient, ActorRole: "patient", Action: "case.read", ResourceType: "case", ResourceID: caseID,
			PatientID: patient, Purpose: "patient-self-access", Outcome: kitaudit.Allowed,
		}); err != nil {
			t.Fatal(err)
		}
		if err := outbox.NewRelay(producer, tr, outbox.RelayOptions{}).Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got := waitFor(t, s, store.Filter{PatientID: patient})
		if got.Action != "case.read" || got.ResourceID != caseID || got.Actor != patient || got.Seq != 1 {
			t.Fatalf("chained entry %+v", got)
		}

		// The audit service's own read of the trail takes the same path.
		if code := get(t, h, "admin", "/api/v1/patients/"+patient+"/access-log", nil); code != 200 {
			t.Fatalf("access log: status %d", code)
		}
		own := waitFor(t, s, store.Filter{Actor: admin.Subject})
		if own.Action != "audit.access_log.read" || own.PatientID != patient {
			t.Fatalf("entry of the audit read %+v", own)
		}
		if r, err := Verify(ctx, db); err != nil || !r.OK || r.Entries != 2 {
			t.Fatalf("verify: %+v, %v", r, err)
		}
	})
}

// waitFor polls the chain until an entry matches f: delivery is
// asynchronous, and the deadline only bounds a failing run.
func waitFor(t *testing.T, s *Service, f store.Filter) store.Entry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		es, _, err := s.store.List(context.Background(), f, page.Cursor{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 1 {
			return es[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no entry matching %+v reached the chain", f)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
