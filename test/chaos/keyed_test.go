package chaos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// Without Redis, Idempotency-Key records are kept in each service's own
// store, so a retry after a crash neither repeats a creation nor loses an
// acknowledged one.

// keys is how many cases the burst creates, each under its own key.
const keys = 120

// A burst of keyed case creations, SIGKILL in the middle of it, a restart
// on the same stores, and a retry of every key: one case per key, and
// every case the first process acknowledged is there, under the id it
// answered.
func TestKillDuringKeyedCreations(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir(), "AUTH_BCRYPT_COST": "4", "METRICS_LISTEN": "off"}
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = testkit.FreshDatabase(t, testkit.Env(t, "TEST_DATABASE_URL"))
			}
			t0 := time.Now()
			p := launch(t, env)
			token, patient := signUp(t, p.base, "ada@example.org")
			body := func() string {
				return `{"customerId":"` + patient + `","specialty":"NEUROLOGY","urgency":"STANDARD","title":"Headaches","question":"Are these migraines?"}`
			}

			// The burst: every key at once; the kill once a quarter of
			// them are acknowledged, while the rest are in flight.
			acked := make([]string, keys) // case id answered to key i, or ""
			var nAcked atomic.Int64
			killed := make(chan struct{})
			var wg sync.WaitGroup
			for i := range keys {
				wg.Go(func() {
					code, id, _ := createCase(p.base, token, key(i), body())
					if code == http.StatusCreated {
						acked[i] = id
						if nAcked.Add(1) == keys/4 {
							close(killed)
						}
					}
				})
			}
			select {
			case <-killed:
			case <-time.After(30 * time.Second):
				t.Fatalf("only %d of %d creations acknowledged in 30 s\n%s", nAcked.Load(), keys, p.Output.String())
			}
			p.kill(t)
			wg.Wait()
			before := nAcked.Load()
			if before == keys {
				t.Fatalf("every creation was acknowledged before the kill: nothing was in flight")
			}

			// The restart, and a retry of every key until it is answered.
			p = launch(t, env)
			lost := 0 // keys whose case was made but whose answer died with the process
			var mu sync.Mutex
			sem := make(chan struct{}, 16)
			for i := range keys {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					id, wasLost := retry(t, p.base, token, key(i), body())
					mu.Lock()
					defer mu.Unlock()
					switch {
					case wasLost:
						lost++
						if acked[i] != "" {
							t.Errorf("key %d: acknowledged as %s, and now reported lost", i, acked[i])
						}
					case acked[i] != "" && id != acked[i]:
						t.Errorf("key %d: acknowledged as %s, retried as %s", i, acked[i], id)
					}
				})
			}
			wg.Wait()

			cases := listCases(t, p.base, token)
			if len(cases) != keys {
				t.Errorf("%d cases for %d keys (%d acknowledged before the kill, %d answers lost)", len(cases), keys, before, lost)
			}
			for i, id := range acked {
				if _, ok := cases[id]; id != "" && !ok {
					t.Errorf("key %d: acknowledged case %s is gone", i, id)
				}
			}
			t.Logf("%d of %d acknowledged before the kill; after it %d answers were lost, %d cases in all; %v",
				before, keys, lost, len(cases), time.Since(t0).Round(time.Millisecond))
		})
	}
}

func key(i int) string { return fmt.Sprintf("crash-case-%03d", i) }

// signUp registers a patient and logs in: the access token and the id.
func signUp(t *testing.T, base, email string) (token, id string) {
	t.Helper()
	code, _, out, err := do(http.MethodPost, base+"/api/v1/patients", "", "",
		`{"firstName":"Ada","lastName":"Lovelace","dateOfBirth":"1985-12-10","email":"`+email+`","password":"analytical engine 1843"}`)
	var patient struct{ ID string }
	if err != nil || code != http.StatusCreated || json.Unmarshal(out, &patient) != nil {
		t.Fatalf("register: %d %s %v", code, out, err)
	}
	code, _, out, err = do(http.MethodPost, base+"/api/v1/auth/login", "", "", `{"email":"`+email+`","password":"analytical engine 1843"}`)
	var login struct{ AccessToken string }
	if err != nil || code != http.StatusOK || json.Unmarshal(out, &login) != nil || login.AccessToken == "" {
		t.Fatalf("login: %d %s %v", code, out, err)
	}
	return login.AccessToken, patient.ID
}

// createCase posts one keyed creation: the status, the case id on 201,
// and the problem's title otherwise.
func createCase(base, token, key, body string) (int, string, string) {
	code, _, out, err := do(http.MethodPost, base+"/api/v1/cases", token, key, body)
	if err != nil {
		return 0, "", err.Error()
	}
	var doc struct{ ID, Title string }
	_ = json.Unmarshal(out, &doc)
	return code, doc.ID, doc.Title
}

// retry posts key until it is answered: the case id, or lost when the
// process carried the creation out and died before recording its answer.
// A key still held by a run of the dead process answers 409 with
// Retry-After until its lease lapses.
func retry(t *testing.T, base, token, key, body string) (id string, lost bool) {
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		code, id, title := createCase(base, token, key, body)
		switch {
		case code == http.StatusCreated:
			return id, false
		case code == http.StatusConflict && title == "Request already carried out":
			return "", true
		}
		last = fmt.Sprintf("%d %s", code, title)
	}
	t.Errorf("key %s: no answer after the restart, last %s", key, last)
	return "", false
}

// listCases is the status of each of the patient's cases, every page.
func listCases(t *testing.T, base, token string) map[string]string {
	t.Helper()
	cases := map[string]string{}
	each(t, base+"/api/v1/cases?limit=100", token, func(raw json.RawMessage) {
		var c struct{ ID, Status string }
		_ = json.Unmarshal(raw, &c)
		if _, dup := cases[c.ID]; dup {
			t.Errorf("case %s listed twice", c.ID)
		}
		cases[c.ID] = c.Status
	})
	return cases
}
