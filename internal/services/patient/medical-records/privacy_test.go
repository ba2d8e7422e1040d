package medicalrecords

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	contracts "github.com/secondopinion/platform/api/events"
	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/store"
)

// erasedEvent is patient-identity's patient.erased of patient.
func erasedEvent(t testing.TB, patient string) bus.Event {
	t.Helper()
	e, err := contracts.PatientErasedV1.New(contracts.PatientIdentity, patient,
		contracts.PatientErased{PatientID: patient, Timestamp: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// deliver hands e to the service's consumer as the bus would, and says
// what became of it in the inbox: done, or retry when the handler failed.
func (h *harness) deliver(e bus.Event) string {
	h.t.Helper()
	if err := h.svc.Consume(context.Background(), e); err != nil {
		h.t.Fatal(err)
	}
	var status string
	if err := h.db.QueryRowContext(context.Background(), `SELECT status FROM inbox WHERE consumer = $1 AND event_id = $2`,
		Name, e.ID).Scan(&status); err != nil {
		h.t.Fatal(err)
	}
	return status
}

// count is the single number query answers.
func (h *harness) count(query string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// held is what the store and the bucket hold of patient: data keys,
// documents and blobs.
type held struct{ keys, docs, blobs int }

func (h *harness) heldOf(patient string) held {
	h.t.Helper()
	blobs, err := h.svc.bucket.Keys(context.Background(), blobPrefix(patient))
	if err != nil {
		h.t.Fatal(err)
	}
	return held{keys: h.count(`SELECT count(*) FROM patient_keys WHERE patient_id = $1`, patient),
		docs:  h.count(`SELECT count(*) FROM documents WHERE patient_id = $1`, patient),
		blobs: len(blobs)}
}

// rememberRequest stores an Idempotency-Key record made by caller, as the
// platform middleware would.
func (h *harness) rememberRequest(caller string) {
	h.t.Helper()
	now := time.Now().UTC()
	if _, err := h.db.ExecContext(context.Background(), `INSERT INTO idempotency_keys
		(key, fingerprint, token, owner, state, held_until, expires_at, status, header, body)
		VALUES ($1, 'f', 't', 'o', 'done', $2, $3, 201, '{}', $4)`,
		"idem:"+Name+":POST:"+caller+":"+uuid.NewString(), now, now.Add(time.Hour), []byte(`{"fileName":"x.pdf"}`)); err != nil {
		h.t.Fatal(err)
	}
}

// startUpload creates a resumable upload of content by token and sends
// its first half; it returns the upload's path.
func (h *harness) startUpload(token, caseID string, content []byte) string {
	h.t.Helper()
	created := h.createUpload(token, caseID, "OTHER", "notes.txt", len(content))
	if created.status != http.StatusCreated {
		h.t.Fatalf("create upload: %d %s", created.status, created.raw)
	}
	loc := created.header.Get("Location")
	path := loc[strings.Index(loc, "/api/v1/uploads/"):]
	half := len(content) / 2
	if res := h.send(h.tusRequest("PATCH", path, bytes.NewReader(content[:half]), map[string]string{
		"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}), token); res.status != http.StatusNoContent {
		h.t.Fatalf("first half: %d %s", res.status, res.raw)
	}
	return path
}

// uploadFiles lists the uploads folder.
func (h *harness) uploadFiles() []string {
	h.t.Helper()
	entries, err := os.ReadDir(filepath.Join(h.dir, Name, "uploads"))
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestErasure(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		// Patient A: a report in one case, a DICOM scan in another, which
		// the case's professional has read (a de-identified copy), an
		// upload under way. Patient B: a record and an upload too.
		draft, scanned := h.newCase(patientA, "NEUROLOGY", "DRAFT"), h.newCase(patientA, "NEUROLOGY", "DRAFT")
		report := h.upload("a", draft, "IMAGING_REPORT", "report Jane Doe.pdf", h.pdf())
		scan := h.upload("a", scanned, "IMAGING", "head.dcm", dicomFile(t))
		if report.status != http.StatusCreated || scan.status != http.StatusCreated {
			t.Fatalf("uploads: %d %d", report.status, scan.status)
		}
		h.setStatus(scanned, "ASSIGNED")
		h.assign(scanned, proID)
		if res := h.do("pro", "GET", "/api/v1/records/"+scan.body["id"].(string)+"/content"); res.status != 200 {
			t.Fatalf("professional's read: %d", res.status)
		}
		content := []byte(strings.Repeat("a long letter, sent slowly\n", 100))
		inFlight := h.startUpload("a", draft, content)
		otherCase := h.newCase(patientB, "NEUROLOGY", "DRAFT")
		kept := h.pdf()
		other := h.upload("b", otherCase, "OTHER", "b.pdf", kept)
		h.startUpload("b", otherCase, content)
		h.rememberRequest(patientA)
		h.rememberRequest(patientB)
		if got := h.heldOf(patientA); got != (held{keys: 1, docs: 2, blobs: 3}) {
			t.Fatalf("before the erasure A holds %+v", got)
		}
		if n := len(h.uploadFiles()); n != 4 {
			t.Fatalf("%d upload files, want 2 uploads of 2 files", n)
		}
		before := h.heldOf(patientB)

		if status := h.deliver(erasedEvent(t, patientA)); status != "done" {
			t.Fatalf("erasure: %s", status)
		}
		if got := h.heldOf(patientA); got != (held{}) {
			t.Errorf("after the erasure A holds %+v", got)
		}
		for _, f := range h.stored() {
			if strings.Contains(f, patientA) {
				t.Errorf("%s left behind", f)
			}
		}
		if files := h.uploadFiles(); len(files) != 2 {
			t.Errorf("upload files %v, want B's 2 only", files)
		}
		if n := h.count(`SELECT count(*) FROM idempotency_keys WHERE key LIKE $1`, "%"+patientA+"%"); n != 0 {
			t.Errorf("%d Idempotency-Key records of A kept", n)
		}
		if res := h.do("a", "GET", "/api/v1/records/"+report.body["id"].(string)); res.status != http.StatusNotFound {
			t.Errorf("an erased record reads: %d", res.status)
		}
		if res := h.do("a", "GET", "/api/v1/cases/"+draft+"/documents"); strings.Contains(string(res.raw), "Jane Doe") {
			t.Errorf("an erased record is listed: %s", res.raw)
		}
		// The upload under way is refused when it goes on.
		if res := h.send(h.tusRequest("PATCH", inFlight, bytes.NewReader(content[len(content)/2:]), map[string]string{
			"Upload-Offset": fmt.Sprint(len(content) / 2), "Content-Type": "application/offset+octet-stream"}), "a"); res.status != http.StatusNotFound {
			t.Errorf("the rest of an erased patient's upload: %d %s", res.status, res.raw)
		}
		// So is any upload after it, even to a case case-management still
		// knows: no key is made for the patient again, nothing is kept.
		if res := h.upload("a", draft, "OTHER", "late.pdf", h.pdf()); res.status != http.StatusNotFound {
			t.Errorf("upload after the erasure: %d %s", res.status, res.raw)
		}
		if res := h.createUpload("a", draft, "OTHER", "late.txt", 10); res.status != http.StatusNotFound {
			t.Errorf("resumable upload after the erasure: %d %s", res.status, res.raw)
		}
		if got := h.heldOf(patientA); got != (held{}) {
			t.Errorf("uploads after the erasure left %+v", got)
		}

		// B is untouched.
		if got := h.heldOf(patientB); got != before {
			t.Errorf("B holds %+v, held %+v", got, before)
		}
		if got := h.do("b", "GET", "/api/v1/records/"+other.body["id"].(string)+"/content"); !bytes.Equal(got.raw, kept) {
			t.Errorf("B's record reads %d %q", got.status, got.raw)
		}
		if n := h.count(`SELECT count(*) FROM idempotency_keys WHERE key LIKE $1`, "%"+patientB+"%"); n != 1 {
			t.Errorf("%d Idempotency-Key records of B, want 1", n)
		}

		// A second erasure (an admin's, or one replayed from the dead
		// letters) finds nothing to do, and does no harm.
		if status := h.deliver(erasedEvent(t, patientA)); status != "done" {
			t.Errorf("second erasure: %s", status)
		}
		if got := h.heldOf(patientB); got != before || len(h.uploadFiles()) != 2 {
			t.Errorf("a second erasure touched B: %+v", got)
		}
		if n := h.count(`SELECT count(*) FROM erased_patients`); n != 1 {
			t.Errorf("%d patients recorded as erased, want 1", n)
		}
		bad, err := contracts.PatientErasedV1.New(contracts.PatientIdentity, "x", contracts.PatientErased{PatientID: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if status := h.deliver(bad); status != "retry" {
			t.Errorf("an erasure naming no patient: %s", status)
		}
	})
}

var errCrash = errors.New("the process died before the commit")

// An erasure that fails or dies before its commit leaves no data readable
// that its retry does not erase, and the retry finishes the job.
func TestErasureRetried(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		caseID := h.newCase(patientA, "NEUROLOGY", "DRAFT")
		for range 2 {
			if res := h.upload("a", caseID, "OTHER", "r.pdf", h.pdf()); res.status != http.StatusCreated {
				t.Fatalf("upload: %d %s", res.status, res.raw)
			}
		}
		ctx := context.Background()

		// An upload's files that cannot be removed (its data file is a
		// folder with something in it) fail the erasure: it rolls back,
		// and the inbox keeps it for a retry.
		stuck := filepath.Join(h.dir, Name, "uploads", "stuck")
		info, _ := json.Marshal(map[string]any{"ID": "stuck", "MetaData": map[string]string{metaPatient: patientA}})
		if err := os.MkdirAll(filepath.Join(stuck, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(stuck+".info", info, 0o600); err != nil {
			t.Fatal(err)
		}
		if status := h.deliver(erasedEvent(t, patientA)); status != "retry" {
			t.Fatalf("a failing erasure: %s", status)
		}
		if got := h.heldOf(patientA); got != (held{keys: 1, docs: 2, blobs: 2}) {
			t.Errorf("a failed erasure left %+v, want everything as it was", got)
		}
		if err := os.RemoveAll(stuck); err != nil {
			t.Fatal(err)
		}

		// It dies after deleting the files, before its commit: the blobs
		// are gone, the key and the rows are back as they were.
		err := h.db.InTx(ctx, func(tx *sql.Tx) error {
			if err := h.svc.onPatientErased(ctx, tx, erasedEvent(t, patientA), contracts.PatientErased{PatientID: patientA}); err != nil {
				return err
			}
			return errCrash
		})
		if !errors.Is(err, errCrash) {
			t.Fatalf("the attempt: %v", err)
		}
		if got := h.heldOf(patientA); got != (held{keys: 1, docs: 2}) {
			t.Errorf("after the attempt that died: %+v, want the key and rows", got)
		}
		if _, err := os.Stat(stuck + ".info"); !os.IsNotExist(err) {
			t.Errorf("the patient's upload information was left: %v", err)
		}

		// The retry (a later attempt of the same handler) finishes it.
		err = h.db.InTx(ctx, func(tx *sql.Tx) error {
			return h.svc.onPatientErased(ctx, tx, erasedEvent(t, patientA), contracts.PatientErased{PatientID: patientA})
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := h.heldOf(patientA); got != (held{}) {
			t.Errorf("after the retry: %+v", got)
		}
	})
}

// A key or a record of a patient added while their erasure is under way
// waits for it, and is refused: none is kept after the erasure.
func TestErasureRefusesWhatComesDuringIt(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		ctx := context.Background()
		patient := uuid.NewString()
		erasing, release, erased := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			erased <- h.db.InTx(ctx, func(tx *sql.Tx) error {
				if err := h.svc.erase(ctx, tx, patient); err != nil {
					return err
				}
				close(erasing)
				<-release
				return nil
			})
		}()
		<-erasing
		// Each addition says whether it ended before the erasure was let
		// go: one that did not wait for it.
		type added struct {
			err   error
			early bool
		}
		var released atomic.Bool
		keyAdded, docAdded := make(chan added, 1), make(chan added, 1)
		go func() {
			_, err := h.svc.store.AddKey(ctx, patient, []byte("wrapped"), time.Now())
			keyAdded <- added{err, !released.Load()}
		}()
		go func() {
			err := h.db.InTx(ctx, func(tx *sql.Tx) error {
				return h.svc.store.Add(ctx, tx, store.Document{ID: uuid.NewString(), CaseID: uuid.NewString(), PatientID: patient,
					Kind: "OTHER", FileType: "PDF", MediaType: "application/pdf", Size: 1, SHA256: "00", BlobKey: "k", CreatedAt: time.Now()})
			})
			docAdded <- added{err, !released.Load()}
		}()
		time.Sleep(300 * time.Millisecond) // long enough for an addition that does not wait
		released.Store(true)
		close(release)
		if err := <-erased; err != nil {
			t.Fatal(err)
		}
		for what, result := range map[string]chan added{"key": keyAdded, "record": docAdded} {
			got := <-result
			if got.early {
				t.Errorf("a %s was added during the erasure without waiting for it: %v", what, got.err)
			}
			if !errors.Is(got.err, store.ErrErased) {
				t.Errorf("a %s added during the erasure: %v, want ErrErased", what, got.err)
			}
		}
		if got := h.heldOf(patient); got != (held{}) {
			t.Errorf("after the erasure: %+v", got)
		}
	})
}

// bearer is an HTTP client presenting token on every call; "" is
// anonymous.
func bearer(c *http.Client, token string) *http.Client {
	if token == "" {
		return c
	}
	return rpc.WithIdentity(c, func(context.Context) (string, time.Time, error) {
		return token, time.Now().Add(time.Hour), nil
	})
}

// exported is what Export streamed: the files by path, in order, and the
// largest chunk.
type exported struct {
	files    map[string][]byte
	order    []string
	maxChunk int
}

func (h *harness) export(token, patient string) (exported, error) {
	h.t.Helper()
	mem := rpc.NewInProcess(httpapi.Wrap(h.svc.Handler(), httpapi.Options{Service: Name, Verifier: tokens}))
	defer mem.Close()
	c := patientv1connect.NewPatientDataServiceClient(bearer(mem.Client(), token), rpc.BaseURL, rpc.ClientOptions()...)
	stream, err := c.Export(context.Background(), connect.NewRequest(&patientv1.ExportRequest{PatientId: patient}))
	if err != nil {
		return exported{}, err
	}
	defer stream.Close()
	out := exported{files: map[string][]byte{}}
	current := ""
	for stream.Receive() {
		m := stream.Msg()
		if m.Path != "" {
			current = m.Path
			out.order = append(out.order, current)
		}
		if current == "" {
			h.t.Fatal("a chunk continues no file")
		}
		out.files[current] = append(out.files[current], m.Data...)
		out.maxChunk = max(out.maxChunk, len(m.Data))
	}
	return out, stream.Err()
}

func TestExport(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		// A's records in two cases: a report, a text of several chunks
		// under a name no file system takes as it is, a DICOM scan the
		// professional has read (its de-identified copy is not A's
		// original) and a record sent without a file name.
		first, second := h.newCase(patientA, "NEUROLOGY", "DRAFT"), h.newCase(patientA, "RADIOLOGY", "DRAFT")
		long := []byte(strings.Repeat("results of the year, line after line\n", 20000))
		sent := map[string][]byte{}
		var ids []string
		for _, u := range []struct {
			caseID, kind, name string
			content            []byte
		}{
			{first, "IMAGING_REPORT", "MRI report.pdf", h.pdf()},
			{first, "LAB_RESULTS", `labs: 2024|"all"*?.txt`, long},
			{second, "IMAGING", "head.dcm", dicomFile(t)},
			{second, "OTHER", "", h.pdf()},
		} {
			res := h.upload("a", u.caseID, u.kind, u.name, u.content)
			if res.status != http.StatusCreated {
				t.Fatalf("upload %q: %d %s", u.name, res.status, res.raw)
			}
			ids = append(ids, res.body["id"].(string))
			sent[ids[len(ids)-1]] = u.content
		}
		h.setStatus(second, "ASSIGNED")
		h.assign(second, proID)
		for id := range sent {
			h.do("pro", "GET", "/api/v1/records/"+id+"/content")
		}
		other := h.upload("b", h.newCase(patientB, "NEUROLOGY", "DRAFT"), "OTHER", "b.pdf", h.pdf()).body["id"].(string)

		got, err := h.export("service:patient-identity", patientA)
		if err != nil {
			t.Fatal(err)
		}
		// Oldest first; the names made safe, or the type's extension.
		want := []string{"documents.json", "documents/" + first + "/" + ids[0] + "-MRI report.pdf",
			"documents/" + first + "/" + ids[1] + "-labs_ 2024__all___.txt", "documents/" + second + "/" + ids[2] + "-head.dcm",
			"documents/" + second + "/" + ids[3] + ".pdf"}
		if !slices.Equal(got.order, want) {
			t.Fatalf("exported %q, want %q", got.order, want)
		}
		if got.maxChunk > 256<<10 || len(got.files[got.order[2]]) <= 256<<10 {
			t.Errorf("chunks of up to %d bytes; the long text is %d", got.maxChunk, len(got.files[got.order[2]]))
		}
		var listed []exportedDocument
		if err := json.Unmarshal(got.files["documents.json"], &listed); err != nil {
			t.Fatal(err)
		}
		if len(listed) != len(sent) {
			t.Fatalf("documents.json lists %d records, want %d", len(listed), len(sent))
		}
		for _, d := range listed {
			content, ok := sent[d.ID]
			file := got.files[d.File]
			sum := sha256.Sum256(file)
			if !ok || !bytes.Equal(file, content) || hex.EncodeToString(sum[:]) != d.SHA256 || d.Size != int64(len(content)) ||
				d.UploadedAt.IsZero() || d.CaseID == "" {
				t.Errorf("record %+v: %d bytes exported at %s, %d sent", d, len(file), d.File, len(content))
			}
		}
		if bytes.Contains(got.files["documents.json"], []byte(other)) || bytes.Contains(got.files["documents.json"], []byte(patientB)) {
			t.Error("B's record is in A's export")
		}

		if none, err := h.export("service:patient-identity", uuid.NewString()); err != nil ||
			strings.TrimSpace(string(none.files["documents.json"])) != "[]" || len(none.order) != 1 {
			t.Errorf("a patient without records: %v %v", none.order, err)
		}
		for token, want := range map[string]connect.Code{
			"service:case-management": connect.CodePermissionDenied,
			"a":                       connect.CodePermissionDenied,
			"":                        connect.CodeUnauthenticated,
		} {
			if got, err := h.export(token, patientA); connect.CodeOf(err) != want || len(got.order) != 0 {
				t.Errorf("export by %q: %v, %d files, want %s", token, err, len(got.order), want)
			}
		}
		if _, err := h.export("service:patient-identity", "not-a-uuid"); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("a patient id that is no UUID: %v", err)
		}
	})
}
