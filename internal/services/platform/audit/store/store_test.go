package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// each runs fn on a fresh, migrated audit store per engine, so a test that
// tampers with the chain leaves no trace in the next.
func each(t *testing.T, fn func(t *testing.T, s *Store, db *sqldb.DB)) {
	testkit.ForEachEngine(t, "audit", func(t *testing.T, db *sqldb.DB) {
		if err := Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		fn(t, New(db), db)
	})
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)

func access(patient string, i int) Entry {
	return Entry{
		At: t0.Add(time.Duration(i) * time.Minute), Actor: uuid.NewString(), ActorRole: "professional",
		Action: "case.read", ResourceType: "case", ResourceID: uuid.NewString(), PatientID: patient,
		Purpose: "treatment", ClientAddr: "203.0.113.7", UserAgent: "test/1.0", RequestID: "req-" + strconv.Itoa(i),
		Outcome: "allowed", SourceEventID: uuid.NewString(),
	}
}

func appendOne(t *testing.T, s *Store, e Entry) (Entry, bool) {
	t.Helper()
	var out Entry
	var ok bool
	err := s.db.InTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		out, ok, err = s.Append(context.Background(), tx, e)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, ok
}

func appendN(t *testing.T, s *Store, n int) []Entry {
	t.Helper()
	var out []Entry
	for i := range n {
		e, _ := appendOne(t, s, access(uuid.NewString(), i))
		out = append(out, e)
	}
	return out
}

func verify(t *testing.T, db *sqldb.DB) Report {
	t.Helper()
	r, err := Verify(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wantBroken(t *testing.T, r Report, seq int64) {
	t.Helper()
	if r.OK || r.FirstBrokenEntry == nil || *r.FirstBrokenEntry != seq {
		t.Fatalf("report %+v (first broken %v), want entry %d broken", r, deref(r.FirstBrokenEntry), seq)
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// tamper runs stmt as an attacker with rights over the store would: after
// switching the append-only triggers off, which a second call finds done.
func tamper(t *testing.T, db *sqldb.DB, stmt string, args ...any) {
	t.Helper()
	ctx := context.Background()
	var off []string
	if db.Engine == sqldb.Postgres {
		off = []string{`ALTER TABLE audit_entries DISABLE TRIGGER ALL`}
	} else {
		off = []string{`DROP TRIGGER IF EXISTS audit_entries_no_update`, `DROP TRIGGER IF EXISTS audit_entries_no_delete`}
	}
	for _, q := range off {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := db.ExecContext(ctx, stmt, args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func TestAppendAndVerify(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		if r := verify(t, db); !r.OK || r.Entries != 0 || r.FirstBrokenEntry != nil {
			t.Fatalf("empty chain: %+v", r)
		}
		es := appendN(t, s, 4)
		first := es[0]
		if first.Seq != 1 || first.PrevHash != Genesis || first.Hash != first.ComputeHash() {
			t.Fatalf("first entry %+v", first)
		}
		for i := 1; i < len(es); i++ {
			if es[i].Seq != int64(i+1) || es[i].PrevHash != es[i-1].Hash {
				t.Fatalf("entry %d not chained to %d: %+v", i+1, i, es[i])
			}
		}
		if r := verify(t, db); !r.OK || r.Entries != 4 || r.FirstBrokenEntry != nil {
			t.Fatalf("verify: %+v", r)
		}
		// What is read back is what was hashed, on both engines.
		got, _, err := s.List(context.Background(), Filter{}, page.Cursor{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != es[3] {
			t.Fatalf("read back %+v, appended %+v", got[0], es[3])
		}
		if want := t0.Truncate(time.Microsecond); !es[0].At.Equal(want) {
			t.Fatalf("at %v, want %v (microsecond precision on both engines)", es[0].At, want)
		}
	})
}

func TestRedeliveredEventAppendsOnce(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		e := access(uuid.NewString(), 0)
		first, ok := appendOne(t, s, e)
		if !ok {
			t.Fatal("first append refused")
		}
		if _, ok := appendOne(t, s, e); ok {
			t.Fatal("the same event was appended twice")
		}
		next, _ := appendOne(t, s, access(uuid.NewString(), 1))
		if next.Seq != first.Seq+1 {
			t.Fatalf("seq after a redelivery: %d, want %d", next.Seq, first.Seq+1)
		}
		if r := verify(t, db); !r.OK || r.Entries != 2 {
			t.Fatalf("verify: %+v", r)
		}
	})
}

func TestConcurrentAppends(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				errs <- s.db.InTx(context.Background(), func(tx *sql.Tx) error {
					_, _, err := s.Append(context.Background(), tx, access(uuid.NewString(), i))
					return err
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if r := verify(t, db); !r.OK || r.Entries != n {
			t.Fatalf("verify after %d concurrent appends: %+v", n, r)
		}
	})
}

func TestTriggersRefuseChanges(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		appendN(t, s, 2)
		ctx := context.Background()
		for _, q := range []string{
			`UPDATE audit_entries SET action = 'nothing' WHERE seq = 1`,
			`DELETE FROM audit_entries WHERE seq = 2`,
		} {
			if _, err := db.ExecContext(ctx, q); err == nil {
				t.Errorf("%s: allowed on an append-only table", q)
			}
		}
		if r := verify(t, db); !r.OK {
			t.Fatalf("verify: %+v", r)
		}
	})
}

func TestVerifyFindsEditedEntry(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		appendN(t, s, 5)
		tamper(t, db, `UPDATE audit_entries SET action = 'case.list' WHERE seq = 3`)
		r := verify(t, db)
		wantBroken(t, r, 3)
		if r.Entries != 5 {
			t.Fatalf("entries %d, want 5", r.Entries)
		}
	})
}

func TestVerifyFindsRehashedEntry(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		es := appendN(t, s, 5)
		// A forger who also fixes the edited entry's hash breaks the link
		// from the next entry.
		forged := es[1]
		forged.PatientID = uuid.NewString()
		tamper(t, db, `UPDATE audit_entries SET patient_id = $1, hash = $2 WHERE seq = 2`, forged.PatientID, forged.ComputeHash())
		wantBroken(t, verify(t, db), 3)
	})
}

func TestVerifyFindsDeletedEntries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		delete string
		broken int64
	}{
		{"middle", `DELETE FROM audit_entries WHERE seq = 3`, 3},
		{"first", `DELETE FROM audit_entries WHERE seq = 1`, 1},
		{"tail", `DELETE FROM audit_entries WHERE seq >= 4`, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
				appendN(t, s, 5)
				tamper(t, db, tc.delete)
				wantBroken(t, verify(t, db), tc.broken)
			})
		})
	}
}

// A forger who rewrites the chain from an entry to its end, every hash
// and link consistent, leaves no entry for the next one to contradict:
// only the chain head tells.
func TestVerifyFindsRewrittenTail(t *testing.T) {
	for _, from := range []int{5, 3} {
		t.Run(fmt.Sprintf("from entry %d of 5", from), func(t *testing.T) {
			each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
				es := appendN(t, s, 5)
				for i := from - 1; i < len(es); i++ {
					f := es[i]
					if i > from-1 {
						f.PrevHash = es[i-1].Hash
					}
					f.Actor = uuid.NewString()
					f.Hash = f.ComputeHash()
					tamper(t, db, `UPDATE audit_entries SET actor = $1, prev_hash = $2, hash = $3 WHERE seq = $4`,
						f.Actor, f.PrevHash, f.Hash, f.Seq)
					es[i] = f
				}
				r := verify(t, db)
				wantBroken(t, r, 5)
				if r.Entries != 5 || !strings.Contains(r.Reason, "chain head") {
					t.Fatalf("report %+v, want 5 entries read and the chain head named", r)
				}
			})
		})
	}
}

func TestList(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		ctx := context.Background()
		patient := uuid.NewString()
		var mine []Entry
		for i := range 5 {
			e, _ := appendOne(t, s, access(patient, i))
			mine = append(mine, e)
			appendOne(t, s, access(uuid.NewString(), i))
		}

		var got []Entry
		cursor := page.Cursor{}
		for n := 0; ; n++ {
			es, next, err := s.List(ctx, Filter{PatientID: patient}, cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, es...)
			if next == "" {
				break
			}
			if cursor, err = page.Decode(next); err != nil {
				t.Fatal(err)
			}
			if n > 5 {
				t.Fatal("pagination does not end")
			}
		}
		if len(got) != len(mine) {
			t.Fatalf("patient slice: %d entries, want %d", len(got), len(mine))
		}
		for i, e := range got {
			if e.Seq != mine[len(mine)-1-i].Seq {
				t.Fatalf("entry %d: seq %d, want %d (newest first)", i, e.Seq, mine[len(mine)-1-i].Seq)
			}
		}

		for name, tc := range map[string]struct {
			f    Filter
			want []int64
		}{
			"actor":    {Filter{Actor: mine[2].Actor}, []int64{mine[2].Seq}},
			"resource": {Filter{ResourceType: "case", ResourceID: mine[4].ResourceID}, []int64{mine[4].Seq}},
			"time": {Filter{PatientID: patient, From: mine[1].At, To: mine[3].At},
				[]int64{mine[2].Seq, mine[1].Seq}},
		} {
			es, _, err := s.List(ctx, tc.f, page.Cursor{}, 100)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []int64
			for _, e := range es {
				seqs = append(seqs, e.Seq)
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tc.want) {
				t.Errorf("%s: seqs %v, want %v", name, seqs, tc.want)
			}
		}

		if _, _, err := s.List(ctx, Filter{}, page.Cursor{ID: "x"}, 10); err == nil {
			t.Fatal("a bad cursor was accepted")
		}
	})
}

// In both canonical forms, every field is covered: a value changed,
// or moved to its neighbour, changes the hash.
func TestHashCoversEveryField(t *testing.T) {
	for _, form := range []int{Form1, Form2} {
		t.Run(fmt.Sprintf("form %d", form), func(t *testing.T) {
			base := access(uuid.NewString(), 0)
			base.Seq, base.ID, base.PrevHash, base.Form, base.Salt = 7, uuid.NewString(), Genesis, form, "salt"
			h := base.ComputeHash()
			edits := map[string]func(*Entry){
				"seq": func(e *Entry) { e.Seq++ }, "id": func(e *Entry) { e.ID = uuid.NewString() },
				"at": func(e *Entry) { e.At = e.At.Add(time.Microsecond) }, "actor": func(e *Entry) { e.Actor += "x" },
				"actorRole": func(e *Entry) { e.ActorRole = "admin" }, "action": func(e *Entry) { e.Action = "case.list" },
				"resourceType": func(e *Entry) { e.ResourceType = "patient" }, "resourceId": func(e *Entry) { e.ResourceID += "x" },
				"patientId": func(e *Entry) { e.PatientID += "x" }, "purpose": func(e *Entry) { e.Purpose = "research" },
				"clientAddr": func(e *Entry) { e.ClientAddr = "198.51.100.1" }, "userAgent": func(e *Entry) { e.UserAgent += "x" },
				"requestId": func(e *Entry) { e.RequestID += "x" }, "outcome": func(e *Entry) { e.Outcome = "denied" },
				"sourceEventId": func(e *Entry) { e.SourceEventID += "x" }, "prevHash": func(e *Entry) { e.PrevHash = h },
				// Moving bytes between neighbouring fields must change the hash too.
				"shift": func(e *Entry) { e.Purpose, e.ClientAddr = e.Purpose+e.ClientAddr[:1], e.ClientAddr[1:] },
				"form":  func(e *Entry) { e.Form = 3 - e.Form },
			}
			if form == Form2 {
				// The salt is not hashed, but the where-from digests are of it.
				edits["salt"] = func(e *Entry) { e.Salt += "x" }
			}
			for name, edit := range edits {
				e := base
				edit(&e)
				if e.ComputeHash() == h {
					t.Errorf("changing %s keeps the hash", name)
				}
			}
			if base.ComputeHash() != h {
				t.Fatal("the hash is not deterministic")
			}
		})
	}
}
