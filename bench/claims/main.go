// Command claims benchmarks the case-assignment claim on PostgreSQL: for
// each of -cases pool entries, -racers distinct matching professionals
// claim it at the same instant through the real HTTP handler (platform
// middleware, token verification, matching, the conditional UPDATE, the
// assignment and its outbox event). Next to it, in the same run and on
// the same database, the same racers run the bare single-row conditional
// UPDATE a claim is decided by. It prints a Markdown section for
// bench/RESULTS.md.
//
//	TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go run ./bench/claims
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	assignment "github.com/secondopinion/platform/internal/services/professional/case-assignment"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/domain"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "claims:", err)
		os.Exit(1)
	}
}

// result is one side of the comparison.
type result struct {
	attempts, cases int
	elapsed         time.Duration
	latencies       []time.Duration
	statuses        map[int]int // HTTP statuses, or 200/409 for won/lost updates
	badCases        int         // cases without exactly one winner
}

func run() error {
	cases := flag.Int("cases", 1000, "pool entries to claim")
	racers := flag.Int("racers", 200, "concurrent claimants per case")
	conns := flag.Int("conns", 16, "database connections (the platform's default pool)")
	flag.Parse()
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		url = os.Getenv("DATABASE_URL")
	}
	if url == "" {
		return errors.New("set TEST_DATABASE_URL or DATABASE_URL to a PostgreSQL database")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	schema := fmt.Sprintf("bench_claims_%d", os.Getpid())
	db, err := sqldb.Open(ctx, sqldb.Options{Service: assignment.Name, URL: url, Schema: schema, MaxConns: *conns})
	if err != nil {
		return err
	}
	defer func() {
		_, _ = db.ExecContext(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
		db.Close()
	}()
	if err := assignment.Migrate(ctx, db); err != nil {
		return err
	}
	var version string
	if err := db.QueryRowContext(ctx, `SHOW server_version`).Scan(&version); err != nil {
		return err
	}

	tokens, caseIDs, err := seed(ctx, db, *racers, *cases)
	if err != nil {
		return err
	}
	tr := inproc.New()
	defer tr.Close()
	svc, err := assignment.New(assignment.Config{}, service.Deps{Region: "EU", DB: db, Bus: tr,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	// The relay and consumer run as in production, publishing case.assigned.
	runDone := make(chan error, 1)
	go func() { runDone <- svc.Run(ctx) }()
	base, stop, err := serve(httpapi.Wrap(svc.Handler(), httpapi.Options{Service: assignment.Name, Verifier: tokens}))
	if err != nil {
		return err
	}
	defer stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *racers, MaxIdleConns: *racers}, Timeout: time.Minute}

	names := make([]string, 0, len(tokens))
	for name := range tokens {
		names = append(names, name)
	}
	// The handler's log lines (slog default) are not what is measured.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	viaHTTP := race(caseIDs, names, func(caseID, token string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/assignments/claim/"+caseID, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	})

	if _, err := db.ExecContext(ctx, `CREATE TABLE raw_claims (case_id UUID PRIMARY KEY, status TEXT NOT NULL, claimed_by TEXT)`); err != nil {
		return err
	}
	for _, id := range caseIDs {
		if _, err := db.ExecContext(ctx, `INSERT INTO raw_claims (case_id, status) VALUES ($1, 'OPEN')`, id); err != nil {
			return err
		}
	}
	raw := race(caseIDs, names, func(caseID, token string) int {
		res, err := db.ExecContext(ctx, `UPDATE raw_claims SET status = 'CLAIMED', claimed_by = $2 WHERE case_id = $1 AND status = 'OPEN'`, caseID, token)
		if err != nil {
			return 500
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return 200
		}
		return 409
	})
	cancel()
	if err := <-runDone; err != nil {
		return err
	}
	report(os.Stdout, version, *cases, *racers, *conns, viaHTTP, raw)
	if viaHTTP.badCases+raw.badCases > 0 {
		return fmt.Errorf("%d cases over HTTP and %d raw had not exactly one winner", viaHTTP.badCases, raw.badCases)
	}
	return nil
}

// seed makes racers verified JUNIOR cardiologists and puts cases STANDARD
// cardiology cases in the pool; it returns the professionals' tokens.
func seed(ctx context.Context, db *sqldb.DB, racers, cases int) (testkit.Tokens, []string, error) {
	st := store.New(db)
	at := time.Now().Add(-time.Minute)
	tokens := testkit.Tokens{}
	var caseIDs []string
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		for i := range racers {
			id := uuid.NewString()
			tokens[fmt.Sprintf("pro-%03d", i)] = authn.Principal{Subject: id, Role: authn.RoleProfessional}
			if err := st.SaveProfile(ctx, tx, store.Profile{ID: id, Specialties: []vocab.Specialty{"CARDIOLOGY"}, Languages: []vocab.Language{"en"},
				Level: vocab.Junior, At: at}); err != nil {
				return err
			}
			if err := st.SetStatus(ctx, tx, id, domain.Verified, at); err != nil {
				return err
			}
		}
		// One patient, who consented to share, has every case: a claim
		// checks the consent as it decides.
		patient := uuid.NewString()
		if err := st.SetConsent(ctx, tx, patient, domain.Consent{Granted: true, Revision: 1, At: at}); err != nil {
			return err
		}
		for i := range cases {
			id := uuid.NewString()
			caseIDs = append(caseIDs, id)
			if err := st.Enter(ctx, tx, store.Entry{CaseID: id, PatientID: patient, CaseNumber: fmt.Sprintf("EU-2026-%06d", i), Specialty: "CARDIOLOGY",
				Urgency: vocab.Standard, Language: "en", AgeBand: "40-49", RequiredLevel: vocab.Junior, OpenedAt: at}); err != nil {
				return err
			}
		}
		return nil
	})
	return tokens, caseIDs, err
}

// race runs, case after case, every claimant's attempt at the same
// instant, and times each attempt.
func race(caseIDs, claimants []string, attempt func(caseID, claimant string) int) result {
	r := result{cases: len(caseIDs), statuses: map[int]int{}}
	lat := make([]time.Duration, 0, len(caseIDs)*len(claimants))
	start := time.Now()
	for _, c := range caseIDs {
		gate := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for _, who := range claimants {
			wg.Go(func() {
				<-gate
				t0 := time.Now()
				status := attempt(c, who)
				d := time.Since(t0)
				mu.Lock()
				defer mu.Unlock()
				lat = append(lat, d)
				r.statuses[status]++
				if status/100 == 2 {
					won++
				}
			})
		}
		close(gate)
		wg.Wait()
		if won != 1 {
			r.badCases++
		}
	}
	r.elapsed = time.Since(start)
	r.attempts = len(lat)
	slices.Sort(lat)
	r.latencies = lat
	return r
}

func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(p*float64(len(r.latencies)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

func report(w io.Writer, version string, cases, racers, conns int, viaHTTP, raw result) {
	row := func(name string, r result) {
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %.0f | %s | %s | %d | %v |\n", name, r.cases, r.attempts,
			float64(r.attempts)/r.elapsed.Seconds(), float64(r.cases)/r.elapsed.Seconds(),
			ms(r.percentile(0.50)), ms(r.percentile(0.99)), r.cases-r.badCases, statusList(r.statuses))
	}
	fmt.Fprintf(w, "## Claims: %d racers per case on PostgreSQL\n\n", racers)
	fmt.Fprintf(w, "`go run ./bench/claims` on %s, Go %s, %d CPUs, PostgreSQL %s, pool of %d connections.\n", time.Now().UTC().Format(time.RFC3339),
		runtime.Version(), runtime.NumCPU(), version, conns)
	fmt.Fprintf(w, "Case after case (%d), %d distinct verified matching professionals claim the same case at the same instant.\n\n", cases, racers)
	fmt.Fprintln(w, "| path | cases | attempts | attempts/s | cases claimed/s | p50 ms | p99 ms | cases with exactly one winner | answers |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	row("POST /api/v1/assignments/claim/{caseId} (real handler over HTTP)", viaHTTP)
	row("raw `UPDATE … WHERE case_id=$1 AND status='OPEN'`", raw)
	fmt.Fprintf(w, "\nclaim/raw attempts per second = %.2f.\n", (float64(viaHTTP.attempts)/viaHTTP.elapsed.Seconds())/(float64(raw.attempts)/raw.elapsed.Seconds()))
	fmt.Fprintln(w, `A claim over HTTP verifies the token, checks matching and exclusion on its own reads, and — while the case`+
		` still looks open — runs the conditional UPDATE, the assignment INSERT and the case.assigned outbox row in one`+
		` transaction; racers that read the case as already claimed lose without a write. The raw row sends every`+
		` racer's UPDATE to the database. Latency is per attempt, from the request to its answer, and includes`+
		` queueing of every racer on the connection pool and on the machine's shared cores.`)
}

func statusList(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for _, k := range keys {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%d×%d", m[k], k)
	}
	return s
}

// serve starts h on a free 127.0.0.1 port below the ephemeral range.
func serve(h http.Handler) (string, func(), error) {
	for range 100 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000)))
		if err != nil {
			continue
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
	}
	return "", nil, errors.New("no free port below 32768")
}
