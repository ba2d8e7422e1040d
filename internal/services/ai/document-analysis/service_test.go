package documentanalysis_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	documentanalysis "github.com/secondopinion/platform/internal/services/ai/document-analysis"
	"github.com/secondopinion/platform/internal/services/ai/document-analysis/nlp"
)

const (
	pro      = "0190a0a0-0000-7000-8000-0000000000fe"
	otherPro = "0190a0a0-0000-7000-8000-0000000000ff"
	patient  = "0190a0a0-0000-7000-8000-00000000000a"
)

var tokens = testkit.Tokens{
	"pro":   {Subject: pro, Role: "professional"},
	"pro2":  {Subject: otherPro, Role: "professional"},
	"a":     {Subject: patient, Role: "patient"},
	"admin": {Subject: "0190a0a0-0000-7000-8000-0000000000ad", Role: "admin"},

	"service:document-analysis": {Subject: "document-analysis", Role: "service"},
}

// record is a record the stand-in medical-records holds.
type record struct {
	caseID, fileType string
	content          []byte
}

// peers stand in for medical-records (records and their originals) and
// case-assignment (who holds a case), in memory as in `all` mode.
type peers struct {
	mu       sync.Mutex
	records  map[string]record
	assigned map[string]string // case → professional
}

func (p *peers) record(_ context.Context, req *connect.Request[patientv1.RecordRequest]) (*connect.Response[patientv1.RecordSummary], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.records[req.Msg.DocumentId]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("record not found"))
	}
	return connect.NewResponse(&patientv1.RecordSummary{Id: req.Msg.DocumentId, CaseId: r.caseID, PatientId: patient,
		FileType: r.fileType, Size: int64(len(r.content))}), nil
}

func (p *peers) content(_ context.Context, req *connect.Request[patientv1.ContentRequest], stream *connect.ServerStream[patientv1.ContentChunk]) error {
	p.mu.Lock()
	r, ok := p.records[req.Msg.DocumentId]
	p.mu.Unlock()
	if !ok {
		return connect.NewError(connect.CodeNotFound, errors.New("record not found"))
	}
	for rest := r.content; len(rest) > 0; {
		n := min(len(rest), 1000)
		if err := stream.Send(&patientv1.ContentChunk{Data: rest[:n]}); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

type assignments struct {
	professionalv1connect.UnimplementedAssignmentServiceHandler
	p *peers
}

func (a assignments) GetActiveAssignment(_ context.Context, req *connect.Request[professionalv1.GetActiveAssignmentRequest]) (*connect.Response[professionalv1.Assignment], error) {
	a.p.mu.Lock()
	defer a.p.mu.Unlock()
	who, ok := a.p.assigned[req.Msg.CaseId]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no active assignment"))
	}
	now := time.Now().UTC().Format(time.RFC3339)
	return connect.NewResponse(&professionalv1.Assignment{Id: uuid.NewString(), CaseId: req.Msg.CaseId, ProfessionalId: who,
		Deadline: now, ClaimedAt: now}), nil
}

type records struct {
	patientv1connect.UnimplementedRecordsServiceHandler
	p *peers
}

func (r records) Record(ctx context.Context, req *connect.Request[patientv1.RecordRequest]) (*connect.Response[patientv1.RecordSummary], error) {
	return r.p.record(ctx, req)
}

func (r records) Content(ctx context.Context, req *connect.Request[patientv1.ContentRequest], stream *connect.ServerStream[patientv1.ContentChunk]) error {
	return r.p.content(ctx, req, stream)
}

type harness struct {
	t       *testing.T
	dataDir string
	db      *sqldb.DB
	svc     *documentanalysis.Service
	peers   *peers
	base    string
}

func newHarness(t *testing.T, db *sqldb.DB) *harness {
	t.Helper()
	if err := documentanalysis.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	p := &peers{records: map[string]record{}, assigned: map[string]string{}}
	mux := http.NewServeMux()
	mux.Handle(patientv1connect.NewRecordsServiceHandler(records{p: p}))
	mux.Handle(professionalv1connect.NewAssignmentServiceHandler(assignments{p: p}))
	mem := rpc.NewInProcess(mux)
	t.Cleanup(func() { mem.Close() })
	dataDir := t.TempDir()
	// A crash left a record's plaintext in the spool: it does not survive
	// the start.
	leftover := filepath.Join(dataDir, documentanalysis.Name, "spool", "record-crashed")
	if err := os.MkdirAll(filepath.Dir(leftover), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leftover, []byte(report), 0o600); err != nil {
		t.Fatal(err)
	}
	svc, err := documentanalysis.New(documentanalysis.Config{Tesseract: "tesseract", OCRLanguages: "eng", PDFCache: testkit.PDFEngineCache()}, service.Deps{
		Region: "EU", DataDir: dataDir, Log: slog.New(slog.DiscardHandler), DB: db, Bus: inproc.New(),
		Peer: func(string) (service.Peer, error) { return service.Peer{HTTP: mem.Client(), URL: rpc.BaseURL}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: httpapi.Wrap(svc.Handler(), httpapi.Options{Service: documentanalysis.Name, Verifier: tokens}),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &harness{t: t, dataDir: dataDir, db: db, svc: svc, peers: p, base: "http://" + ln.Addr().String()}
}

func (h *harness) add(caseID, fileType string, content []byte) string {
	id := uuid.NewString()
	h.peers.mu.Lock()
	h.peers.records[id] = record{caseID: caseID, fileType: fileType, content: content}
	h.peers.mu.Unlock()
	return id
}

func (h *harness) do(token, method, path, body string) (int, documentanalysis.DocumentAnalysis, string) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var a documentanalysis.DocumentAnalysis
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &a); err != nil {
			h.t.Fatalf("%s: %v", raw, err)
		}
	} else if res.Header.Get("Content-Type") != "application/problem+json" {
		h.t.Errorf("%s %s: %d is no problem: %s", method, path, res.StatusCode, raw)
	}
	return res.StatusCode, a, string(raw)
}

func (h *harness) analyze(id string) (int, documentanalysis.DocumentAnalysis, string) {
	return h.do("admin", http.MethodPost, "/api/v1/documents/analyze", `{"documentId":"`+id+`"}`)
}

// entity finds the entity of typ whose text is text.
func entity(a documentanalysis.DocumentAnalysis, typ nlp.EntityType, text string) (nlp.Entity, bool) {
	if a.Analysis == nil {
		return nlp.Entity{}, false
	}
	for _, e := range a.Analysis.Entities {
		if e.Type == typ && strings.EqualFold(e.Text, text) {
			return e, true
		}
	}
	return nlp.Entity{}, false
}

const report = "IMPRESSION:\nNo evidence of malignancy. Known hypertension, treated with lisinopril 10 mg daily.\n" +
	"\fPLAN:\nPossible pneumonia; repeat chest x-ray.\n"

func TestAnalysis(t *testing.T) {
	testkit.ForEachEngine(t, documentanalysis.Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		caseID := uuid.NewString()
		id := h.add(caseID, "TEXT", []byte(report))

		code, a, raw := h.analyze(id)
		if code != http.StatusOK || a.Status != "OK" || a.DocumentID != id || a.CaseID != caseID || len(a.Pages) != 2 || a.Engine != nlp.Version {
			t.Fatalf("analyze: %d %s", code, raw)
		}
		pages := strings.Split(report, "\f")
		cites := func(e nlp.Entity) string { return pages[e.Cite.Page-1][e.Cite.Start:e.Cite.End] }
		if e, ok := entity(a, nlp.Condition, "malignancy"); !ok || !e.Negated || cites(e) != e.Text {
			t.Errorf("the negated malignancy: %+v %v", e, ok)
		}
		if e, ok := entity(a, nlp.Condition, "hypertension"); !ok || e.Negated || cites(e) != e.Text {
			t.Errorf("hypertension: %+v %v", e, ok)
		}
		if e, ok := entity(a, nlp.Condition, "pneumonia"); !ok || !e.Uncertain || e.Cite.Page != 2 || cites(e) != e.Text {
			t.Errorf("the uncertain pneumonia on page 2: %+v %v", e, ok)
		}
		if e, ok := entity(a, nlp.Medication, "lisinopril 10 mg daily"); ok && e.Medication.Dose != "10" {
			t.Errorf("lisinopril: %+v", e)
		}
		for _, f := range a.Analysis.KeyFindings {
			if strings.Contains(strings.ToLower(f.Label), "malignancy") {
				t.Errorf("a negated condition is a key finding: %+v", f)
			}
		}

		// The professional assigned to the case reads it; nobody else but
		// an admin does, and the patient never reads unreviewed AI output.
		path := "/api/v1/documents/analysis/" + id
		for token, want := range map[string]int{"": 401, "a": 403, "pro": 404, "pro2": 404, "admin": 200} {
			if code, _, raw := h.do(token, http.MethodGet, path, ""); code != want {
				t.Errorf("read as %q before the claim: %d, want %d: %s", token, code, want, raw)
			}
		}
		h.peers.mu.Lock()
		h.peers.assigned[caseID] = pro
		h.peers.mu.Unlock()
		code, got, raw := h.do("pro", http.MethodGet, path, "")
		if code != http.StatusOK || got.Analysis == nil || len(got.Analysis.Entities) != len(a.Analysis.Entities) {
			t.Errorf("the assignee's read: %d %s", code, raw)
		}
		if code, _, _ := h.do("pro2", http.MethodGet, path, ""); code != http.StatusNotFound {
			t.Errorf("another professional's read: %d", code)
		}
		audited := map[string]int{}
		for _, e := range testkit.Outbox(t, db) {
			var entry kitaudit.Entry
			if e.Type == kitaudit.Recorded.Type && json.Unmarshal(e.Payload, &entry) == nil && entry.Action == "document.analysis.read" {
				if entry.PatientID != patient || entry.ResourceID != id {
					t.Errorf("audit entry %+v", entry)
				}
				audited[entry.ActorRole+" "+entry.Outcome]++
			}
		}
		if audited["admin allowed"] != 2 || audited["professional allowed"] != 1 || audited["professional denied"] != 3 {
			t.Errorf("audited %v", audited)
		}

		// Analysing again replaces the result; a deleted record's goes.
		if code, _, _ := h.analyze(id); code != http.StatusOK {
			t.Errorf("analyse again: %d", code)
		}
		if n := testkit.CountContaining(t, db, "analyses", id); n != 1 {
			t.Errorf("%d analyses of the record, want 1", n)
		}
		deleted, err := events.DocumentDeletedV1.New("medical-records", caseID, events.DocumentChanged{DocumentID: id, CaseID: caseID,
			PatientID: patient, Kind: "OTHER", FileType: "TEXT", Size: 1, SHA256: strings.Repeat("0", 64), Timestamp: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.svc.Consume(context.Background(), deleted); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := h.do("admin", http.MethodGet, path, ""); code != http.StatusNotFound {
			t.Errorf("the analysis of a deleted record: %d, want 404", code)
		}
	})
}

// Records that cannot be read are FAILED with the reason, not errors: a
// case's analysis goes on without them. A DICOM study is read only as far
// as its metadata, never the patient's tags.
func TestFileTypes(t *testing.T) {
	h := newHarness(t, testkit.OpenDB(t, sqldb.SQLite, documentanalysis.Name))
	caseID := uuid.NewString()
	study, err := os.ReadFile(filepath.Join("..", "..", "..", "kit", "dicom", "testdata", "one.explicit.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	dcm := h.add(caseID, "DICOM", study)
	code, a, raw := h.analyze(dcm)
	if code != http.StatusOK || a.Status != "OK" || len(a.Tags) == 0 {
		t.Fatalf("DICOM: %d %s", code, raw)
	}
	// Nor the scanner's description ("CT CHEST Jane") or the study's date,
	// which de-identification removes from the professional's copy.
	for _, identifying := range []string{"Doe^Jane", "PID123", "19800101", "Jane", "20240102"} {
		if strings.Contains(raw, identifying) {
			t.Errorf("the DICOM analysis holds %s: %s", identifying, raw)
		}
	}
	broken := h.add(caseID, "PDF", []byte("%PDF-1.4 this is not really a PDF"))
	if code, a, raw := h.analyze(broken); code != http.StatusOK || a.Status != "FAILED" || a.Reason == "" || a.Analysis != nil {
		t.Errorf("a broken PDF: %d %s", code, raw)
	}
	if code, _, _ := h.analyze(uuid.NewString()); code != http.StatusNotFound {
		t.Errorf("analysis of no record: %d, want 404", code)
	}
	if code, _, _ := h.do("admin", http.MethodPost, "/api/v1/documents/analyze", `{"documentId":"nope"}`); code != http.StatusUnprocessableEntity {
		t.Errorf("a malformed id: %d, want 422", code)
	}
	if code, _, _ := h.do("pro", http.MethodPost, "/api/v1/documents/analyze", `{"documentId":"`+dcm+`"}`); code != http.StatusForbidden {
		t.Errorf("analysis by a professional: %d, want 403", code)
	}

	// No original stays in the spool: not the crashed one, not these.
	if left, err := os.ReadDir(filepath.Join(h.dataDir, documentanalysis.Name, "spool")); err != nil || len(left) != 0 {
		t.Errorf("the spool holds %v (%v)", left, err)
	}

	// An erased case's analyses go with it.
	erased, err := events.CaseErasedV1.New("case-management", caseID, events.CaseErased{CaseID: caseID, Timestamp: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Consume(context.Background(), erased); err != nil {
		t.Fatal(err)
	}
	if n := testkit.CountContaining(t, h.db, "analyses", caseID); n != 0 {
		t.Errorf("%d analyses of the erased case left", n)
	}
}
