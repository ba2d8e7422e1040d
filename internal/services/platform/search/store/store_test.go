package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/search/domain"
)

// The contract both engines keep: who sees what (held to domain.Access),
// ranking, typos, filters, pages, consents and erasure.
func TestStore(t *testing.T) {
	testkit.ForEachEngine(t, "search", func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := Migrate(ctx, db); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		s := New(db)
		t.Run("visibility", func(t *testing.T) { testVisibility(t, s) })
		t.Run("ranking", func(t *testing.T) { testRanking(t, s) })
		t.Run("typos", func(t *testing.T) { testTypos(t, s) })
		t.Run("filters", func(t *testing.T) { testFilters(t, s) })
		t.Run("pages", func(t *testing.T) { testPages(t, s) })
		t.Run("consent", func(t *testing.T) { testConsent(t, s) })
		t.Run("erasure", func(t *testing.T) { testErasure(t, s) })
		t.Run("reset", func(t *testing.T) { testReset(t, s) })
	})
}

var t0 = time.Date(2030, 3, 1, 10, 0, 0, 123456000, time.UTC)

// fixture writes cases into a store, each under a patient and with a text.
type fixture struct {
	t *testing.T
	s *Store
	n int
}

func newFixture(t *testing.T, s *Store) *fixture {
	t.Helper()
	// Each subtest starts from an empty index.
	if err := s.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(context.Background(), `DELETE FROM case_texts`); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, s: s}
}

// add indexes c (an id and times are given when missing) with its title
// and question, and returns it as stored.
func (f *fixture) add(c domain.Case, title, question string) domain.Case {
	f.t.Helper()
	ctx := context.Background()
	f.n++
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	if c.Number == "" {
		c.Number = fmt.Sprintf("EU-2030-%06d", f.n)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t0.Add(time.Duration(f.n) * time.Minute)
	}
	c.UpdatedAt = c.CreatedAt
	if c.Status == "" {
		c.Status = vocab.Submitted
	}
	if c.Status == vocab.AwaitingAssignment && c.PooledAt.IsZero() {
		c.PooledAt = c.CreatedAt
	}
	err := f.s.db.InTx(ctx, func(tx *sql.Tx) error { return f.s.Save(ctx, tx, c) })
	if err != nil {
		f.t.Fatal(err)
	}
	if title != "" || question != "" {
		ok, err := f.s.SetText(ctx, c.ID, c.PatientID, title, question, t0)
		if err != nil || !ok {
			f.t.Fatalf("set text: %v %v", ok, err)
		}
	}
	return f.load(c.ID)
}

func (f *fixture) load(id string) domain.Case {
	f.t.Helper()
	var c domain.Case
	err := f.s.db.InTx(context.Background(), func(tx *sql.Tx) error {
		var found bool
		var err error
		c, found, err = f.s.Case(context.Background(), tx, id)
		if err == nil && !found {
			err = fmt.Errorf("case %s not indexed", id)
		}
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fixture) consent(patient string, granted bool, rev int) {
	f.t.Helper()
	err := f.s.db.InTx(context.Background(), func(tx *sql.Tx) error {
		_, err := f.s.SetConsent(context.Background(), tx, patient, domain.Consent{Granted: granted, Revision: rev, At: t0})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// search answers q as v, all pages of at most limit.
func (f *fixture) search(q Query) []Hit {
	f.t.Helper()
	var all []Hit
	for range 100 {
		hits, next, err := f.s.Search(context.Background(), q)
		if err != nil {
			f.t.Fatal(err)
		}
		all = append(all, hits...)
		if next == "" {
			return all
		}
		if q.After, err = DecodeCursor(next); err != nil {
			f.t.Fatal(err)
		}
	}
	f.t.Fatal("more than 100 pages")
	return nil
}

func ids(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

var (
	patientA, patientB = "0190a0a0-0000-7000-8000-00000000000a", "0190a0a0-0000-7000-8000-00000000000b"
	proX, proY         = "0190a0a0-0000-7000-8000-0000000000f0", "0190a0a0-0000-7000-8000-0000000000f1"
	admin              = domain.Viewer{Role: domain.Admin, ID: "0190a0a0-0000-7000-8000-0000000000ad"}
)

// Every viewer's answer, with and without terms, is exactly the cases
// domain.Access lets them see, each with that access; text is matched
// and shown only with full access.
func testVisibility(t *testing.T, s *Store) {
	f := newFixture(t, s)
	f.consent(patientA, true, 1)
	text := "Persistent chest pain"
	cases := []domain.Case{
		f.add(domain.Case{PatientID: patientA, Status: vocab.Draft}, "Draft "+text, "Is it my heart?"),
		f.add(domain.Case{PatientID: patientA, Status: vocab.AwaitingAssignment, Specialty: "CARDIOLOGY", Language: "en", AgeBand: "30-39"}, "Pooled "+text, "Angina?"),
		f.add(domain.Case{PatientID: patientB, Status: vocab.AwaitingAssignment, Specialty: "CARDIOLOGY", Language: "de", AgeBand: "40-49"}, "Unshared "+text, "Unshared question"),
		f.add(domain.Case{PatientID: patientA, Status: vocab.Assigned, AssigneeID: proX, AssignmentID: "as1", AssignmentAt: t0, Specialty: "CARDIOLOGY"}, "Assigned "+text, "To X"),
		f.add(domain.Case{PatientID: patientB, Status: vocab.Completed, AssigneeID: proY, AssignmentID: "as2", AssignmentAt: t0, Specialty: "ONCOLOGY"}, "Completed "+text, "To Y"),
		f.add(domain.Case{PatientID: patientB, Status: vocab.Cancelled, AssigneeID: proX, AssignmentID: "as3", AssignmentAt: t0, Specialty: "CARDIOLOGY"}, "Cancelled "+text, "Was X's"),
	}
	viewers := []domain.Viewer{{Role: domain.Patient, ID: patientA}, {Role: domain.Patient, ID: patientB},
		{Role: domain.Professional, ID: proX}, {Role: domain.Professional, ID: proY}, {Role: domain.Professional, ID: uuid.NewString()}, admin,
		{Role: domain.Patient}, {}}
	for _, v := range viewers {
		for _, terms := range [][]string{nil, {"chest", "pain"}, {"cardiology"}} {
			got := map[string]domain.Access{}
			for _, h := range f.search(Query{Viewer: v, Terms: terms, Limit: 4}) {
				got[h.ID] = h.Access
				if h.Access == domain.DeIdentified && (h.Title != "" || h.Snippet != "") {
					t.Errorf("%+v %v: de-identified hit with text %q %q", v, terms, h.Title, h.Snippet)
				}
				if h.Access == domain.Full && (h.Title == "" || (terms != nil && h.Snippet == "")) {
					t.Errorf("%+v %v: full hit without title or snippet: %q %q", v, terms, h.Title, h.Snippet)
				}
			}
			want := map[string]domain.Access{}
			for _, c := range cases {
				a := v.Access(c)
				// "cardiology" is the specialty: a code, which every
				// access matches; the other terms are text, matched in
				// full only.
				if a == domain.None || (a == domain.DeIdentified && len(terms) == 2) ||
					(len(terms) == 1 && c.Specialty != "CARDIOLOGY") {
					continue
				}
				want[c.ID] = a
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%+v %v: got %v, want %v", v, terms, got, want)
			}
		}
	}
	// The professional's pool: every case sharing, in the pool, once.
	if got := f.search(Query{Viewer: domain.Viewer{Role: domain.Professional, ID: proY}}); len(got) != 2 {
		t.Errorf("professional Y sees %d cases, want their completed one and the shared pool case", len(got))
	}
}

func testRanking(t *testing.T, s *Store) {
	f := newFixture(t, s)
	inWords := f.add(domain.Case{PatientID: patientA, Specialty: "NEUROLOGY"}, "Headache", "Migraine since May")
	inQuestion := f.add(domain.Case{PatientID: patientA}, "Second opinion", "Is this neurology or something else?")
	inTitle := f.add(domain.Case{PatientID: patientA}, "Neurology review of my scan", "Please look")
	f.add(domain.Case{PatientID: patientA}, "Knee", "Torn ligament")
	hits := f.search(Query{Viewer: admin, Terms: []string{"neurology"}})
	if got, want := ids(hits), []string{inTitle.ID, inQuestion.ID, inWords.ID}; !slices.Equal(got, want) {
		t.Errorf("order %v, want title %v, question %v, codes %v", got, want[0], want[1], want[2])
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Errorf("score %v after %v", hits[i].Score, hits[i-1].Score)
		}
	}
	if len(hits) > 0 && !strings.Contains(hits[0].Snippet, domain.MarkStart+"Neurology"+domain.MarkStop) {
		t.Errorf("snippet %q marks no match", hits[0].Snippet)
	}
	// Stemming: "pains" finds "pain" on both engines.
	pain := f.add(domain.Case{PatientID: patientA}, "Pain in the back", "")
	if got := ids(f.search(Query{Viewer: admin, Terms: []string{"pains"}})); !slices.Equal(got, []string{pain.ID}) {
		t.Errorf("pains finds %v", got)
	}
	// The snippet is the text, marks aside, which Highlight escapes: no
	// tag of the text becomes one. (PostgreSQL's parser reads tag-like
	// text as tags and leaves them out of snippets; SQLite keeps them.)
	tagged := f.add(domain.Case{PatientID: patientA}, "<b>Rash</b> & itch", "")
	hits = f.search(Query{Viewer: admin, Terms: []string{"rash"}})
	if len(hits) != 1 || hits[0].ID != tagged.ID {
		t.Fatalf("rash: %+v", hits)
	}
	if h := domain.Highlight(hits[0].Snippet); !strings.Contains(h, "<mark>Rash</mark>") || !strings.Contains(h, "&amp; itch") ||
		strings.Contains(h, "<b>") {
		t.Errorf("rash's snippet %q", h)
	}
}

func testTypos(t *testing.T, s *Store) {
	f := newFixture(t, s)
	diabetes := f.add(domain.Case{PatientID: patientA}, "Type 2 diabetes", "Should I change my insulin?")
	hypertension := f.add(domain.Case{PatientID: patientA}, "Hypertension", "Blood pressure stays high")
	f.add(domain.Case{PatientID: patientA}, "Knee", "Torn ligament")
	// A slip at the end of a word: both engines.
	if got := ids(f.search(Query{Viewer: admin, Terms: []string{"diabetis"}})); !slices.Equal(got, []string{diabetes.ID}) {
		t.Errorf("diabetis finds %v", got)
	}
	hits := f.search(Query{Viewer: admin, Terms: []string{"hypretension"}})
	if s.db.Engine == sqldb.Postgres {
		// Anywhere in a word: PostgreSQL's trigrams, ranked below exact
		// matches.
		if !slices.Equal(ids(hits), []string{hypertension.ID}) {
			t.Errorf("hypretension finds %v", ids(hits))
		}
		exact := f.search(Query{Viewer: admin, Terms: []string{"hypertension"}})
		if len(exact) != 1 || len(hits) != 1 || exact[0].Score <= hits[0].Score {
			t.Errorf("exact %+v not above the typo's %+v", exact, hits)
		}
	} else if len(hits) != 0 {
		t.Errorf("SQLite found a typo inside a word: %v", ids(hits))
	}
}

func testFilters(t *testing.T, s *Store) {
	f := newFixture(t, s)
	a := f.add(domain.Case{PatientID: patientA, Specialty: "CARDIOLOGY", Urgency: "URGENT", Status: vocab.Submitted}, "Heart murmur", "")
	b := f.add(domain.Case{PatientID: patientA, Specialty: "CARDIOLOGY", Urgency: "STANDARD", Status: vocab.Completed}, "Heart murmur again", "")
	c := f.add(domain.Case{PatientID: patientA, Specialty: "ONCOLOGY", Urgency: "URGENT", Status: vocab.Submitted}, "Heart of the matter", "")
	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"status", Query{Status: vocab.Completed}, []string{b.ID}},
		{"specialty", Query{Specialty: "CARDIOLOGY"}, []string{b.ID, a.ID}},
		{"urgency", Query{Urgency: "URGENT"}, []string{c.ID, a.ID}},
		{"from", Query{From: b.CreatedAt}, []string{c.ID, b.ID}},
		{"to", Query{To: b.CreatedAt}, []string{a.ID}},
		{"from and to", Query{From: b.CreatedAt, To: c.CreatedAt}, []string{b.ID}},
		{"all of them", Query{Specialty: "CARDIOLOGY", Urgency: "URGENT", Status: vocab.Submitted}, []string{a.ID}},
		{"with terms", Query{Terms: []string{"murmur"}, Urgency: "STANDARD"}, []string{b.ID}},
		{"none", Query{Specialty: "UROLOGY"}, nil},
	} {
		tc.q.Viewer = admin
		if got := ids(f.search(tc.q)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Pages follow each other without a gap or a repeat, in score order then
// newest first, whether the scores tie or not.
func testPages(t *testing.T, s *Store) {
	f := newFixture(t, s)
	var made []string
	for i := range 7 {
		c := f.add(domain.Case{PatientID: patientA}, "Shoulder"+strings.Repeat(" shoulder", i%3), "Which exercise?")
		made = append(made, c.ID)
	}
	for _, terms := range [][]string{nil, {"shoulder"}} {
		for _, limit := range []int{1, 2, 3, 10} {
			one, _, err := s.Search(context.Background(), Query{Viewer: admin, Terms: terms, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			paged := f.search(Query{Viewer: admin, Terms: terms, Limit: limit})
			if !slices.Equal(ids(paged), ids(one)) || len(paged) != len(made) {
				t.Errorf("terms %v, pages of %d: %v, want %v", terms, limit, ids(paged), ids(one))
			}
		}
	}
	if _, err := DecodeCursor("not a cursor"); err == nil {
		t.Error("a bad cursor decodes")
	}
}

func testConsent(t *testing.T, s *Store) {
	f := newFixture(t, s)
	pro := domain.Viewer{Role: domain.Professional, ID: proX}
	c := f.add(domain.Case{PatientID: patientB, Status: vocab.AwaitingAssignment, Specialty: "UROLOGY"}, "Kidney stone", "")
	if got := f.search(Query{Viewer: pro}); len(got) != 0 {
		t.Errorf("a case without consent to share is in the pool: %v", ids(got))
	}
	f.consent(patientB, true, 2)
	if got := ids(f.search(Query{Viewer: pro})); !slices.Equal(got, []string{c.ID}) {
		t.Errorf("pool after consent: %v", got)
	}
	f.consent(patientB, false, 1) // older: changes nothing
	if got := ids(f.search(Query{Viewer: pro})); !slices.Equal(got, []string{c.ID}) {
		t.Errorf("pool after an older withdrawal: %v", got)
	}
	f.consent(patientB, false, 3)
	if got := f.search(Query{Viewer: pro}); len(got) != 0 {
		t.Errorf("pool after withdrawal: %v", ids(got))
	}
	// A case indexed after the consent takes it.
	f.consent(patientB, true, 4)
	d := f.add(domain.Case{PatientID: patientB, Status: vocab.AwaitingAssignment, Specialty: "UROLOGY"}, "Kidney stone again", "")
	if got := ids(f.search(Query{Viewer: pro})); !slices.Equal(got, []string{d.ID, c.ID}) {
		t.Errorf("pool: %v", got)
	}
}

func testErasure(t *testing.T, s *Store) {
	f := newFixture(t, s)
	ctx := context.Background()
	f.consent(patientB, true, 1)
	one := f.add(domain.Case{PatientID: patientA}, "Zyxwvutsrq", "Qwertzuiopx")
	two := f.add(domain.Case{PatientID: patientB, Status: vocab.AwaitingAssignment}, "Plokmijnuhb", "Mnbvcxylkjh")
	three := f.add(domain.Case{PatientID: patientB}, "Asdfghjklpo", "Poiuztrewqy")
	keep := f.add(domain.Case{PatientID: patientA}, "Keepme", "")
	if err := s.db.InTx(ctx, func(tx *sql.Tx) error { return s.EraseCase(ctx, tx, one.ID, t0) }); err != nil {
		t.Fatal(err)
	}
	var erased []string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		erased, err = s.ErasePatient(ctx, tx, patientB, t0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(erased)
	want := []string{two.ID, three.ID}
	slices.Sort(want)
	if !slices.Equal(erased, want) {
		t.Errorf("patient's cases erased %v, want %v", erased, want)
	}
	if got := ids(f.search(Query{Viewer: admin})); !slices.Equal(got, []string{keep.ID}) {
		t.Errorf("after erasure: %v", got)
	}
	// Nothing of the erased is left in any table (FTS5's own included),
	// but their ids among the erasures.
	for _, table := range testkit.Tables(t, s.db) {
		needles := []string{"zyxwvutsrq", "qwertzuiopx", "plokmijnuhb", "mnbvcxylkjh", "asdfghjklpo", "poiuztrewqy"}
		if table != "erased_ids" {
			needles = append(needles, one.ID, two.ID, three.ID, patientB)
		}
		if n := testkit.CountContaining(t, s.db, table, needles...); n != 0 {
			t.Errorf("%d rows of %s still hold what was erased", n, table)
		}
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, id := range []string{one.ID, two.ID, patientB} {
			if erased, err := s.Erased(ctx, tx, id); err != nil || !erased {
				return fmt.Errorf("%s not remembered as erased: %v", id, err)
			}
		}
		if erased, err := s.Erased(ctx, tx, keep.ID, patientA); err != nil || erased {
			return fmt.Errorf("the kept case counts as erased: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// A text fetched late for an erased case is not stored.
	if ok, err := s.SetText(ctx, two.ID, patientB, "Late", "Late", t0); err != nil || ok {
		t.Errorf("late text stored: %v %v", ok, err)
	}
}

func testReset(t *testing.T, s *Store) {
	f := newFixture(t, s)
	ctx := context.Background()
	c := f.add(domain.Case{PatientID: patientA}, "Tinnitus", "")
	f.add(domain.Case{PatientID: patientA}, "Vertigo", "")
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.search(Query{Viewer: admin}); len(got) != 0 {
		t.Errorf("after reset: %v", ids(got))
	}
	// Indexed again, a case finds its text kept.
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		return s.Save(ctx, tx, domain.Case{ID: c.ID, PatientID: patientA, Status: vocab.Submitted, CreatedAt: t0, UpdatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.search(Query{Viewer: admin, Terms: []string{"tinnitus"}}); len(got) != 1 || got[0].Title != "Tinnitus" {
		t.Errorf("text after reset: %+v", got)
	}
	if n, err := s.DropOrphanTexts(ctx); err != nil || n != 1 {
		t.Errorf("orphan texts dropped: %d %v", n, err)
	}
	if missing, err := s.Untexted(ctx, 10); err != nil || len(missing) != 0 {
		t.Errorf("untexted %v %v", missing, err)
	}
}
