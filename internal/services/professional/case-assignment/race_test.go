package caseassignment

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

const (
	racers = 200
	rounds = 20
)

// 200 distinct matching professionals claim one case at the same instant
// through the HTTP API: exactly one wins, the 199 others get 409 "Case
// already claimed", nobody gets a 5xx — on each engine, case after case.
func TestClaimRace(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		start := time.Now()
		h := build(t, db, Config{})
		verifier := testkit.Tokens{}
		tokens := make([]string, racers)
		for i := range tokens {
			tokens[i] = fmt.Sprintf("pro-%03d", i)
			id := h.pro(tokens[i], "JUNIOR", cardio, en)
			verifier[tokens[i]] = tokenOf(id)
		}
		h.serve(verifier)
		for round := range rounds {
			c := h.enter("CARDIOLOGY", "STANDARD", "en")
			statuses := map[int]int{}
			winners := map[string]bool{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			gate := make(chan struct{})
			for _, token := range tokens {
				wg.Go(func() {
					<-gate
					res, err := h.call(token, "POST", "/api/v1/assignments/claim/"+c, nil)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("round %d %s: %v", round, token, err)
						return
					}
					statuses[res.status]++
					switch {
					case res.status/100 == 2:
						winners[token] = true
					case res.status == 409 && res.body["title"] != "Case already claimed":
						t.Errorf("round %d: 409 titled %v", round, res.body["title"])
					}
				})
			}
			close(gate)
			wg.Wait()
			if statuses[201] != 1 || statuses[409] != racers-1 || len(statuses) != 2 {
				t.Fatalf("round %d: statuses %v, want one 201 and %d × 409", round, statuses, racers-1)
			}
			var active int
			if err := db.QueryRow(`SELECT count(*) FROM assignments WHERE case_id = $1`, c).Scan(&active); err != nil || active != 1 {
				t.Fatalf("round %d: %d assignments stored (%v)", round, active, err)
			}
		}
		if evs := h.outbox("case.assigned"); len(evs) != rounds || distinct(evs, "caseId") != rounds {
			t.Errorf("%d case.assigned events for %d cases, want %d", len(evs), distinct(evs, "caseId"), rounds)
		}
		t.Logf("%d rounds of %d racers in %s", rounds, racers, time.Since(start).Round(time.Millisecond))
	})
}

// The unique index is the second guard: even a write that bypassed the
// pool update could not store a second ACTIVE assignment of a case.
func TestOneActiveAssignmentIndex(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := build(t, db, Config{})
		c := uuid.NewString()
		insert := `INSERT INTO assignments (id, case_id, case_number, professional_id, status, claimed_at, deadline)
			VALUES ($1, $2, 'EU-2031-AAAAAA', $3, $4, $5, $5)`
		now := h.clock.Now()
		if _, err := db.Exec(insert, uuid.NewString(), c, uuid.NewString(), "ACTIVE", now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(insert, uuid.NewString(), c, uuid.NewString(), "ACTIVE", now); !sqldb.IsUniqueViolation(err) {
			t.Errorf("second ACTIVE assignment: %v, want a unique violation", err)
		}
		if _, err := db.Exec(insert, uuid.NewString(), c, uuid.NewString(), "EXPIRED", now); err != nil {
			t.Errorf("an ended assignment beside the active one: %v", err)
		}
	})
}
