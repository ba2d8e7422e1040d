package store

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// appendV1 appends e as the store did before canonical form 2: every
// value hashed as it is. Such entries exist in stores written before.
func appendV1(t *testing.T, s *Store, e Entry) Entry {
	t.Helper()
	err := s.db.InTx(context.Background(), func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(context.Background(), `SELECT seq, hash FROM audit_chain_head WHERE id = 1`).Scan(&e.Seq, &e.PrevHash); err != nil {
			return err
		}
		e = normalise(e)
		e.Seq, e.ID, e.Form = e.Seq+1, uuid.NewString(), Form1
		e.Hash = e.ComputeHash()
		if _, err := tx.ExecContext(context.Background(), `INSERT INTO audit_entries (`+columns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
			e.Seq, e.ID, e.At, e.Actor, e.ActorRole, e.Action, e.ResourceType, e.ResourceID, e.PatientID, e.Purpose,
			e.ClientAddr, e.UserAgent, e.RequestID, e.Outcome, e.SourceEventID, e.PrevHash, e.Hash,
			e.Form, e.Pseudonymised, e.Salt); err != nil {
			return err
		}
		_, err := tx.ExecContext(context.Background(), `UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1`, e.Seq, e.Hash)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func erase(t *testing.T, s *Store, subject string) Erasure {
	t.Helper()
	var r Erasure
	err := s.db.InTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		r, err = s.Erase(context.Background(), tx, subject, t0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func entry(t *testing.T, db *sqldb.DB, seq int64) Entry {
	t.Helper()
	es, err := queryEntries(context.Background(), db, `SELECT `+columns+` FROM audit_entries WHERE seq = $1`, seq)
	if err != nil || len(es) != 1 {
		t.Fatalf("entry %d: %v %v", seq, es, err)
	}
	return es[0]
}

var isDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestEraseKeepsTheChain(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		patient, other, pro := uuid.NewString(), uuid.NewString(), uuid.NewString()
		old := access(patient, 0) // before form 2: cannot change
		old.Actor = pro
		old = appendV1(t, s, old)

		byPro := access(patient, 1)
		byPro.Actor, byPro.ClientAddr, byPro.UserAgent = pro, "198.51.100.9", "pro-browser/2"
		byPro, _ = appendOne(t, s, byPro)
		own := access(patient, 2)
		own.Actor, own.ActorRole, own.ClientAddr, own.UserAgent = patient, "patient", "203.0.113.50", "patient-phone/1"
		own, _ = appendOne(t, s, own)
		profile, _ := appendOne(t, s, Entry{Actor: "patient-identity", ActorRole: "service", Action: "patient.updated",
			ResourceType: "patient", ResourceID: patient, Outcome: "allowed", SourceEventID: uuid.NewString()})
		unrelated, _ := appendOne(t, s, access(other, 3))

		if r := erase(t, s, patient); r != (Erasure{Pseudonymised: 3, Kept: 1}) {
			t.Fatalf("erasure %+v, want 3 pseudonymised and the form-1 entry kept", r)
		}
		if r := verify(t, db); !r.OK || r.Entries != 5 {
			t.Fatalf("verify after the erasure: %+v", r)
		}
		p := Pseudonym(patient)

		// A professional's access: the patient is a pseudonym, the
		// professional and where they worked from are kept.
		got := entry(t, db, byPro.Seq)
		if got.PatientID != p || got.Actor != pro || got.ClientAddr != byPro.ClientAddr ||
			got.UserAgent != byPro.UserAgent || got.Salt != byPro.Salt || got.Pseudonymised != PatientID|ResourceID ||
			got.ResourceID != digest("", byPro.ResourceID) {
			t.Errorf("professional's access after the erasure: %+v", got)
		}
		// The patient's own action: they, and where they acted from, go.
		got = entry(t, db, own.Seq)
		if got.Actor != p || got.PatientID != p || got.Salt != "" || got.Pseudonymised != Actor|ResourceID|PatientID|ClientAddr|UserAgent ||
			!isDigest.MatchString(got.ClientAddr) || !isDigest.MatchString(got.UserAgent) ||
			got.ClientAddr == digest("", own.ClientAddr) || got.ResourceID != digest("", own.ResourceID) {
			t.Errorf("patient's own access after the erasure: %+v", got)
		}
		if got = entry(t, db, profile.Seq); got.ResourceID != p || got.Pseudonymised != ResourceID {
			t.Errorf("change of the profile after the erasure: %+v", got)
		}
		if got = entry(t, db, unrelated.Seq); got != unrelated {
			t.Errorf("another patient's entry changed: %+v, was %+v", got, unrelated)
		}
		if got = entry(t, db, old.Seq); got != old {
			t.Errorf("form-1 entry changed: %+v, was %+v", got, old)
		}

		// Nothing of the patient is left but in the form-1 entry, and the
		// erased subjects know them by pseudonym only.
		for q, args := range map[string][]any{
			`SELECT count(*) FROM audit_entries WHERE form = 2 AND (actor = $1 OR resource_id = $1 OR patient_id = $1
				OR client_addr = $2 OR user_agent = $3)`: {patient, own.ClientAddr, own.UserAgent},
			`SELECT count(*) FROM erased_subjects WHERE pseudonym <> $1`: {p},
		} {
			var n int
			if err := db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%s: %d rows", q, n)
			}
		}

		// Admins find the entries about the erased patient by pseudonym.
		es, _, err := s.List(context.Background(), Filter{PatientID: p}, page.Cursor{}, 10)
		if err != nil || len(es) != 2 {
			t.Errorf("listing by pseudonym: %d entries, %v; want 2", len(es), err)
		}

		if r := erase(t, s, patient); r != (Erasure{Kept: 1}) {
			t.Errorf("second erasure %+v, want nothing more to do", r)
		}
		if r := verify(t, db); !r.OK {
			t.Fatalf("verify after a second erasure: %+v", r)
		}
	})
}

func TestEraseNeedsASubject(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		appendOne(t, s, Entry{Actor: "case-management", Action: "case.created", SourceEventID: uuid.NewString()})
		err := s.db.InTx(context.Background(), func(tx *sql.Tx) error {
			_, err := s.Erase(context.Background(), tx, "", t0)
			return err
		})
		if err == nil {
			t.Fatal("an erasure of nobody was carried out")
		}
	})
}

// An entry about an erased patient that arrives after the erasure (an
// event still on its way) is pseudonymised as it is appended.
func TestAppendPseudonymisesErasedSubjects(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		patient := uuid.NewString()
		erase(t, s, patient)
		late := access(patient, 0)
		late.Actor, late.ResourceID = patient, patient
		got, _ := appendOne(t, s, late)
		p := Pseudonym(patient)
		if got.Actor != p || got.ResourceID != p || got.PatientID != p || got.Salt != "" ||
			!isDigest.MatchString(got.ClientAddr) || got.Pseudonymised != Actor|ResourceID|PatientID|ClientAddr|UserAgent {
			t.Fatalf("late entry %+v", got)
		}
		if stored := entry(t, db, got.Seq); stored != got {
			t.Fatalf("stored %+v, appended %+v", stored, got)
		}
		// Others are appended as they are.
		other := access(uuid.NewString(), 1)
		if got, _ := appendOne(t, s, other); got.PatientID != other.PatientID || got.Pseudonymised != 0 || got.Salt == "" {
			t.Fatalf("another patient's entry %+v", got)
		}
		if r := verify(t, db); !r.OK || r.Entries != 2 {
			t.Fatalf("verify: %+v", r)
		}
	})
}

// Appends racing an erasure either land before it, and are pseudonymised
// by it, or after it, and are pseudonymised as they are appended.
func TestEraseDuringAppends(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		patient := uuid.NewString()
		const n = 40
		var wg sync.WaitGroup
		errs := make(chan error, n+1)
		for i := range n {
			wg.Go(func() {
				errs <- s.db.InTx(context.Background(), func(tx *sql.Tx) error {
					_, _, err := s.Append(context.Background(), tx, access(patient, i))
					return err
				})
			})
			if i == n/2 {
				wg.Go(func() {
					errs <- s.db.InTx(context.Background(), func(tx *sql.Tx) error {
						_, err := s.Erase(context.Background(), tx, patient, t0)
						return err
					})
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var named int
		if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM audit_entries WHERE patient_id = $1`,
			patient).Scan(&named); err != nil {
			t.Fatal(err)
		}
		if named != 0 {
			t.Errorf("%d entries still name the erased patient", named)
		}
		if r := verify(t, db); !r.OK || r.Entries != n {
			t.Fatalf("verify: %+v", r)
		}
	})
}

// An erasure waits for an append under way, then pseudonymises its entry
// too: the append looked for erased subjects before there was one.
func TestEraseWaitsForAnAppend(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		ctx := context.Background()
		patient := uuid.NewString()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, _, err := s.Append(ctx, tx, access(patient, 0)); err != nil {
			t.Fatal(err)
		}
		erased := make(chan error, 1)
		go func() {
			erased <- db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := s.Erase(ctx, tx, patient, t0)
				return err
			})
		}()
		select {
		case err := <-erased:
			t.Fatalf("the erasure did not wait for the append under way: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-erased; err != nil {
			t.Fatal(err)
		}
		if got := entry(t, db, 1); got.PatientID != Pseudonym(patient) {
			t.Fatalf("the entry appended during the erasure names the patient: %+v", got)
		}
	})
}

// A pseudonymised field is as tamper-evident as any other. (Putting the
// erased value back is not tampering the chain can see: the digest it
// holds is that value's. The triggers refuse it.)
func TestVerifyFindsEditedPseudonym(t *testing.T) {
	patient := uuid.NewString()
	for name, edit := range map[string]string{
		"another digest":          `UPDATE audit_entries SET patient_id = '` + Pseudonym(uuid.NewString()) + `' WHERE seq = 2`,
		"the mask cleared":        `UPDATE audit_entries SET pseudonymised = 0 WHERE seq = 2`,
		"a value marked a digest": `UPDATE audit_entries SET pseudonymised = 5 WHERE seq = 2`,
		"the where-from digest":   `UPDATE audit_entries SET client_addr = '` + Pseudonym("198.51.100.1") + `' WHERE seq = 3`,
		"the salt":                `UPDATE audit_entries SET salt = 'x' WHERE seq = 2`,
		"the form":                `UPDATE audit_entries SET form = 1 WHERE seq = 2`,
	} {
		t.Run(name, func(t *testing.T) {
			each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
				appendOne(t, s, access(uuid.NewString(), 0))
				appendOne(t, s, access(patient, 1))
				own := access(patient, 2)
				own.Actor = patient
				appendOne(t, s, own)
				appendOne(t, s, access(uuid.NewString(), 3))
				erase(t, s, patient)
				if r := verify(t, db); !r.OK {
					t.Fatalf("verify before tampering: %+v", r)
				}
				tamper(t, db, edit)
				seq := int64(2)
				if strings.Contains(edit, "seq = 3") {
					seq = 3
				}
				wantBroken(t, verify(t, db), seq)
			})
		})
	}
}

// The triggers let an entry of form 2 be pseudonymised, and nothing else.
func TestTriggersAllowOnlyPseudonymisation(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		ctx := context.Background()
		patient := uuid.NewString()
		old := appendV1(t, s, access(patient, 0))
		e, _ := appendOne(t, s, access(patient, 1))
		appendOne(t, s, Entry{Actor: "case-management", Action: "case.created", ResourceID: uuid.NewString(),
			SourceEventID: uuid.NewString()})
		p, addr, ua := Pseudonym(patient), digest(e.Salt, e.ClientAddr), digest(e.Salt, e.UserAgent)
		refused := map[string]string{
			"another column":                `UPDATE audit_entries SET action = 'nothing' WHERE seq = 2`,
			"the hash":                      `UPDATE audit_entries SET hash = '` + Genesis + `' WHERE seq = 2`,
			"the form":                      `UPDATE audit_entries SET form = 1 WHERE seq = 2`,
			"a value without its bit":       `UPDATE audit_entries SET patient_id = '` + p + `' WHERE seq = 2`,
			"a bit without a digest":        `UPDATE audit_entries SET patient_id = 'somebody', pseudonymised = 4 WHERE seq = 2`,
			"the salt alone":                `UPDATE audit_entries SET salt = '' WHERE seq = 2`,
			"where-from, salt kept":         fmt.Sprintf(`UPDATE audit_entries SET client_addr = '%s', user_agent = '%s', pseudonymised = 24 WHERE seq = 2`, addr, ua),
			"half of where-from":            fmt.Sprintf(`UPDATE audit_entries SET client_addr = '%s', salt = '', pseudonymised = 8 WHERE seq = 2`, addr),
			"an entry of form 1":            `UPDATE audit_entries SET patient_id = '` + p + `', pseudonymised = 4 WHERE seq = 1`,
			"a delete":                      `DELETE FROM audit_entries WHERE seq = 2`,
			"a delete of a form-1 entry":    `DELETE FROM audit_entries WHERE seq = 1`,
			"an empty field given a digest": `UPDATE audit_entries SET patient_id = '` + p + `', pseudonymised = 4 WHERE seq = 3`,
		}
		if db.Engine == sqldb.Postgres {
			// PostgreSQL computes digests: only the old value's will do.
			refused["another digest"] = `UPDATE audit_entries SET patient_id = '` + Pseudonym(uuid.NewString()) + `', pseudonymised = 4 WHERE seq = 2`
		}
		for name, q := range refused {
			if _, err := db.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want the triggers' refusal", name, err)
			}
		}
		for _, q := range []string{
			`UPDATE audit_entries SET patient_id = '` + p + `', pseudonymised = 4 WHERE seq = 2`,
			fmt.Sprintf(`UPDATE audit_entries SET client_addr = '%s', user_agent = '%s', salt = '', pseudonymised = 28 WHERE seq = 2`, addr, ua),
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Errorf("pseudonymisation refused: %s: %v", q, err)
			}
		}
		if _, err := db.ExecContext(ctx, `UPDATE audit_entries SET patient_id = $1, pseudonymised = 0 WHERE seq = 2`,
			patient); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("restoring a pseudonymised field: %v, want the triggers' refusal", err)
		}
		if got := entry(t, db, 1); got != old {
			t.Errorf("form-1 entry changed: %+v", got)
		}
		if r := verify(t, db); !r.OK || r.Entries != 3 {
			t.Fatalf("verify: %+v", r)
		}
	})
}

// PostgreSQL's trigger computes the digest as the store does.
func TestDigestInPostgres(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		if db.Engine != sqldb.Postgres {
			t.Skip("SQLite has no SHA-256")
		}
		for _, c := range [][2]string{{"", uuid.NewString()}, {"salt", "203.0.113.7"}, {"sälz", "Mozilla/5.0 (Ünïcode)"}, {"x", ""}} {
			var got string
			if err := db.QueryRowContext(context.Background(), `SELECT audit_field_digest($1, $2)`, c[0], c[1]).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := digest(c[0], c[1]); got != want {
				t.Errorf("digest(%q, %q): %s in PostgreSQL, %s in Go", c[0], c[1], got, want)
			}
		}
	})
}

func TestConcerning(t *testing.T) {
	each(t, func(t *testing.T, s *Store, db *sqldb.DB) {
		patient, caseID := uuid.NewString(), uuid.NewString()
		var want []int64
		keep := func(e Entry) {
			got, _ := appendOne(t, s, e)
			want = append(want, got.Seq)
		}
		keep(access(patient, 0))
		appendOne(t, s, access(uuid.NewString(), 1))
		own := access(uuid.NewString(), 2) // the patient acting on another's data
		own.Actor = patient
		keep(own)
		keep(Entry{Actor: "patient-identity", Action: "patient.updated", ResourceID: patient, SourceEventID: uuid.NewString()})
		keep(Entry{Actor: "case-management", Action: "case.created", ResourceID: caseID, SourceEventID: uuid.NewString()})
		appendOne(t, s, Entry{Actor: "case-management", Action: "case.created", ResourceID: uuid.NewString(), SourceEventID: uuid.NewString()})

		var got []int64
		for after := int64(0); ; {
			es, err := s.Concerning(context.Background(), patient, []string{caseID}, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				got, after = append(got, e.Seq), e.Seq
			}
			if len(es) < 2 {
				break
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("entries %v, want %v, oldest first", got, want)
		}
		if es, err := s.Concerning(context.Background(), patient, nil, 0, 10); err != nil || len(es) != 3 {
			t.Fatalf("without cases: %d entries, %v; want 3", len(es), err)
		}
	})
}
