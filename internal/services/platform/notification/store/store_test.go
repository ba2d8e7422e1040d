package store

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/notification/domain"
)

func each(t *testing.T, fn func(t *testing.T, s *Store, db *sqldb.DB)) {
	testkit.ForEachEngine(t, "notification", func(t *testing.T, db *sqldb.DB) {
		if err := Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		fn(t, New(db), db)
	})
}

// t0 is at microseconds, the precision both engines keep.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

func inTx(t *testing.T, db *sqldb.DB, fn func(tx *sql.Tx) error) {
	t.Helper()
	if err := db.InTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestCases(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		ctx := context.Background()
		c, p, pro := uuid.NewString(), uuid.NewString(), uuid.NewString()
		var got Case
		inTx(t, db, func(tx *sql.Tx) error {
			for _, set := range []Case{{CaseID: c, PatientID: p, CaseNumber: "EU-1"}, {CaseID: c, Language: "de"},
				{CaseID: c, ProfessionalID: pro}, {CaseID: c, PatientID: p, CaseNumber: "EU-1"}} {
				if err := s.SetCase(ctx, tx, set); err != nil {
					return err
				}
			}
			if err := s.ClearAssignee(ctx, tx, c, uuid.NewString()); err != nil { // not theirs: stays
				return err
			}
			var err error
			got, err = s.Case(ctx, tx, c)
			return err
		})
		if got != (Case{CaseID: c, PatientID: p, CaseNumber: "EU-1", Language: "de", ProfessionalID: pro}) {
			t.Errorf("case %+v", got)
		}
		inTx(t, db, func(tx *sql.Tx) error {
			if err := s.ClearAssignee(ctx, tx, c, pro); err != nil {
				return err
			}
			var err error
			got, err = s.Case(ctx, tx, c)
			return err
		})
		if got.ProfessionalID != "" || got.PatientID != p {
			t.Errorf("after the assignment ended: %+v", got)
		}
		inTx(t, db, func(tx *sql.Tx) error {
			var err error
			got, err = s.Case(ctx, tx, uuid.NewString())
			return err
		})
		if got.PatientID != "" {
			t.Errorf("unknown case: %+v", got)
		}
	})
}

func add(t *testing.T, s *Store, db *sqldb.DB, n domain.Notice, deliver bool, at time.Time) string {
	t.Helper()
	var id string
	inTx(t, db, func(tx *sql.Tx) error {
		var err error
		id, err = s.Add(context.Background(), tx, n, "en", uuid.NewString(), deliver, at)
		return err
	})
	return id
}

func TestNoticesListAndRead(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		ctx := context.Background()
		p := uuid.NewString()
		var ids []string
		for i := range 5 {
			ids = append(ids, add(t, s, db, domain.Notice{To: domain.Patient, RecipientID: p, Kind: domain.CaseSubmitted,
				Params: domain.Params{CaseID: uuid.NewString(), CaseNumber: "EU-1", Code: "never stored"}}, false, t0.Add(time.Duration(i%2)*time.Second)))
		}
		add(t, s, db, domain.Notice{To: domain.Admin, Kind: domain.CaseOrphaned}, false, t0)
		if n := testkit.CountContaining(t, db, "notifications", "never stored"); n != 0 {
			t.Error("a code was stored")
		}
		var seen []string
		var after page.Cursor
		for {
			ns, next, err := s.List(ctx, domain.Patient, p, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range ns {
				seen = append(seen, n.ID)
			}
			if next == "" {
				break
			}
			if after, err = page.Decode(next); err != nil {
				t.Fatal(err)
			}
		}
		// Newest first: the later second's three, then the earlier's two,
		// each by id descending.
		want := []string{ids[3], ids[1], ids[4], ids[2], ids[0]}
		if len(seen) != 5 || seen[0] != want[0] || seen[4] != want[4] {
			t.Errorf("order %v, want %v", seen, want)
		}
		if ns, _, _ := s.List(ctx, domain.Admin, "", page.Cursor{}, 10); len(ns) != 1 {
			t.Errorf("admin notices: %d", len(ns))
		}
		n, err := s.MarkRead(ctx, ids[0], t0.Add(time.Minute))
		if err != nil || n.ReadAt == nil || !n.ReadAt.Equal(t0.Add(time.Minute).Truncate(time.Microsecond)) || n.Params.CaseNumber != "EU-1" {
			t.Fatalf("read: %+v %v", n, err)
		}
		if n, _ := s.MarkRead(ctx, ids[0], t0.Add(time.Hour)); !n.ReadAt.Equal(t0.Add(time.Minute).Truncate(time.Microsecond)) {
			t.Error("read twice moved the time")
		}
		if _, err := s.Notification(ctx, uuid.NewString()); !fault.Is(err, fault.KindNotFound) {
			t.Errorf("unknown: %v", err)
		}
	})
}

// A due delivery is claimed by one caller only; its lease keeps others
// off until it runs out; a finish after that is refused.
func TestClaimAndFinish(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		ctx := context.Background()
		p := uuid.NewString()
		add(t, s, db, domain.Notice{To: domain.Patient, RecipientID: p, Kind: domain.OpinionReady}, true, t0)
		ids, err := s.Due(ctx, t0, 10)
		if err != nil || len(ids) != 1 {
			t.Fatalf("due %v %v", ids, err)
		}
		type result struct {
			l  Lease
			ok bool
		}
		results := make(chan result, 8)
		for range 8 {
			go func() {
				l, ok, err := s.Claim(ctx, ids[0], t0, time.Minute)
				if err != nil {
					t.Error(err)
				}
				results <- result{l, ok}
			}()
		}
		var won []Lease
		for range 8 {
			if r := <-results; r.ok {
				won = append(won, r.l)
			}
		}
		if len(won) != 1 {
			t.Fatalf("%d claims won, want 1", len(won))
		}
		if ids, _ := s.Due(ctx, t0.Add(30*time.Second), 10); len(ids) != 0 {
			t.Error("a leased delivery is due")
		}
		// The lease runs out (the replica died): another claims it.
		again, ok, err := s.Claim(ctx, ids[0], t0.Add(2*time.Minute), time.Minute)
		if err != nil || !ok {
			t.Fatalf("claim after the lease: %v %v", ok, err)
		}
		if ok, err := s.Finish(ctx, won[0], Outcome{Status: domain.Sent, Channel: "EMAIL"}, t0.Add(2*time.Minute)); err != nil || ok {
			t.Errorf("a stale lease finished: %v %v", ok, err)
		}
		next := t0.Add(3 * time.Minute)
		if ok, err := s.Finish(ctx, again, Outcome{Status: domain.Failed, Channel: "EMAIL", Error: "down", Next: next}, t0.Add(2*time.Minute)); err != nil || !ok {
			t.Fatalf("finish: %v %v", ok, err)
		}
		d, _ := s.Delivery(ctx, ids[0])
		if d.Status != domain.Failed || d.Attempts != 1 || d.LastError != "down" || !d.NextAttemptAt.Equal(next) || d.Channel != "EMAIL" {
			t.Errorf("after a failure: %+v", d)
		}
		if ids, _ := s.Due(ctx, next, 10); len(ids) != 1 {
			t.Error("the failed delivery is not due at its time")
		}
		l, _, _ := s.Claim(ctx, ids[0], next, time.Minute)
		if _, err := s.Finish(ctx, l, Outcome{Status: domain.Dead, Error: "gave up"}, next); err != nil {
			t.Fatal(err)
		}
		if ids, _ := s.Due(ctx, next.Add(time.Hour), 10); len(ids) != 0 {
			t.Error("a dead delivery is due")
		}
		dead, _, err := s.Deliveries(ctx, domain.Dead, page.Cursor{}, 10)
		if err != nil || len(dead) != 1 || dead[0].Attempts != 2 {
			t.Fatalf("dead: %+v %v", dead, err)
		}
		r, err := s.Replay(ctx, ids[0], next.Add(time.Hour))
		if err != nil || r.Status != domain.Queued || !r.RetryFrom.Equal(next.Add(time.Hour)) {
			t.Fatalf("replay: %+v %v", r, err)
		}
		if _, err := s.Replay(ctx, ids[0], next.Add(time.Hour)); !fault.Is(err, fault.KindConflict) {
			t.Errorf("replay of a queued delivery: %v", err)
		}
		secret, err := s.LogSecret(ctx, p, domain.SecretLogin, "SMS", domain.Dead, 3, "down", t0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Replay(ctx, secret, t0); !fault.Is(err, fault.KindConflict) {
			t.Errorf("replay of a secret: %v", err)
		}
		if ids, _ := s.Due(ctx, t0.Add(48*time.Hour), 10); len(ids) != 1 {
			t.Errorf("due after the replay: %v", ids)
		}
	})
}

func TestErase(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		ctx := context.Background()
		p, other, c, pro := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
		inTx(t, db, func(tx *sql.Tx) error { return s.SetCase(ctx, tx, Case{CaseID: c, PatientID: p}) })
		add(t, s, db, domain.Notice{To: domain.Patient, RecipientID: p, Kind: domain.CaseSubmitted, Params: domain.Params{CaseID: c}}, true, t0)
		add(t, s, db, domain.Notice{To: domain.Professional, RecipientID: pro, Kind: domain.QuestionAsked, Params: domain.Params{CaseID: c}}, true, t0)
		add(t, s, db, domain.Notice{To: domain.Admin, Kind: domain.CaseEscalated, Params: domain.Params{CaseID: c}}, true, t0)
		add(t, s, db, domain.Notice{To: domain.Patient, RecipientID: other, Kind: domain.CaseSubmitted}, true, t0)
		if _, err := s.LogSecret(ctx, p, domain.SecretLogin, "EMAIL", domain.Sent, 1, "", t0); err != nil {
			t.Fatal(err)
		}
		var cases []string
		inTx(t, db, func(tx *sql.Tx) error {
			var err error
			cases, err = s.Erase(ctx, tx, p)
			return err
		})
		if len(cases) != 1 || cases[0] != c {
			t.Errorf("erased cases %v", cases)
		}
		for _, table := range []string{"notifications", "deliveries", "notification_cases"} {
			if n := testkit.CountContaining(t, db, table, p, c); n != 0 {
				t.Errorf("%s keeps %d rows", table, n)
			}
			if table != "notification_cases" && testkit.CountContaining(t, db, table, other) != 1 {
				t.Errorf("%s lost another patient's row", table)
			}
		}
	})
}
