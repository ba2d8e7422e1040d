// Command search benchmarks the search service's query at scale: it
// indexes -cases generated cases (100,000 by default) on SQLite and on
// PostgreSQL through the service's own store, then times the service's
// query (store.Search: visibility, ranking, typo tolerance, a page of 20
// with its snippets) for an admin, a patient and a professional, and next
// to it, in the same run on the same tables, the bare full-text query a
// person would write in SQL for the same words (ranked, 20 rows, no
// visibility, no snippet). It prints a Markdown section for
// bench/RESULTS.md; bench/search/run.sh runs it.
//
//	TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go run ./bench/search
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/platform/search"
	"github.com/secondopinion/platform/internal/services/platform/search/domain"
	"github.com/secondopinion/platform/internal/services/platform/search/store"
)

func main() {
	o := options{}
	flag.IntVar(&o.cases, "cases", 100_000, "cases to index per engine")
	flag.IntVar(&o.queries, "queries", 100, "timed queries per scenario and side")
	flag.StringVar(&o.engines, "engines", "sqlite,postgres", "engines to measure")
	flag.Parse()
	o.url = os.Getenv("TEST_DATABASE_URL")
	if o.url == "" {
		o.url = os.Getenv("DATABASE_URL")
	}
	if err := run(context.Background(), o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "search:", err)
		os.Exit(1)
	}
}

type options struct {
	cases, queries int
	engines        string
	url            string // PostgreSQL
}

// result is one scenario on one engine.
type result struct {
	engine, scenario   string
	hits               int // of the service's first page
	ours, direct       []time.Duration
	directHits         int
	loaded             time.Duration
	loadedCases, terms int
}

func run(ctx context.Context, o options, out, progress io.Writer) error {
	var results []result
	for _, e := range strings.Split(o.engines, ",") {
		rs, err := measure(ctx, sqldb.Engine(e), o, progress)
		if err != nil {
			return fmt.Errorf("%s: %w", e, err)
		}
		results = append(results, rs...)
	}
	report(out, o, results)
	return nil
}

// open gives a fresh, migrated store of engine e, and how to drop it.
func open(ctx context.Context, e sqldb.Engine, o options) (*sqldb.DB, func(), error) {
	switch e {
	case sqldb.SQLite:
		dir, err := os.MkdirTemp("", "bench-search-")
		if err != nil {
			return nil, nil, err
		}
		db, err := sqldb.Open(ctx, sqldb.Options{Service: search.Name, DataDir: dir})
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		return db, func() { db.Close(); os.RemoveAll(dir) }, nil
	case sqldb.Postgres:
		if o.url == "" {
			return nil, nil, errors.New("set TEST_DATABASE_URL or DATABASE_URL to a PostgreSQL database")
		}
		schema := fmt.Sprintf("bench_search_%d", os.Getpid())
		db, err := sqldb.Open(ctx, sqldb.Options{Service: search.Name, URL: o.url, Schema: schema})
		if err != nil {
			return nil, nil, err
		}
		return db, func() {
			_, _ = db.ExecContext(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
			db.Close()
		}, nil
	}
	return nil, nil, fmt.Errorf("no engine %q", e)
}

// scenario is a query timed on both sides: the service's, and the direct
// SQL of the same words.
type scenario struct {
	name   string
	viewer func(w *world, i int) domain.Viewer
	terms  func(w *world, i int) []string
	typo   bool
}

var scenarios = []scenario{
	{name: "admin, one word", viewer: asAdmin, terms: func(w *world, i int) []string { return []string{w.common[i%len(w.common)]} }},
	{name: "admin, two words", viewer: asAdmin, terms: func(w *world, i int) []string {
		return []string{w.common[i%len(w.common)], w.common[(i+3)%len(w.common)]}
	}},
	{name: "admin, rare word", viewer: asAdmin, terms: func(w *world, i int) []string { return []string{w.rare[i%len(w.rare)]} }},
	{name: "admin, typo", viewer: asAdmin, typo: true, terms: func(w *world, i int) []string { return []string{typo(w.rare[i%len(w.rare)])} }},
	{name: "patient, own cases", viewer: func(w *world, i int) domain.Viewer {
		return domain.Viewer{Role: domain.Patient, ID: w.patients[i%len(w.patients)]}
	}, terms: func(w *world, i int) []string { return []string{w.common[i%len(w.common)]} }},
	{name: "professional, assigned + pool", viewer: func(w *world, i int) domain.Viewer {
		return domain.Viewer{Role: domain.Professional, ID: w.pros[i%len(w.pros)]}
	}, terms: func(w *world, i int) []string { return []string{w.common[i%len(w.common)]} }},
}

func asAdmin(*world, int) domain.Viewer {
	return domain.Viewer{Role: domain.Admin, ID: uuid.NewString()}
}

// typo swaps the last two letters of w: a slip both engines forgive
// (SQLite only at a word's end).
func typo(w string) string {
	r := []rune(w)
	r[len(r)-2], r[len(r)-1] = r[len(r)-1], r[len(r)-2]
	return string(r)
}

func measure(ctx context.Context, e sqldb.Engine, o options, progress io.Writer) ([]result, error) {
	db, drop, err := open(ctx, e, o)
	if err != nil {
		return nil, err
	}
	defer drop()
	if err := search.Migrate(ctx, db); err != nil {
		return nil, err
	}
	w := newWorld(o.cases)
	fmt.Fprintf(progress, "== %s: indexing %d cases\n", e, o.cases)
	began := time.Now()
	if err := w.load(ctx, db, progress); err != nil {
		return nil, err
	}
	loaded := time.Since(began)
	if e == sqldb.Postgres {
		if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
			return nil, err
		}
	}
	st := store.New(db)
	var out []result
	for _, sc := range scenarios {
		fmt.Fprintf(progress, "== %s: %s\n", e, sc.name)
		r := result{engine: string(e), scenario: sc.name, loaded: loaded, loadedCases: o.cases, terms: len(w.vocabulary)}
		// One untimed round of each side warms caches and plans.
		for i := -1; i < o.queries; i++ {
			j := max(i, 0)
			q := store.Query{Viewer: sc.viewer(w, j), Terms: sc.terms(w, j), Limit: 20}
			t := time.Now()
			hits, _, err := st.Search(ctx, q)
			if err != nil {
				return nil, err
			}
			ours := time.Since(t)
			t = time.Now()
			n, err := direct(ctx, db, q, sc.typo)
			if err != nil {
				return nil, err
			}
			if i >= 0 {
				r.ours, r.direct = append(r.ours, ours), append(r.direct, time.Since(t))
				r.hits, r.directHits = r.hits+len(hits), r.directHits+n
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// direct runs the bare query of q's words a person would write for the
// engine: ranked, 20 rows, the viewer's own cases for a patient, no
// snippet. It returns the rows read.
func direct(ctx context.Context, db *sqldb.DB, q store.Query, typo bool) (int, error) {
	words := strings.Join(q.Terms, " ")
	var stmt string
	args := []any{words}
	switch {
	case db.Engine == sqldb.Postgres && typo:
		stmt = `SELECT case_id FROM cases
			WHERE (coalesce(title, '') || ' ' || coalesce(question, '')) OPERATOR(public.%>) $1
			ORDER BY public.word_similarity($1, coalesce(title, '') || ' ' || coalesce(question, '')) DESC LIMIT 20`
	case db.Engine == sqldb.Postgres:
		stmt = `SELECT case_id FROM cases WHERE full_doc @@ plainto_tsquery('english', $1)
			ORDER BY ts_rank(full_doc, plainto_tsquery('english', $1)) DESC LIMIT 20`
	default:
		match := make([]string, len(q.Terms))
		for i, t := range q.Terms {
			match[i] = `"` + t + `"`
			if typo {
				match[i] = `"` + t[:len(t)-2] + `"*`
			}
		}
		args[0] = strings.Join(match, " AND ")
		stmt = `SELECT c.case_id FROM case_fts JOIN cases c ON c.doc_id = case_fts.rowid
			WHERE case_fts MATCH $1 ORDER BY bm25(case_fts) LIMIT 20`
	}
	if q.Viewer.Role == domain.Patient {
		if db.Engine == sqldb.Postgres {
			stmt = strings.Replace(stmt, "WHERE ", "WHERE patient_id = $2 AND ", 1)
		} else {
			stmt = strings.Replace(stmt, "WHERE ", "WHERE c.patient_id = $2 AND ", 1)
		}
		args = append(args, q.Viewer.ID)
	}
	if q.Viewer.Role == domain.Professional {
		if db.Engine == sqldb.Postgres {
			stmt = strings.Replace(stmt, "WHERE ", "WHERE (assignee_id = $2 OR (status = 'AWAITING_ASSIGNMENT' AND shared)) AND ", 1)
		} else {
			stmt = strings.Replace(stmt, "WHERE ", "WHERE (c.assignee_id = $2 OR (c.status = 'AWAITING_ASSIGNMENT' AND c.shared)) AND ", 1)
		}
		args = append(args, q.Viewer.ID)
	}
	rows, err := db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

// world is the generated data: a vocabulary with a Zipf distribution of
// use (a few words in many cases, most in few), the patients and
// professionals, and the words the scenarios ask for.
type world struct {
	rng          *rand.Rand
	n            int
	vocabulary   []string
	zipf         *rand.Zipf
	patients     []string
	pros         []string
	common, rare []string
}

// medical are real words, at the head of the vocabulary.
var medical = strings.Fields(`pain chest heart pressure blood fever cough headache migraine fatigue nausea dizziness
	shortness breath swelling rash itching numbness tingling weakness palpitations arrhythmia hypertension diabetes
	insulin cholesterol thyroid kidney liver stomach ulcer reflux asthma bronchitis pneumonia cancer tumor biopsy
	lymphoma leukemia melanoma carcinoma metastasis chemotherapy radiation surgery fracture arthritis osteoporosis
	tendon ligament cartilage spine disc hernia sciatica stroke seizure epilepsy dementia depression anxiety insomnia
	eczema psoriasis acne allergy anemia infection inflammation lesion nodule cyst polyp scan ultrasound echocardiogram
	electrocardiogram angiography catheter stent valve murmur aneurysm embolism thrombosis clot vertigo tinnitus
	glaucoma cataract retina sinusitis tonsillitis appendicitis gallstones pancreatitis colitis crohn celiac hepatitis
	cirrhosis nephritis dialysis prostate bladder incontinence endometriosis pregnancy fertility menopause pediatric
	vaccination growth development medication dosage side effects second opinion diagnosis treatment prognosis`)

func newWorld(cases int) *world {
	w := &world{rng: rand.New(rand.NewPCG(42, 42)), n: cases}
	w.vocabulary = slices.Clone(medical)
	syllables := strings.Fields("ka lo mi ne ra to su pe vi an or el ix um ba de fo gu ho ji")
	for len(w.vocabulary) < 5000 {
		var b strings.Builder
		for range 2 + w.rng.IntN(3) {
			b.WriteString(syllables[w.rng.IntN(len(syllables))])
		}
		w.vocabulary = append(w.vocabulary, b.String())
	}
	w.zipf = rand.NewZipf(w.rng, 1.1, 2, uint64(len(w.vocabulary)-1))
	for range max(cases/5, 1) {
		w.patients = append(w.patients, uuid.NewString())
	}
	for range max(cases/200, 1) {
		w.pros = append(w.pros, uuid.NewString())
	}
	// Words from the head (in many cases) and from further down (in few).
	w.common = []string{"pain", "chest", "blood", "pressure", "fever", "cough"}
	w.rare = []string{"arrhythmia", "hypertension", "endometriosis", "pancreatitis", "osteoporosis", "thrombosis"}
	return w
}

func (w *world) words(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = w.vocabulary[w.zipf.Uint64()]
	}
	return strings.Join(out, " ")
}

var statuses = []vocab.CaseStatus{vocab.Draft, vocab.Submitted, vocab.AwaitingAssignment, vocab.AwaitingAssignment,
	vocab.Assigned, vocab.Assigned, vocab.UnderReview, vocab.Completed, vocab.Completed, vocab.Cancelled}

// load indexes the cases through the store (Save, its texts as the
// fetcher stores them), 1,000 per transaction.
func (w *world) load(ctx context.Context, db *sqldb.DB, progress io.Writer) error {
	st := store.New(db)
	specialties := vocab.Specialty("").Values()
	created := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	for done := 0; done < w.n; {
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			for i := 0; i < 1000 && done < w.n; i, done = i+1, done+1 {
				at := created.Add(time.Duration(done) * time.Minute)
				c := domain.Case{ID: uuid.NewString(), PatientID: w.patients[w.rng.IntN(len(w.patients))],
					Number: fmt.Sprintf("EU-2029-%06X", done), Specialty: specialties[w.rng.IntN(len(specialties))],
					Urgency: "STANDARD", Status: statuses[w.rng.IntN(len(statuses))], StatusAt: at, CreatedAt: at, UpdatedAt: at}
				switch c.Status {
				case vocab.AwaitingAssignment:
					c.Language, c.AgeBand, c.PooledAt = "en", "40-49", at
				case vocab.Assigned, vocab.UnderReview, vocab.Completed:
					c.AssigneeID, c.AssignmentID, c.AssignmentAt = w.pros[w.rng.IntN(len(w.pros))], uuid.NewString(), at
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO case_texts (case_id, title, question, fetched_at) VALUES ($1, $2, $3, $4)`,
					c.ID, w.words(3+w.rng.IntN(5)), w.words(20+w.rng.IntN(40)), at); err != nil {
					return err
				}
				if err := st.Save(ctx, tx, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if done%10_000 == 0 {
			fmt.Fprintf(progress, "   %d\n", done)
		}
	}
	// Four patients in five consent to share their cases with professionals.
	return db.InTx(ctx, func(tx *sql.Tx) error {
		for i, p := range w.patients {
			if i%5 == 0 {
				continue
			}
			if _, err := st.SetConsent(ctx, tx, p, domain.Consent{Granted: true, Revision: 1, At: created}); err != nil {
				return err
			}
		}
		return nil
	})
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

func report(out io.Writer, o options, results []result) {
	fmt.Fprintf(out, `## 8. Search: the service's query vs direct SQL

`+"`go run ./bench/search -cases %d -queries %d`"+` on %s, %d cores, Go %s.
Each engine indexes %d generated cases through the service's store (a
title of 3–7 and a question of 20–59 words drawn from a %d-word vocabulary
with a Zipf distribution, so a few words are in most cases and most in
few; 5 cases per patient, 200 per professional, statuses spread over the
lifecycle, four patients in five sharing with professionals). Each row
times %d queries one after another (words cycled from a list, after one
untimed round): the service's store.Search, which answers a page of 20 with
visibility, ranking, typo tolerance and snippets, and next to it the
direct SQL of the same words on the same tables: ranked, 20 rows, a
patient's or professional's scope as a plain WHERE, no snippet.

| engine | scenario | hits/page | service p50 ms | service p99 ms | direct p50 ms | direct p99 ms | p50 service/direct |
|---|---|---|---|---|---|---|---|
`, o.cases, o.queries, runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), runtime.Version(), o.cases,
		len(newWorld(1).vocabulary), o.queries)
	for _, r := range results {
		p50, d50 := percentile(r.ours, 0.5), percentile(r.direct, 0.5)
		ratio := "n/a"
		if d50 > 0 {
			ratio = fmt.Sprintf("%.2f", float64(p50)/float64(d50))
		}
		fmt.Fprintf(out, "| %s | %s | %.1f | %s | %s | %s | %s | %s |\n", r.engine, r.scenario,
			float64(r.hits)/float64(max(len(r.ours), 1)), ms(p50), ms(percentile(r.ours, 0.99)), ms(d50),
			ms(percentile(r.direct, 0.99)), ratio)
	}
	fmt.Fprintln(out)
	for _, r := range results {
		if r.scenario == scenarios[0].name {
			fmt.Fprintf(out, "Indexing on %s: %d cases in %.1f s (%.0f cases/s, 1,000 per transaction).\n", r.engine,
				r.loadedCases, r.loaded.Seconds(), float64(r.loadedCases)/r.loaded.Seconds())
		}
	}
	fmt.Fprint(out, `
The direct query is a floor, not the same work: the service's also
decides per row what the caller may see (full text or de-identified
codes, in two branches on SQLite), breaks ties by time and id for its
cursor, and makes the page's snippets (ts_headline reads each shown
case's whole text; FTS5's snippet() re-reads the page's rows); on
PostgreSQL it also matches typos by trigram similarity, in one
transaction that sets pg_trgm's threshold. The typo rows' direct query is
the trigram match alone on PostgreSQL and the prefix alone on SQLite.
`)
}
