package medicalrecords

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/google/uuid"

	contracts "github.com/secondopinion/platform/api/events"
	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/dicom"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The ids behind the harness's tokens.
const (
	patientA = "0190a0a0-0000-7000-8000-00000000000a"
	patientB = "0190a0a0-0000-7000-8000-00000000000b"
	proID    = "0190a0a0-0000-7000-8000-0000000000f0"
	otherPro = "0190a0a0-0000-7000-8000-0000000000f1"
	adminID  = "0190a0a0-0000-7000-8000-0000000000ad"
)

var tokens = testkit.Tokens{
	"a":     {Subject: patientA, Role: authn.RolePatient},
	"b":     {Subject: patientB, Role: authn.RolePatient},
	"pro":   {Subject: proID, Role: authn.RoleProfessional},
	"pro2":  {Subject: otherPro, Role: authn.RoleProfessional},
	"admin": {Subject: adminID, Role: authn.RoleAdmin},
	// The services that call its internal APIs, and one that may not.
	"service:patient-identity":  {Subject: "patient-identity", Role: authn.RoleService},
	"service:case-management":   {Subject: "case-management", Role: authn.RoleService},
	"service:document-analysis": {Subject: "document-analysis", Role: authn.RoleService},
}

// peers stand in for case-management and case-assignment: the cases they
// know, and the professional each case is assigned to.
type peers struct {
	patientv1connect.UnimplementedCaseServiceHandler
	professionalv1connect.UnimplementedAssignmentServiceHandler
	mu       sync.Mutex
	cases    map[string]*patientv1.CaseResponse
	assignee map[string]string
}

func (p *peers) GetCase(_ context.Context, req *connect.Request[patientv1.GetCaseRequest]) (*connect.Response[patientv1.CaseResponse], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.cases[req.Msg.Id]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("case not found"))
	}
	return connect.NewResponse(c), nil
}

func (p *peers) GetActiveAssignment(_ context.Context, req *connect.Request[professionalv1.GetActiveAssignmentRequest]) (*connect.Response[professionalv1.Assignment], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pro, ok := p.assignee[req.Msg.CaseId]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no active assignment"))
	}
	return connect.NewResponse(&professionalv1.Assignment{Id: uuid.NewString(), CaseId: req.Msg.CaseId, ProfessionalId: pro,
		Deadline: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}), nil
}

type harness struct {
	t       testing.TB
	svc     *Service
	db      *sqldb.DB
	dir     string
	peers   *peers
	base    string
	cfg     Config
	counter int
}

func newHarness(t testing.TB, db *sqldb.DB, cfg Config) *harness {
	t.Helper()
	// The app keeps the Idempotency-Key records in the service's store
	// (without Redis), which an erasure forgets.
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if err := idempotency.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, dir: t.TempDir(), cfg: cfg,
		peers: &peers{cases: map[string]*patientv1.CaseResponse{}, assignee: map[string]string{}}}
	mux := http.NewServeMux()
	mux.Handle(patientv1connect.NewCaseServiceHandler(h.peers))
	mux.Handle(professionalv1connect.NewAssignmentServiceHandler(h.peers))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(patientv1connect.CaseServiceName, professionalv1connect.AssignmentServiceName)))
	local := rpc.NewInProcess(mux)
	t.Cleanup(func() { local.Close() })
	b := inproc.New()
	t.Cleanup(func() { b.Close() })
	svc, err := New(cfg, service.Deps{Region: "EU", DB: db, Bus: b, DataDir: h.dir, Log: slog.New(slog.DiscardHandler),
		Peer: func(string) (service.Peer, error) { return service.Peer{HTTP: local.Client(), URL: rpc.BaseURL}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	h.svc = svc
	t.Cleanup(h.checkContracts)
	handler := httpapi.Wrap(svc.Handler(), httpapi.Options{Service: Name, Verifier: tokens, Streams: httpapi.Streams(httpapi.StreamedRoutes(svc.OpenAPI()))})
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	h.base = "http://" + ln.Addr().String()
	return h
}

// newCase makes a case of patient in status, assigned to nobody.
func (h *harness) newCase(patient, specialty, status string) string {
	id := uuid.NewString()
	h.peers.mu.Lock()
	defer h.peers.mu.Unlock()
	h.peers.cases[id] = &patientv1.CaseResponse{Id: id, CaseNumber: "EU-2026-TEST01", CustomerId: patient, Specialty: specialty,
		Urgency: "STANDARD", Status: status}
	return id
}

func (h *harness) setStatus(caseID, status string) {
	h.peers.mu.Lock()
	defer h.peers.mu.Unlock()
	h.peers.cases[caseID].Status = status
}

func (h *harness) assign(caseID, pro string) {
	h.peers.mu.Lock()
	defer h.peers.mu.Unlock()
	if pro == "" {
		delete(h.peers.assignee, caseID)
		return
	}
	h.peers.assignee[caseID] = pro
}

type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (h *harness) send(req *http.Request, token string) response {
	h.t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		_ = json.Unmarshal(raw, &out.body)
	}
	return out
}

func (h *harness) do(token, method, path string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.send(req, token)
}

// upload sends content as the file part of a multipart body.
func (h *harness) upload(token, caseID, kind, name string, content []byte) response {
	h.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", name)
	if err != nil {
		h.t.Fatal(err)
	}
	part.Write(content)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, h.base+"/api/v1/cases/"+caseID+"/documents?kind="+kind, &body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return h.send(req, token)
}

// outbox is the events queued in the outbox, of type typ ("" for all).
func (h *harness) outbox(typ string) []bus.Event {
	h.t.Helper()
	var out []bus.Event
	for _, e := range testkit.Outbox(h.t, h.db) {
		if typ == "" || e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (h *harness) checkContracts() {
	for _, e := range h.outbox("") {
		if err := contracts.Check(e); err != nil {
			h.t.Errorf("queued an event its contract does not describe: %v", err)
		}
	}
}

// stored lists the files under the service's folder: blobs and spool.
func (h *harness) stored() []string {
	h.t.Helper()
	var out []string
	root := filepath.Join(h.dir, Name)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.Contains(path, string(filepath.Separator)+"keys"+string(filepath.Separator)) {
			out = append(out, strings.TrimPrefix(path, root))
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// audited counts the audit entries queued for action.
func (h *harness) audited(action string) int {
	n := 0
	for _, e := range h.outbox("audit.recorded") {
		var entry struct{ Action string }
		_ = json.Unmarshal(e.Payload, &entry)
		if entry.Action == action {
			n++
		}
	}
	return n
}

// samples are small valid files of the accepted types.
func (h *harness) pdf() []byte {
	h.counter++
	return fmt.Appendf(nil, "%%PDF-1.4\n%% record %d\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%%%EOF\n", h.counter)
}

func pngFile(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func dicomFile(t *testing.T) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "kit", "dicom", "testdata", "one.explicit.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestService(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{MaxFile: 96 << 10, MaxCase: 192 << 10})
		for name, test := range map[string]func(*testing.T, *harness){
			"upload and read":   testUploadAndRead,
			"refusals":          testRefusals,
			"limits":            testLimits,
			"access":            testAccess,
			"professional":      testProfessional,
			"ranges":            testRanges,
			"delete":            testDelete,
			"checklist":         testChecklist,
			"encrypted at rest": testEncryptedAtRest,
			"resumable":         testResumable,
		} {
			t.Run(name, func(t *testing.T) { test(t, h) })
		}
	})
}

func TestReadinessChecksTheBucket(t *testing.T) {
	h := newHarness(t, testkit.OpenDB(t, sqldb.SQLite, Name), Config{})
	check := h.svc.Checks()["documents bucket"]
	// kit/blob's TestPing fails it for a store that stops answering.
	if check == nil || check(t.Context()) != nil {
		t.Fatal("no working bucket check")
	}
}

func testUploadAndRead(t *testing.T, h *harness) {
	id := h.newCase(patientA, "NEUROLOGY", "DRAFT")
	content := h.pdf()
	res := h.upload("a", id, "IMAGING_REPORT", "mri report.pdf", content)
	if res.status != http.StatusCreated || res.body["fileType"] != "PDF" || res.body["mediaType"] != "application/pdf" ||
		res.body["fileName"] != "mri report.pdf" || res.body["kind"] != "IMAGING_REPORT" {
		t.Fatalf("upload: %d %s", res.status, res.raw)
	}
	sum := sha256.Sum256(content)
	if res.body["sha256"] != hex.EncodeToString(sum[:]) || res.body["size"] != float64(len(content)) {
		t.Errorf("hash or size: %v", res.body)
	}
	docID := res.body["id"].(string)
	if res.header.Get("Location") != "/api/v1/records/"+docID {
		t.Errorf("location %q", res.header.Get("Location"))
	}
	// The same content again, under another name and kind, is the same record.
	again := h.upload("a", id, "OTHER", "copy.pdf", content)
	if again.status != http.StatusOK || again.body["id"] != docID {
		t.Errorf("same content again: %d %s", again.status, again.raw)
	}
	if img := h.upload("a", id, "IMAGING", "scan.pdf", pngFile(t)); img.status != http.StatusCreated ||
		img.body["fileType"] != "PNG" || img.body["mediaType"] != "image/png" {
		t.Errorf("a PNG named .pdf: %d %s", img.status, img.raw)
	}
	list := h.do("a", "GET", "/api/v1/cases/"+id+"/documents")
	if items, _ := list.body["items"].([]any); list.status != 200 || len(items) != 2 {
		t.Fatalf("list: %d %s", list.status, list.raw)
	}
	got := h.do("a", "GET", "/api/v1/records/"+docID+"/content")
	if got.status != 200 || !bytes.Equal(got.raw, content) || got.header.Get("Content-Type") != "application/pdf" ||
		!strings.Contains(got.header.Get("Content-Disposition"), `filename="mri report.pdf"`) {
		t.Errorf("download: %d %q %v", got.status, got.raw, got.header)
	}
	var uploaded []bus.Event
	for _, e := range h.outbox("document.uploaded") {
		if e.AggregateID == id {
			uploaded = append(uploaded, e)
		}
	}
	if len(uploaded) != 2 || strings.Contains(string(uploaded[0].Payload), "mri report") {
		t.Errorf("%d document.uploaded events, want one per record", len(uploaded))
	}
	if h.audited("document.download") == 0 || h.audited("document.list") == 0 {
		t.Error("reads not audited")
	}
}

func testRefusals(t *testing.T, h *harness) {
	id := h.newCase(patientA, "NEUROLOGY", "DRAFT")
	before := len(h.stored())
	for _, tc := range []struct {
		name    string
		content []byte
		status  int
	}{
		{"program.pdf", append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 64)...), http.StatusUnsupportedMediaType},
		{"setup.docx", append([]byte("MZ\x90\x00"), make([]byte, 64)...), http.StatusUnsupportedMediaType},
		{"empty.pdf", nil, http.StatusUnprocessableEntity},
		{"half.dcm", dicomFile(t)[:200], http.StatusUnprocessableEntity},
	} {
		res := h.upload("a", id, "OTHER", tc.name, tc.content)
		if res.status != tc.status || res.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want %d", tc.name, res.status, res.raw, tc.status)
		}
	}
	if res := h.upload("a", id, "HOROSCOPE", "x.pdf", h.pdf()); res.status != 422 {
		t.Errorf("unknown kind: %d %s", res.status, res.raw)
	}
	req, _ := http.NewRequest("POST", h.base+"/api/v1/cases/"+id+"/documents?kind=OTHER", bytes.NewReader(h.pdf()))
	req.Header.Set("Content-Type", "application/pdf")
	if res := h.send(req, "a"); res.status != http.StatusUnsupportedMediaType {
		t.Errorf("a bare body: %d %s", res.status, res.raw)
	}
	if after := h.stored(); len(after) != before {
		t.Errorf("refused files left %v behind", after)
	}
	if items := h.do("a", "GET", "/api/v1/cases/"+id+"/documents").body["items"].([]any); len(items) != 0 {
		t.Errorf("refused files listed: %v", items)
	}
	closed := h.newCase(patientA, "NEUROLOGY", "COMPLETED")
	if res := h.upload("a", closed, "OTHER", "late.pdf", h.pdf()); res.status != http.StatusConflict {
		t.Errorf("upload to a completed case: %d %s", res.status, res.raw)
	}
}

func testLimits(t *testing.T, h *harness) {
	id := h.newCase(patientA, "NEUROLOGY", "DRAFT")
	before := len(h.stored())
	big := append([]byte("plain text\n"), bytes.Repeat([]byte("a"), int(h.cfg.MaxFile))...)
	if res := h.upload("a", id, "OTHER", "big.txt", big); res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a file over the limit: %d %s", res.status, res.raw)
	}
	half := func(c byte) []byte { return bytes.Repeat([]byte{c}, int(h.cfg.MaxFile)-1) }
	for i, c := range []byte("xy") {
		if res := h.upload("a", id, "OTHER", "part.txt", half(c)); res.status != http.StatusCreated {
			t.Fatalf("file %d within the limits: %d %s", i, res.status, res.raw)
		}
	}
	if res := h.upload("a", id, "OTHER", "third.txt", half('z')); res.status != http.StatusRequestEntityTooLarge ||
		res.body["title"] != "Case full" {
		t.Errorf("a file over the case's limit: %d %s", res.status, res.raw)
	}
	if after := h.stored(); len(after) != before+2 {
		t.Errorf("stored %d files for 2 records: %v", len(after)-before, after)
	}
}

func testAccess(t *testing.T, h *harness) {
	id := h.newCase(patientA, "NEUROLOGY", "DRAFT")
	doc := h.upload("a", id, "OTHER", "a.pdf", h.pdf()).body["id"].(string)
	for _, token := range []string{"b", "pro"} {
		for _, path := range []string{"/api/v1/cases/" + id + "/documents", "/api/v1/records/" + doc, "/api/v1/records/" + doc + "/content"} {
			if res := h.do(token, "GET", path); res.status != http.StatusNotFound {
				t.Errorf("%s reads %s: %d", token, path, res.status)
			}
		}
	}
	if res := h.upload("b", id, "OTHER", "b.pdf", h.pdf()); res.status != http.StatusNotFound {
		t.Errorf("another patient uploads: %d", res.status)
	}
	for _, token := range []string{"pro", "admin", ""} {
		want := http.StatusForbidden
		if token == "" {
			want = http.StatusUnauthorized
		}
		if res := h.upload(token, id, "OTHER", "x.pdf", h.pdf()); res.status != want {
			t.Errorf("%q uploads: %d, want %d", token, res.status, want)
		}
	}
	if res := h.do("admin", "GET", "/api/v1/records/"+doc+"/content"); res.status != 200 {
		t.Errorf("admin reads: %d", res.status)
	}
	if res := h.do("b", "DELETE", "/api/v1/records/"+doc); res.status != http.StatusNotFound {
		t.Errorf("another patient deletes: %d", res.status)
	}
}

func testProfessional(t *testing.T, h *harness) {
	id := h.newCase(patientA, "NEUROLOGY", "DRAFT")
	scan := h.upload("a", id, "IMAGING", "Doe Jane head.dcm", dicomFile(t))
	if scan.status != http.StatusCreated || scan.body["fileType"] != "DICOM" {
		t.Fatalf("dicom upload: %d %s", scan.status, scan.raw)
	}
	report := h.upload("a", id, "IMAGING_REPORT", "report.pdf", h.pdf())
	h.setStatus(id, "ASSIGNED")
	h.assign(id, proID)
	if res := h.do("pro2", "GET", "/api/v1/records/"+scan.body["id"].(string)+"/content"); res.status != http.StatusNotFound {
		t.Errorf("a professional not assigned reads: %d", res.status)
	}
	list := h.do("pro", "GET", "/api/v1/cases/"+id+"/documents")
	if list.status != 200 || strings.Contains(string(list.raw), "Doe Jane") || strings.Contains(string(list.raw), "fileName") {
		t.Errorf("the professional's list shows file names: %s", list.raw)
	}
	got := h.do("pro", "GET", "/api/v1/records/"+scan.body["id"].(string)+"/content")
	if got.status != 200 {
		t.Fatalf("professional download: %d %s", got.status, got.raw)
	}
	for _, identifying := range []string{"Doe^Jane", "PID123", "19800101", "Doe Jane"} {
		if bytes.Contains(got.raw, []byte(identifying)) || strings.Contains(got.header.Get("Content-Disposition"), identifying) {
			t.Errorf("the professional's copy holds %q", identifying)
		}
	}
	if _, err := dicom.ReadMetadata(bytes.NewReader(got.raw)); err != nil {
		t.Errorf("the de-identified copy does not read: %v", err)
	}
	again := h.do("pro", "GET", "/api/v1/records/"+scan.body["id"].(string)+"/content")
	if !bytes.Equal(again.raw, got.raw) {
		t.Error("two downloads of the de-identified copy differ")
	}
	if owner := h.do("a", "GET", "/api/v1/records/"+scan.body["id"].(string)+"/content"); !bytes.Equal(owner.raw, dicomFile(t)) {
		t.Error("the owner does not get the original")
	}
	if pdf := h.do("pro", "GET", "/api/v1/records/"+report.body["id"].(string)+"/content"); pdf.status != 200 ||
		!bytes.HasPrefix(pdf.raw, []byte("%PDF")) {
		t.Errorf("professional reads the report: %d", pdf.status)
	}
	h.assign(id, "")
	if res := h.do("pro", "GET", "/api/v1/records/"+report.body["id"].(string)+"/content"); res.status != http.StatusNotFound {
		t.Errorf("a professional whose assignment ended reads: %d", res.status)
	}
}

func testRanges(t *testing.T, h *harness) {
	id := h.newCase(patientA, "NEUROLOGY", "DRAFT")
	content := []byte(strings.Repeat("0123456789abcdef", 6000)) // two segments
	doc := h.upload("a", id, "LAB_RESULTS", "labs.txt", content).body["id"].(string)
	for _, tc := range []struct {
		rng      string
		from, to int
	}{{"bytes=0-9", 0, 10}, {"bytes=65530-65545", 65530, 65546}, {"bytes=-5", len(content) - 5, len(content)}, {"bytes=63990-", 63990, len(content)}} {
		req, _ := http.NewRequest("GET", h.base+"/api/v1/records/"+doc+"/content", nil)
		req.Header.Set("Range", tc.rng)
		res := h.send(req, "a")
		if res.status != http.StatusPartialContent || !bytes.Equal(res.raw, content[tc.from:tc.to]) {
			t.Errorf("%s: %d %q", tc.rng, res.status, res.raw)
		}
	}
	req, _ := http.NewRequest("GET", h.base+"/api/v1/records/"+doc+"/content", nil)
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", len(content)+10))
	if res := h.send(req, "a"); res.status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("a range past the end: %d", res.status)
	}
}

func testDelete(t *testing.T, h *harness) {
	id := h.newCase(patientA, "NEUROLOGY", "DRAFT")
	before := len(h.stored())
	doc := h.upload("a", id, "OTHER", "gone.pdf", h.pdf()).body["id"].(string)
	if res := h.do("a", "DELETE", "/api/v1/records/"+doc); res.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.status, res.raw)
	}
	if res := h.do("a", "GET", "/api/v1/records/"+doc); res.status != http.StatusNotFound {
		t.Errorf("deleted record reads: %d", res.status)
	}
	if after := h.stored(); len(after) != before {
		t.Errorf("deletion left %v", after)
	}
	deleted := 0
	for _, e := range h.outbox("document.deleted") {
		if e.AggregateID == id {
			deleted++
		}
	}
	if deleted != 1 {
		t.Errorf("%d document.deleted events", deleted)
	}
	kept := h.upload("a", id, "OTHER", "kept.pdf", h.pdf()).body["id"].(string)
	h.setStatus(id, "SUBMITTED")
	if res := h.do("a", "DELETE", "/api/v1/records/"+kept); res.status != http.StatusConflict {
		t.Errorf("delete from a submitted case: %d", res.status)
	}
}

func testChecklist(t *testing.T, h *harness) {
	id := h.newCase(patientA, "ONCOLOGY", "DRAFT")
	h.upload("a", id, "IMAGING_REPORT", "ct.pdf", h.pdf())
	res := h.do("a", "GET", "/api/v1/cases/"+id+"/checklist")
	if res.status != 200 || fmt.Sprint(res.body["missing"]) != "[PATHOLOGY_REPORT TREATMENT_HISTORY]" || res.body["complete"] != false {
		t.Errorf("checklist: %d %s", res.status, res.raw)
	}
	missing, err := (&rpcServer{s: h.svc}).Checklist(context.Background(),
		connect.NewRequest(&patientv1.ChecklistRequest{CaseId: id, Specialty: "ONCOLOGY"}))
	if err != nil || fmt.Sprint(missing.Msg.Missing) != "[PATHOLOGY_REPORT TREATMENT_HISTORY]" {
		t.Errorf("RecordsService.Checklist: %v %v", missing, err)
	}
	if res := h.do("b", "GET", "/api/v1/cases/"+id+"/checklist"); res.status != http.StatusNotFound {
		t.Errorf("another patient's checklist: %d", res.status)
	}
}

func testEncryptedAtRest(t *testing.T, h *harness) {
	id := h.newCase(patientB, "NEUROLOGY", "DRAFT")
	secret := []byte("Patient: Jane Doe, diagnosis: glioma grade II — plain text only the patient may read\n")
	res := h.upload("b", id, "OTHER", "notes.txt", secret)
	if res.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", res.status, res.raw)
	}
	var found bool
	err := filepath.WalkDir(filepath.Join(h.dir, Name), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(path, patientB) {
			found = true
		}
		if bytes.Contains(b, []byte("Jane Doe")) || bytes.Contains(b, []byte("glioma")) {
			t.Errorf("%s holds the record in plain text", path)
		}
		return nil
	})
	if err != nil || !found {
		t.Fatalf("no blob of the patient found: %v", err)
	}
}

// tusRequest is a tus protocol request.
func (h *harness) tusRequest(method, path string, body io.Reader, header map[string]string) *http.Request {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

func (h *harness) createUpload(token, caseID, kind, name string, size int) response {
	h.t.Helper()
	meta := "caseId " + b64(caseID) + ",kind " + b64(kind) + ",filename " + b64(name)
	return h.send(h.tusRequest("POST", "/api/v1/uploads", nil, map[string]string{"Upload-Length": fmt.Sprint(size),
		"Upload-Metadata": meta}), token)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// brokenReader gives n bytes of b, then fails like a dropped connection.
type brokenReader struct {
	b []byte
	n int
}

func (r *brokenReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("connection dropped")
	}
	k := copy(p, r.b[:min(len(r.b), r.n, len(p))])
	r.b, r.n = r.b[k:], r.n-k
	return k, nil
}

func testResumable(t *testing.T, h *harness) {
	id := h.newCase(patientA, "NEUROLOGY", "DRAFT")
	content := []byte(strings.Repeat("resumable upload of a long report\n", 2500))
	created := h.createUpload("a", id, "TREATMENT_HISTORY", "history.txt", len(content))
	loc := created.header.Get("Location")
	if created.status != http.StatusCreated || !strings.Contains(loc, "/api/v1/uploads/") {
		t.Fatalf("create: %d %s %v", created.status, created.raw, created.header)
	}
	path := loc[strings.Index(loc, "/api/v1/uploads/"):]
	// The first PATCH breaks off part way.
	req := h.tusRequest("PATCH", path, &brokenReader{b: content, n: 30000},
		map[string]string{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream", "Authorization": "Bearer a"})
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	var offset int
	deadline := time.Now().Add(5 * time.Second)
	for {
		head := h.send(h.tusRequest("HEAD", path, nil, nil), "a")
		offset, _ = strconv.Atoi(head.header.Get("Upload-Offset"))
		if head.status != 200 {
			t.Fatalf("head: %d %v", head.status, head.header)
		}
		if offset > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if offset <= 0 || offset > 30000 {
		t.Fatalf("offset after the break: %d", offset)
	}
	if res := h.send(h.tusRequest("HEAD", path, nil, nil), "b"); res.status != http.StatusNotFound {
		t.Errorf("another patient sees the upload: %d", res.status)
	}
	if res := h.send(h.tusRequest("PATCH", path, bytes.NewReader(content[offset:]), map[string]string{
		"Upload-Offset": fmt.Sprint(offset), "Content-Type": "application/offset+octet-stream"}), "b"); res.status != http.StatusNotFound {
		t.Errorf("another patient appends: %d", res.status)
	}
	done := h.send(h.tusRequest("PATCH", path, bytes.NewReader(content[offset:]), map[string]string{
		"Upload-Offset": fmt.Sprint(offset), "Content-Type": "application/offset+octet-stream"}), "a")
	record := done.header.Get("Upload-Record")
	if done.status != http.StatusNoContent || record == "" {
		t.Fatalf("completing patch: %d %s %v", done.status, done.raw, done.header)
	}
	if got := h.do("a", "GET", record+"/content"); !bytes.Equal(got.raw, content) {
		t.Errorf("resumed upload reads back %d bytes, want %d", len(got.raw), len(content))
	}
	if entries, _ := os.ReadDir(filepath.Join(h.dir, Name, "uploads")); len(entries) != 0 {
		t.Errorf("finished upload left %d files", len(entries))
	}
	// A refused file is answered on its last PATCH, and nothing stays.
	elf := append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 100)...)
	bad := h.createUpload("a", id, "OTHER", "x.pdf", len(elf))
	badPath := bad.header.Get("Location")
	badPath = badPath[strings.Index(badPath, "/api/v1/uploads/"):]
	res := h.send(h.tusRequest("PATCH", badPath, bytes.NewReader(elf), map[string]string{
		"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}), "a")
	if res.status != http.StatusUnsupportedMediaType || res.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("refused tus upload: %d %s", res.status, res.raw)
	}
	if entries, _ := os.ReadDir(filepath.Join(h.dir, Name, "uploads")); len(entries) != 0 {
		t.Errorf("refused upload left %d files", len(entries))
	}
	for _, tc := range []struct {
		token, caseID, kind string
		want                int
	}{
		{"b", id, "OTHER", http.StatusNotFound},
		{"a", id, "HOROSCOPE", http.StatusUnprocessableEntity},
		{"a", h.newCase(patientA, "NEUROLOGY", "CANCELLED"), "OTHER", http.StatusConflict},
		{"pro", id, "OTHER", http.StatusForbidden},
	} {
		if res := h.createUpload(tc.token, tc.caseID, tc.kind, "f.txt", 10); res.status != tc.want {
			t.Errorf("create by %s of %s: %d %s, want %d", tc.token, tc.kind, res.status, res.raw, tc.want)
		}
	}
	if res := h.createUpload("a", id, "OTHER", "huge.dcm", int(h.cfg.MaxFile)+1); res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("an upload over the limit: %d %s", res.status, res.raw)
	}
	// An abandoned upload expires.
	old := h.createUpload("a", id, "OTHER", "old.txt", 10)
	if old.status != http.StatusCreated {
		t.Fatalf("create: %d", old.status)
	}
	h.svc.cfg.Now = func() time.Time { return time.Now().Add(h.svc.cfg.UploadExpiry + time.Minute) }
	defer func() { h.svc.cfg.Now = time.Now }()
	h.svc.expireUploads(context.Background())
	if entries, _ := os.ReadDir(filepath.Join(h.dir, Name, "uploads")); len(entries) != 0 {
		t.Errorf("expired upload left %d files", len(entries))
	}
}

// tusd's own refusals are problem documents with tusd's status.
func TestTusRefusalsAreProblems(t *testing.T) {
	h := newHarness(t, testkit.OpenDB(t, sqldb.SQLite, Name), Config{})
	id := h.newCase(patientA, "NEUROLOGY", "DRAFT")
	created := h.createUpload("a", id, "OTHER", "notes.txt", 10)
	loc := created.header.Get("Location")
	path := loc[strings.Index(loc, "/api/v1/uploads/"):]
	for _, tc := range []struct {
		req  *http.Request
		want int
	}{
		{h.tusRequest("PATCH", path, strings.NewReader("hello"), map[string]string{"Upload-Offset": "3",
			"Content-Type": "application/offset+octet-stream"}), http.StatusConflict},
		{h.tusRequest("PATCH", path, strings.NewReader("hello"), map[string]string{"Upload-Offset": "0",
			"Content-Type": "text/plain"}), http.StatusBadRequest},
		{h.tusRequest("POST", "/api/v1/uploads", nil, map[string]string{"Tus-Resumable": "0.2.2", "Upload-Length": "5"}), http.StatusPreconditionFailed},
	} {
		res := h.send(tc.req, "a")
		if res.status != tc.want || res.header.Get("Content-Type") != "application/problem+json" || res.body["status"] != float64(tc.want) {
			t.Errorf("%s %s: %d %s %s, want a %d problem", tc.req.Method, tc.req.URL.Path, res.status, res.header.Get("Content-Type"), res.raw, tc.want)
		}
	}
}
