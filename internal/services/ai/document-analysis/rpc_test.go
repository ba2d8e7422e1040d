package documentanalysis_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	aiv1 "github.com/secondopinion/platform/api/gen/ai/v1"
	"github.com/secondopinion/platform/api/gen/ai/v1/aiv1connect"
	analysisclient "github.com/secondopinion/platform/internal/clients/document-analysis"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	documentanalysis "github.com/secondopinion/platform/internal/services/ai/document-analysis"
	"github.com/secondopinion/platform/internal/services/ai/document-analysis/nlp"
)

// callers are the identities an internal call may present.
var callers = testkit.Tokens{
	"admin":                    {Subject: "0190a0a0-0000-7000-8000-0000000000ad", Role: "admin"},
	"service:ai-orchestration": {Subject: "ai-orchestration", Role: "service"},
	"service:case-management":  {Subject: "case-management", Role: "service"},
}

// rpcHandler is the service's handler behind the platform middleware, as
// a peer reaches it.
func rpcHandler(h *harness) http.Handler {
	return httpapi.Wrap(h.svc.Handler(), httpapi.Options{Service: documentanalysis.Name, Verifier: callers})
}

// presenting presents the test token tok (see callers) on c's every call.
func presenting(c *http.Client, tok string) *http.Client {
	if tok == "" {
		return c
	}
	return rpc.WithIdentity(c, func(context.Context) (string, time.Time, error) { return tok, time.Now().Add(time.Hour), nil })
}

// A referral letter: a negated condition, a lab out of range, an uncertain
// one on page 2 after a name whose letters take two bytes each.
const letter = "HISTORY:\nKnown hypertension since 2015.\n" +
	"IMPRESSION:\nNo evidence of pneumonia. Type 2 diabetes mellitus, poorly controlled. HbA1c 8.2 % (4.0-6.0).\n" +
	"\fFINDINGS:\nSeen by Dr. Müller-Ødegård: possible pulmonary embolism; CT angiography advised.\n"

// TestRPC calls AnalysisService over the real Connect handler, behind the
// platform middleware, through the typed client ai-orchestration uses.
func TestRPC(t *testing.T) {
	testkit.ForEachEngine(t, documentanalysis.Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		mem := rpc.NewInProcess(rpcHandler(h))
		t.Cleanup(func() { mem.Close() })
		peer := func(tok string) service.Peer {
			return service.Peer{HTTP: presenting(mem.Client(), tok), URL: rpc.BaseURL}
		}
		ctx := context.Background()
		ai := analysisclient.New(peer("service:ai-orchestration"))
		if err := ai.Ready(ctx); err != nil {
			t.Errorf("ready: %v", err)
		}

		caseID := uuid.NewString()
		id := h.add(caseID, "TEXT", []byte(letter))
		got, err := ai.Analyze(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.DocumentID != id || got.CaseID != caseID || got.FileType != "TEXT" || got.Status != "OK" || got.Reason != "" ||
			got.Engine != nlp.Version || len(got.Findings) == 0 || len(got.Summary) == 0 {
			t.Fatalf("analysis %+v", got)
		}
		pages := strings.Split(letter, "\f")
		cited := func(c analysisclient.Cite) string {
			if c.Page < 1 || c.Page > len(pages) || c.Start < 0 || c.Start >= c.End || c.End > len(pages[c.Page-1]) {
				t.Errorf("%+v cites outside the letter", c)
				return ""
			}
			return pages[c.Page-1][c.Start:c.End]
		}
		found := map[string]analysisclient.Finding{}
		for _, f := range got.Findings {
			if cited(f.Cite) != f.Text {
				t.Errorf("finding %q cites %q", f.Text, cited(f.Cite))
			}
			found[strings.ToLower(f.Text)] = f
		}
		for _, s := range got.Summary {
			if cited(s.Cite) != s.Text {
				t.Errorf("summary sentence %q cites %q", s.Text, cited(s.Cite))
			}
		}
		if f, ok := found["hypertension"]; !ok || f.Type != "CONDITION" || f.Code == "" {
			t.Errorf("hypertension: %+v", f)
		}
		if f, ok := found["pulmonary embolism"]; !ok || !f.Uncertain || f.Cite.Page != 2 {
			t.Errorf("the uncertain embolism on page 2: %+v", f)
		}
		if f, ok := found["hba1c 8.2 % (4.0-6.0)"]; !ok || f.Type != "LAB" || f.Flag != "HIGH" {
			t.Errorf("the HbA1c out of range: %+v (of %v)", f, got.Findings)
		}
		for _, f := range got.Findings {
			if strings.Contains(strings.ToLower(f.Label), "pneumonia") {
				t.Errorf("the negated pneumonia is a finding: %+v", f)
			}
		}

		// The answer is the analysis now stored, its findings and summary
		// field by field.
		code, stored, raw := h.do("admin", http.MethodGet, "/api/v1/documents/analysis/"+id, "")
		if code != http.StatusOK || stored.Analysis == nil {
			t.Fatalf("the stored analysis: %d %s", code, raw)
		}
		if e, ok := entity(stored, nlp.Condition, "pneumonia"); !ok || !e.Negated {
			t.Errorf("pneumonia, negated: %+v %v", e, ok)
		}
		var want []analysisclient.Finding
		for _, f := range stored.Analysis.KeyFindings {
			want = append(want, analysisclient.Finding{Label: f.Label, Type: string(f.Type), Code: f.Code, Flag: string(f.Flag),
				Text: stored.Analysis.Entities[f.Entity].Text, Uncertain: f.Uncertain, Historical: f.Historical,
				Confidence: f.Confidence, Score: f.Score, Cite: analysisclient.Cite(f.Cite)})
		}
		if !slices.Equal(got.Findings, want) {
			t.Errorf("findings\n%+v\nwant\n%+v", got.Findings, want)
		}
		var summary []analysisclient.Passage
		for _, s := range stored.Analysis.Summary {
			summary = append(summary, analysisclient.Passage{Text: s.Text, Score: s.Score, Cite: analysisclient.Cite(s.Cite)})
		}
		if !slices.Equal(got.Summary, summary) {
			t.Errorf("summary\n%+v\nwant\n%+v", got.Summary, summary)
		}

		// The answer quoted the record: the caller's read is audited.
		reads := 0
		for _, e := range testkit.Outbox(t, db) {
			var entry kitaudit.Entry
			if e.Type == kitaudit.Recorded.Type && json.Unmarshal(e.Payload, &entry) == nil && entry.Action == "document.analysis.read" &&
				entry.Actor == "ai-orchestration" {
				reads++
				if entry.ActorRole != "service" || entry.PatientID != patient || entry.ResourceID != id || entry.Outcome != kitaudit.Allowed {
					t.Errorf("audit entry %+v", entry)
				}
			}
		}
		if reads != 1 {
			t.Errorf("%d reads by ai-orchestration audited, want 1", reads)
		}

		// A record that cannot be read is an answer, FAILED with the reason.
		broken := h.add(caseID, "DOCX", []byte("this is not really a DOCX"))
		if got, err := ai.Analyze(ctx, broken); err != nil || got.Status != "FAILED" || got.Reason == "" || got.Findings != nil {
			t.Errorf("a broken DOCX: %+v, %v", got, err)
		}

		for name, c := range map[string]struct {
			peer, id string
			want     connect.Code
		}{
			"an unlisted service": {"service:case-management", id, connect.CodePermissionDenied},
			"an admin":            {"admin", id, connect.CodePermissionDenied},
			"anonymous":           {"", id, connect.CodeUnauthenticated},
			"a malformed id":      {"service:ai-orchestration", "nope", connect.CodeInvalidArgument},
			"no such record":      {"service:ai-orchestration", uuid.NewString(), connect.CodeNotFound},
		} {
			raw := aiv1connect.NewAnalysisServiceClient(peer(c.peer).HTTP, rpc.BaseURL, rpc.ClientOptions()...)
			_, err := raw.Analyze(ctx, connect.NewRequest(&aiv1.AnalyzeRequest{DocumentId: c.id}))
			if connect.CodeOf(err) != c.want {
				t.Errorf("%s: %v, want %v", name, err, c.want)
			}
		}
		if _, err := ai.Analyze(ctx, uuid.NewString()); !fault.Is(err, fault.KindNotFound) {
			t.Errorf("no such record, through the client: %v, want NotFound", err)
		}
		mem.Close()
		if _, err := ai.Analyze(ctx, id); !fault.Is(err, fault.KindUnavailable) {
			t.Errorf("the peer down: %v, want Unavailable", err)
		}
	})
}

// An analysis may outlast the write timeout that bounds the REST API's
// answers: a scanned PDF goes through OCR page by page.
func TestAnalyzeOutlastsWriteTimeout(t *testing.T) {
	h := newHarness(t, testkit.OpenDB(t, sqldb.SQLite, documentanalysis.Name))
	ln := testkit.Listen(t)
	const writeTimeout = 200 * time.Millisecond
	srv := &http.Server{Handler: rpcHandler(h), Protocols: rpc.Protocols(), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: writeTimeout, WriteTimeout: writeTimeout}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	ai := analysisclient.New(service.Peer{HTTP: presenting(rpc.RemoteClient(), "service:ai-orchestration"),
		URL: "http://" + ln.Addr().String()})

	id := h.add(uuid.NewString(), "TEXT", []byte(letter))
	// medical-records answers late: its stand-in is held meanwhile.
	h.peers.mu.Lock()
	time.AfterFunc(3*writeTimeout, h.peers.mu.Unlock)
	if got, err := ai.Analyze(context.Background(), id); err != nil || got.Status != "OK" {
		t.Errorf("a slow analysis: %+v, %v", got, err)
	}
}
