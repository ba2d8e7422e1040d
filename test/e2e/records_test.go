package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/app/apptest"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/test/journey"
)

// TestRecords walks a patient's records through the gateway: uploads of a
// PDF, a PNG and a DICOM study (resumed after an interruption, over tus),
// the checklist before and after, the submission, the claim, and the
// professional's downloads — the DICOM study de-identified, as dcmdump
// reads it — and the patient's export and erasure of it all.
func TestRecords(t *testing.T) {
	if _, err := exec.LookPath("dcmdump"); err != nil {
		t.Fatal("dcmdump (Debian dcmtk) is needed to check the de-identified study: apt-get install dcmtk")
	}
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir(), "REGION": "EU", "SHUTDOWN_TIMEOUT": "20s",
				"ADMIN_EMAIL": adminEmail, "ADMIN_PASSWORD": adminPassword}
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = apptest.Database(t)
			}
			recordsJourney(t, boot(t, env))
		})
	}
}

func recordsJourney(t *testing.T, p *platform) {
	j := p.j
	patient := j.RegisterPatient(t)
	c := j.OpenCase(t, patient, false)
	missing := func() string {
		m := j.Do(t, patient.Token, "GET", "/api/v1/cases/"+c.ID+"/checklist", nil).Want(t, http.StatusOK)
		return fmt.Sprint(m["missing"])
	}
	if got := missing(); got != "[IMAGING_REPORT]" {
		t.Fatalf("a new NEUROLOGY case misses %s", got)
	}
	refused := j.Do(t, patient.Token, "POST", "/api/v1/cases/"+c.ID+"/submit", nil)
	if refused.Status != http.StatusConflict || !strings.Contains(string(refused.Body), "IMAGING_REPORT") {
		t.Fatalf("submission of an incomplete case: %d %s", refused.Status, refused.Body)
	}

	// A report of a few MiB, large enough for part of it to arrive before
	// the connection drops.
	pdf := []byte("%PDF-1.4\n" + strings.Repeat("% scanned page data\n", 200_000) +
		"1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
	report := p.resumable(t, patient.Token, c.ID, "IMAGING_REPORT", "Jane Doe MRI report.pdf", pdf, true)
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	p.upload(t, patient.Token, c.ID, "OTHER", "photo.png", img.Bytes())
	study, err := os.ReadFile(filepath.Join("..", "..", "internal", "kit", "dicom", "testdata", "one.explicit.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	scan := p.upload(t, patient.Token, c.ID, "IMAGING", "head.dcm", study)
	if got := missing(); got != "[]" {
		t.Fatalf("the case still misses %s", got)
	}
	j.Submit(t, patient, c, nil)

	admin := j.Login(t, adminEmail, adminPassword)
	pro := j.RegisterProfessional(t)
	j.Credential(t, admin, pro, "SENIOR")
	j.Claim(t, pro, c)
	list := j.Do(t, pro.Token, "GET", "/api/v1/cases/"+c.ID+"/documents", nil).Want(t, http.StatusOK)
	if items, _ := list["items"].([]any); len(items) != 3 || strings.Contains(fmt.Sprint(list), "Jane Doe") {
		t.Errorf("the professional's list: %v", list)
	}
	copy := p.download(t, pro.Token, scan)
	path := filepath.Join(t.TempDir(), "deidentified.dcm")
	if err := os.WriteFile(path, copy, 0o600); err != nil {
		t.Fatal(err)
	}
	dump, err := exec.Command("dcmdump", "+L", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dcmdump of the professional's copy: %v\n%s", err, dump)
	}
	for _, identifying := range []string{"Doe^Jane", "PID123", "19800101"} {
		if strings.Contains(string(dump), identifying) {
			t.Errorf("the professional's copy holds %s:\n%s", identifying, dump)
		}
	}
	if !strings.Contains(string(dump), "PatientIdentityRemoved") {
		t.Errorf("the copy does not say it is de-identified:\n%s", dump)
	}
	if got := p.download(t, pro.Token, report); !bytes.Equal(got, pdf) {
		t.Error("the professional's PDF differs from the upload")
	}
	if got := p.download(t, patient.Token, scan); !bytes.Equal(got, study) {
		t.Error("the patient's study differs from the upload")
	}
	journey.Eventually(t, "the professional's download in the patient's access log", func() (bool, string) {
		log := j.Do(t, patient.Token, "GET", "/api/v1/patients/"+patient.ID+"/access-log?limit=100", nil)
		return strings.Contains(string(log.Body), "document.download") && strings.Contains(string(log.Body), pro.ID), string(log.Body)
	})

	// The patient exports everything (GDPR Art. 20), then erases it all
	// (Art. 17): no store, blob or mail keeps a name, an address or a byte.
	files, _ := p.export(t, patient.Token, patient.ID)
	holdsOriginals(t, files, pdf, img.Bytes(), study)
	p.erase(t, patient, []string{patient.Email, "Jane Doe MRI report.pdf", "photo.png", "head.dcm"}, c.ID, report, scan)
	p.stop()
	p.searchFiles(t, patient.ID, patient.Email, nil, patient.Email, "Doe^Jane", "PID123", "% scanned page data")
}

// upload sends content as a record of case caseID and returns its id.
func (p *platform) upload(t *testing.T, token, caseID, kind, name string, content []byte) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(content)
	mw.Close()
	req, err := http.NewRequest("POST", p.base+"/api/v1/cases/"+caseID+"/documents?kind="+kind, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res := p.send(t, req, token, http.StatusCreated)
	var doc struct{ ID string }
	if err := json.Unmarshal(res, &doc); err != nil || doc.ID == "" {
		t.Fatalf("upload of %s: %s", name, res)
	}
	return doc.ID
}

// resumable uploads content over tus, the first attempt cut off a third
// of the way when cut, and returns the record's id.
func (p *platform) resumable(t *testing.T, token, caseID, kind, name string, content []byte, cut bool) string {
	t.Helper()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	create, _ := http.NewRequest("POST", p.base+"/api/v1/uploads", nil)
	create.Header.Set("Tus-Resumable", "1.0.0")
	create.Header.Set("Upload-Length", strconv.Itoa(len(content)))
	create.Header.Set("Upload-Metadata", "caseId "+b64(caseID)+",kind "+b64(kind)+",filename "+b64(name))
	create.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(create)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	i := strings.Index(loc, "/api/v1/uploads/")
	if res.StatusCode != http.StatusCreated || i < 0 {
		t.Fatalf("create upload: %d %q", res.StatusCode, loc)
	}
	url := p.base + loc[i:]
	patch := func(offset int, body io.Reader) *http.Request {
		req, _ := http.NewRequest("PATCH", url, body)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", strconv.Itoa(offset))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.Header.Set("Authorization", "Bearer "+token)
		return req
	}
	var offset int
	third := len(content) / 3
	if cut {
		if res, err := http.DefaultClient.Do(patch(0, io.MultiReader(bytes.NewReader(content[:third]), failing{}))); err == nil {
			res.Body.Close()
		}
	}
	journey.Eventually(t, "the first third kept", func() (bool, string) {
		head, _ := http.NewRequest("HEAD", url, nil)
		head.Header.Set("Tus-Resumable", "1.0.0")
		head.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(head)
		if err != nil {
			return false, err.Error()
		}
		res.Body.Close()
		offset, _ = strconv.Atoi(res.Header.Get("Upload-Offset"))
		return res.StatusCode == http.StatusOK && (offset > 0 || !cut) && offset <= third, fmt.Sprint(res.StatusCode, " offset ", offset)
	})
	res, err = http.DefaultClient.Do(patch(offset, bytes.NewReader(content[offset:])))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	record := res.Header.Get("Upload-Record")
	if res.StatusCode != http.StatusNoContent || record == "" {
		t.Fatalf("resumed upload: %d %q", res.StatusCode, record)
	}
	return strings.TrimPrefix(record, "/api/v1/records/")
}

// failing breaks a request body off, as a dropped connection does.
type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// download reads a record's content as token's holder.
func (p *platform) download(t *testing.T, token, id string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", p.base+"/api/v1/records/"+id+"/content", nil)
	return p.send(t, req, token, http.StatusOK)
}

func (p *platform) send(t *testing.T, req *http.Request, token string, want int) []byte {
	t.Helper()
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", req.Method, req.URL.Path, res.StatusCode, body, want)
	}
	return body
}
