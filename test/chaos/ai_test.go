package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	aiorchestration "github.com/secondopinion/platform/internal/services/ai/ai-orchestration"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/providertest"
	"github.com/secondopinion/platform/test/journey"
)

// report is the record the patient uploads: plain text, the simplest kind
// document-analysis reads, with a finding for the synthesis to rest on
// (without one ai-orchestration asks no provider, and there would be no
// request to kill the process under).
const report = "CHEST X-RAY REPORT\n" +
	"Findings: patchy consolidation in the right lower lobe.\n" +
	"Impression: community-acquired pneumonia.\n"

// The platform is killed with SIGKILL while a case's AI pre-analysis
// waits for the provider's synthesis, and started again on the same
// stores: the attempt the kill interrupted holds its processing RUNNING
// until its lease (AI_ATTEMPT_TIMEOUT) ends, and its river job stays
// "running" for minutes more, so only the sweep brings the case back. The
// case must then complete with the provider's synthesis and reach the
// pool, having gone through AI_PROCESSING once, with one
// ai.analysis.completed: on SQLite with the in-process bus, and on
// PostgreSQL with NATS JetStream.
func TestAIAnalysisSurvivesAKill(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		name := string(e)
		if e == sqldb.Postgres {
			name = "postgres+nats"
		}
		t.Run(name, func(t *testing.T) {
			t0 := time.Now()
			provider := holdingProvider(t)
			env := platformEnv(t)
			for k, v := range map[string]string{
				"AI_DEFAULT_CHAIN": "openai", "AI_ALLOWED_PROVIDERS": "openai",
				"OPENAI_BASE_URL": provider.URL, "OPENAI_MODEL": "gpt-4o-mini", "OPENAI_API_KEY": "sk-test",
				// A short lease and sweep, so that the interrupted
				// attempt is found stuck within seconds of the restart.
				"AI_ATTEMPT_TIMEOUT": "4s", "AI_STUCK_AFTER": "1s", "AI_SWEEP_INTERVAL": "500ms", "AI_JOB_POLL": "200ms",
				// A step that fails while the restarted process warms up
				// is retried within the test's deadline, not 30 s later.
				"AI_RETRY_BACKOFF": "250ms", "AI_RETRY_MAX_BACKOFF": "1s",
			} {
				env[k] = v
			}
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = testkit.FreshDatabase(t, testkit.Env(t, "TEST_DATABASE_URL"))
				env["NATS_URL"] = startNATS(t).url
			}
			proc := launch(t, env)
			j := journey.Platform{Base: proc.base}
			admin := j.Login(t, adminEmail, adminPassword)
			patient := j.RegisterPatientConsenting(t, "AI_PROCESSING", "SHARE_WITH_PROFESSIONALS")
			c := j.OpenCase(t, patient, false)
			doc := uploadRecord(t, proc.base, patient.Token, c.ID, "IMAGING_REPORT", "chest-xray.txt", report)
			j.Submit(t, patient, c, map[string]bool{"confirmIncomplete": true})

			// Mid-analysis: the synthesis request has reached the
			// provider, which holds it open.
			select {
			case <-provider.arrived:
			case <-time.After(20 * time.Second):
				t.Fatalf("no synthesis request reached the provider in 20 s\n%s", proc.Output.String())
			}
			held := provider.Requests()[0]
			in, err := provider.CaseOf(held)
			// The privacy gate names the record by a pseudonym: its id,
			// like the case's, never leaves the platform.
			if err != nil || len(in.Documents) != 1 || !strings.Contains(fmt.Sprint(in.Documents[0].Passages), "pneumonia") ||
				bytes.Contains(held.Body, []byte(doc)) || bytes.Contains(held.Body, []byte(c.ID)) {
				t.Fatalf("the held request is not the de-identified synthesis of record %s of case %s: %v\n%s", doc, c.ID, err, held.Body)
			}
			// The attempt holds the claim, and the case is in
			// AI_PROCESSING (so the kill cannot race ai.analysis.started).
			journey.Eventually(t, "the case in AI_PROCESSING, its first attempt RUNNING", func() (bool, string) {
				a := analysis(t, j, admin, c.ID)
				s := caseStatus(t, j, patient.Token, c.ID)
				return a.Status == "RUNNING" && a.Attempts == 1 && s.Status == "AI_PROCESSING", fmt.Sprintf("%+v; case %s", a, s.Status)
			})
			proc.kill(t)
			killed := time.Now()

			// From now on the provider answers; the restart runs on the
			// same DATA_DIR, database and bus.
			provider.heal()
			proc = launch(t, env)
			j = journey.Platform{Base: proc.base}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("ai-orchestration after the restart:\n%s", serviceLog(proc.Output.String(), aiorchestration.Name))
				}
			})
			// The sweep is a periodic job, which only river's elected
			// leader enqueues, and the killed process holds the
			// leadership until its term runs out (river: 15 s after it
			// last renewed it, and the new client tries every 5 s): the
			// case comes back some 10-22 s after the kill, not within
			// AI_STUCK_AFTER + AI_SWEEP_INTERVAL. Hence a longer deadline
			// than journey.Eventually's.
			var a caseAnalysis
			await(t, 45*time.Second, "the case analysed and in the pool after the restart", func() (bool, string) {
				a = analysis(t, j, admin, c.ID)
				s := caseStatus(t, j, patient.Token, c.ID)
				return a.Status == "COMPLETED" && s.Status == "AWAITING_ASSIGNMENT", fmt.Sprintf("%+v; case %s", a, s.Status)
			})
			// The killed attempt still counts (Processing.Requeue keeps
			// it): the one that completed is at least the second.
			if a.Attempts < 2 {
				t.Errorf("completed after %d attempts: the killed attempt was not counted", a.Attempts)
			}
			if a.Synthesis == nil || a.Synthesis.Provider != "openai" || a.Synthesis.Summary == "" {
				t.Errorf("the pre-analysis lacks the provider's synthesis: %+v", a.Synthesis)
			}
			if n := len(provider.Requests()); n < 2 {
				t.Errorf("the provider received %d requests: the restarted platform never asked again", n)
			}

			// Through AI_PROCESSING into the pool, each step once and moved
			// by its event. (The case ignores a redelivered event, so the
			// timeline cannot show a duplicate: the outbox below counts
			// the events themselves.)
			s := caseStatus(t, j, patient.Token, c.ID)
			steps := map[string]int{}
			for _, step := range s.Timeline {
				steps[step.From+">"+step.To+" by "+step.Trigger]++
			}
			for _, want := range []string{"SUBMITTED>AI_PROCESSING by ai.analysis.started",
				"AI_PROCESSING>AWAITING_ASSIGNMENT by ai.analysis.completed"} {
				if steps[want] != 1 {
					t.Errorf("the timeline has %d steps %s, want 1: %+v", steps[want], want, s.Timeline)
				}
			}
			// Nothing happened twice: one started and one completed event
			// left ai-orchestration, although two attempts ran.
			for _, typ := range []string{events.AnalysisStartedV1.Type, events.AnalysisCompletedV1.Type} {
				if n := published(t, env, typ, c.ID); n != 1 {
					t.Errorf("ai-orchestration's outbox holds %d %s events for the case, want 1", n, typ)
				}
			}
			t.Logf("completed after %d attempts, %v after the kill; %v in all",
				a.Attempts, time.Since(killed).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
		})
	}
}

// await retries check until it reports done, like journey.Eventually
// but within d; it fails with check's last word.
func await(t *testing.T, d time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, last := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen in %v: %s", what, d, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serviceLog is what the platform's output says of service, its HTTP
// requests left out.
func serviceLog(out, service string) string {
	var b strings.Builder
	for l := range strings.Lines(out) {
		if strings.Contains(l, `"service":"`+service+`"`) && !strings.Contains(l, `"msg":"http request"`) {
			b.WriteString(l)
		}
	}
	return b.String()
}

// holding is a fake OpenAI API that holds every request open until it is
// healed, then answers each with a valid synthesis: the platform can be
// killed while it waits for the provider, and the restarted one served.
type holding struct {
	*providertest.Server
	arrived chan struct{} // closed by the first request
	healed  chan struct{}
	once    sync.Once
}

func holdingProvider(t *testing.T) *holding {
	h := &holding{Server: providertest.New(t, providertest.OpenAI), arrived: make(chan struct{}), healed: make(chan struct{})}
	answer := h.Cite()
	h.Always(func(w http.ResponseWriter, r *http.Request, body []byte) {
		select {
		case <-h.healed:
			answer(w, r, body)
			return
		default:
		}
		h.once.Do(func() { close(h.arrived) })
		// The request ends when its client goes: the killed process
		// drops the connection.
		select {
		case <-h.healed:
			answer(w, r, body)
		case <-r.Context().Done():
		}
	})
	return h
}

func (h *holding) heal() { close(h.healed) }

// uploadRecord uploads content as a record of kind of the case, as the
// patient's multipart upload, and returns the record's id.
func uploadRecord(t *testing.T, base, token, caseID, kind, name, content string) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	part.Write([]byte(content))
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/cases/"+caseID+"/documents?kind="+kind, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	defer res.Body.Close()
	var doc struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil || res.StatusCode != http.StatusCreated || doc.ID == "" {
		t.Fatalf("upload %s: %d %v", name, res.StatusCode, err)
	}
	return doc.ID
}

// caseAnalysis is what an admin reads of a case's pre-analysis.
type caseAnalysis struct {
	Status    string
	Attempts  int
	Reason    string
	Synthesis *struct{ Provider, Model, Summary string }
}

// analysis is the case's pre-analysis as the admin reads it; its status
// is "" until the processing exists (or while the gateway is not ready).
func analysis(t *testing.T, j journey.Platform, admin, caseID string) caseAnalysis {
	var a caseAnalysis
	if r := j.Do(t, admin, http.MethodGet, "/api/v1/cases/"+caseID+"/analysis", nil); r.Status == http.StatusOK {
		if err := json.Unmarshal(r.Body, &a); err != nil {
			t.Fatalf("the analysis: %v: %s", err, r.Body)
		}
	}
	return a
}

// caseView is the case with its timeline as its patient reads it.
type caseView struct {
	Status   string
	Timeline []struct{ From, To, Trigger string }
}

func caseStatus(t *testing.T, j journey.Platform, token, caseID string) caseView {
	var c caseView
	if r := j.Do(t, token, http.MethodGet, "/api/v1/cases/"+caseID, nil); r.Status == http.StatusOK {
		if err := json.Unmarshal(r.Body, &c); err != nil {
			t.Fatalf("the case: %v: %s", err, r.Body)
		}
	}
	return c
}

// published counts the events of type typ about caseID in
// ai-orchestration's outbox. The relay keeps published rows for days, so
// the outbox is the record of every event the service ever emitted,
// whichever bus carried it.
func published(t *testing.T, env map[string]string, typ, caseID string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, sqldb.Options{Service: aiorchestration.Name, URL: env["DATABASE_URL"], DataDir: env["DATA_DIR"], MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE event_type = $1 AND aggregate_id = $2`, typ, caseID).Scan(&n); err != nil {
		t.Fatalf("count %s in ai-orchestration's outbox: %v", typ, err)
	}
	return n
}
