package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/test/journey"
)

// TestRights walks a patient's rights over their data through the
// gateway: a patient with a case, a record, an approved opinion and a
// follow-up question exports everything (GDPR Art. 20), then erases
// themself (Art. 17) — after which no store of any service, no file under
// DATA_DIR and no mail holds anything personal of theirs, while another
// patient's data is untouched and the audit chain still verifies.
func TestRights(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			rightsJourney(t, boot(t, engineEnv(t, e, nil)))
		})
	}
}

// hypatia is the patient whose data the journey exports and erases:
// every value of hers is unusual enough to be searched for.
type hypatia struct {
	journey.Account
	first, last, phone string
	marker             string // in her question, her follow-up and her record
	fileName           string
}

func registerHypatia(t *testing.T, j journey.Platform) hypatia {
	t.Helper()
	h := hypatia{first: "Hypatiaxq", last: "Theonidaxq", phone: "+302101234567", marker: "mk" + uuid.NewString()[:13],
		fileName: "hypatia-mri-report.pdf"}
	h.Email, h.Password = "hypatia."+uuid.NewString()[:8]+"@example.org", journey.Password
	m := j.Do(t, "", http.MethodPost, "/api/v1/patients", map[string]any{"firstName": h.first, "lastName": h.last,
		"dateOfBirth": "1970-03-08", "email": h.Email, "phone": h.phone, "password": h.Password}).Want(t, http.StatusCreated)
	h.ID = journey.Str(t, m, "id")
	h.Token = j.Login(t, h.Email, h.Password)
	for _, purpose := range []string{"AI_PROCESSING", "SHARE_WITH_PROFESSIONALS"} {
		j.Grant(t, h.Account, purpose)
	}
	return h
}

// personal is what must be gone everywhere after her erasure; her name
// too, but from the invoice of her payment (keptNames).
func (h hypatia) personal() []string {
	return []string{h.Email, h.phone, h.marker, h.fileName}
}

func (h hypatia) names() []string { return []string{h.first, h.last} }

// keptNames are the tables that keep an erased patient's name, by law
// (docs/retention.md): nothing else of her.
var keptNames = map[string]string{
	"invoicing.invoices": "an invoice names its buyer, and tax law keeps it as issued",
}

func rightsJourney(t *testing.T, p *platform) {
	j := p.j
	h := registerHypatia(t, j)
	bob := j.RegisterPatient(t)
	bobCase := j.OpenCase(t, bob, false)
	bobRecord := p.upload(t, bob.Token, bobCase.ID, "IMAGING_REPORT", "bob.txt", []byte("Bob's report\n"))

	m := j.Do(t, h.Token, http.MethodPost, "/api/v1/cases", map[string]any{"customerId": h.ID, "specialty": "NEUROLOGY",
		"title": "Seizures", "question": "Is surgery right for " + h.marker + "?"}).Want(t, http.StatusCreated)
	c := journey.Case{ID: journey.Str(t, m, "id"), Number: journey.Str(t, m, "caseNumber")}
	pdf := []byte("%PDF-1.4\n% " + h.marker + "\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
	record := p.upload(t, h.Token, c.ID, "IMAGING_REPORT", h.fileName, pdf)
	notes := p.upload(t, h.Token, c.ID, "OTHER", "notes.txt", []byte("Seen for "+h.marker+". No evidence of malignancy.\n"))
	j.Submit(t, h.Account, c, nil)
	admin := j.Login(t, adminEmail, adminPassword)
	pro := j.RegisterProfessional(t)
	j.Credential(t, admin, pro, "SENIOR")
	j.Claim(t, pro, c)
	p.download(t, pro.Token, record)
	// The records' analysis, which the professional reads and she does not.
	j.Do(t, admin, http.MethodPost, "/api/v1/documents/analyze", map[string]string{"documentId": notes}).Want(t, http.StatusOK)
	if a := j.Do(t, pro.Token, http.MethodGet, "/api/v1/documents/analysis/"+notes, nil); a.Status != http.StatusOK ||
		!strings.Contains(string(a.Body), `"text":"malignancy"`) || !strings.Contains(string(a.Body), `"negated":true`) {
		t.Errorf("the professional's read of the analysis: %d %s", a.Status, a.Body)
	}
	j.Do(t, h.Token, http.MethodGet, "/api/v1/documents/analysis/"+notes, nil).Want(t, http.StatusForbidden)
	if _, status := j.WriteOpinion(t, pro, c); status != "APPROVED" {
		t.Fatalf("the senior's opinion is %s", status)
	}
	j.Do(t, h.Token, http.MethodPost, "/api/v1/cases/"+c.ID+"/opinion/questions",
		map[string]string{"question": "May " + h.marker + " drive?"}).Want(t, http.StatusCreated)
	journey.Eventually(t, "the professional's download in her access log", func() (bool, string) {
		log := j.Do(t, h.Token, http.MethodGet, "/api/v1/patients/"+h.ID+"/access-log?limit=100", nil)
		return strings.Contains(string(log.Body), "document.download"), string(log.Body)
	})

	exportJourney(t, p, h, c, record, pdf, bob.ID)

	if !p.holdsFileOf(t, h.ID) {
		t.Fatal("no file under DATA_DIR is named by her id: the search after her erasure would prove nothing")
	}
	p.erase(t, h.Account, h.personal(), c.ID, record, notes)
	journey.Eventually(t, "her name nowhere but on her invoice", func() (bool, string) {
		found := slices.DeleteFunc(p.searchStores(t, h.names()), func(f string) bool {
			table, _, _ := strings.Cut(f, ":")
			_, kept := keptNames[table]
			return kept
		})
		return len(found) == 0, strings.Join(found, "; ")
	})
	journey.Eventually(t, "her login, case, record and opinion gone", func() (bool, string) {
		var left []string
		if r := j.Do(t, "", http.MethodPost, "/api/v1/auth/login", map[string]string{"email": h.Email, "password": h.Password}); r.Status != http.StatusUnauthorized {
			left = append(left, fmt.Sprintf("login %d", r.Status))
		}
		for _, path := range []string{"/api/v1/patients/" + h.ID, "/api/v1/cases/" + c.ID, "/api/v1/records/" + record,
			"/api/v1/cases/" + c.ID + "/opinion", "/api/v1/cases/" + c.ID + "/documents"} {
			if r := j.Do(t, admin, http.MethodGet, path, nil); r.Status != http.StatusNotFound {
				left = append(left, fmt.Sprintf("%s %d", path, r.Status))
			}
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
	if got := j.Do(t, admin, http.MethodGet, "/api/v1/audit/verify", nil).Want(t, http.StatusOK); got["ok"] != true {
		t.Errorf("the audit chain after the erasure: %v", got)
	}
	// Bob is untouched.
	j.Do(t, bob.Token, http.MethodGet, "/api/v1/cases/"+bobCase.ID, nil).Want(t, http.StatusOK)
	if got := p.download(t, bob.Token, bobRecord); string(got) != "Bob's report\n" {
		t.Errorf("Bob's record after her erasure: %q", got)
	}
	j.Login(t, bob.Email, bob.Password)

	p.stop()
	p.searchFiles(t, h.ID, h.Email, nil, h.personal()...)
	var stores []string // on SQLite, the stores of keptNames' tables
	for table := range keptNames {
		target, _, _ := strings.Cut(table, ".")
		stores = append(stores, target+".db", target+".db-wal")
	}
	p.searchFiles(t, h.ID, h.Email, stores, h.names()...)
}

// exportJourney reads her bundle: every service's part, her record byte
// for byte, the opinion's report, the access log; nothing of Bob's.
func exportJourney(t *testing.T, p *platform, h hypatia, c journey.Case, record string, pdf []byte, bob string) {
	t.Helper()
	files, names := p.export(t, h.Token, h.ID)
	for name, b := range files {
		if bytes.Contains(b, []byte(bob)) {
			t.Errorf("%s names another patient", name)
		}
	}
	for name, want := range map[string][]string{
		"patient-identity/profile.json":  {h.ID, h.first, h.Email},
		"patient-consent/consents.json":  {"AI_PROCESSING", "SHARE_WITH_PROFESSIONALS"},
		"case-management/cases.json":     {c.ID, c.Number, h.marker},
		"medical-records/documents.json": {record, h.fileName},
		"medical-opinion/opinions.json":  {c.ID, "May " + h.marker + " drive?"},
		"audit/access-log.json":          {"document.download"},
	} {
		b, ok := files[name]
		if !ok {
			t.Errorf("the bundle has no %s: %v", name, names)
			continue
		}
		for _, s := range want {
			if !bytes.Contains(b, []byte(s)) {
				t.Errorf("%s lacks %q: %s", name, s, b)
			}
		}
	}
	holdsOriginals(t, files, pdf)
	if report := files["medical-opinion/reports/"+c.Number+".pdf"]; !bytes.HasPrefix(report, []byte("%PDF-")) {
		t.Errorf("the bundle holds no opinion report: %v", names)
	}
}

// keptIDs are the tables beyond the outbox, the inbox and the tombstones
// that keep the bare id of an erased case by design (docs/retention.md).
var keptIDs = map[string]string{
	"case-assignment.assignments": "a professional's record of the work they did, for their pay",
}

// export reads patient id's bundle as token: its files by name, and the
// names in the archive's order.
func (p *platform) export(t *testing.T, token, id string) (map[string][]byte, []string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.base+"/api/v1/patients/"+id+"/export", nil)
	raw := p.send(t, req, token, http.StatusOK)
	z, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("the export is no ZIP: %v", err)
	}
	files := map[string][]byte{}
	var names []string
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		files[f.Name], names = b, append(names, f.Name)
	}
	return files, names
}

// holdsOriginals checks that the bundle's documents folder holds each of
// originals byte for byte.
func holdsOriginals(t *testing.T, files map[string][]byte, originals ...[]byte) {
	t.Helper()
	for i, want := range originals {
		found := false
		for name, b := range files {
			found = found || strings.HasPrefix(name, "medical-records/documents/") && bytes.Equal(b, want)
		}
		if !found {
			t.Errorf("the bundle holds no copy of upload %d as uploaded: %v", i, slices.Sorted(maps.Keys(files)))
		}
	}
}

// erase erases patient with their password, and waits until no store
// holds personal or ids outside what is kept by design.
func (p *platform) erase(t *testing.T, patient journey.Account, personal []string, ids ...string) {
	t.Helper()
	p.j.Do(t, patient.Token, http.MethodDelete, "/api/v1/patients/"+patient.ID, map[string]string{"password": "not the password"}).
		Want(t, http.StatusForbidden)
	p.j.Do(t, patient.Token, http.MethodDelete, "/api/v1/patients/"+patient.ID, map[string]string{"password": patient.Password}).
		Want(t, http.StatusAccepted)
	// Every service carries the erasure out on its own, shortly after.
	journey.Eventually(t, "nothing of the patient in any store", func() (bool, string) {
		found := p.searchStores(t, personal, append(ids, patient.ID)...)
		return len(found) == 0, strings.Join(found, "; ")
	})
}

// searchStores lists where any store of any service still holds her
// personal data, or her ids outside what is kept by design: the outbox and
// inbox (events carry ids only, until their retention ends), the
// tombstones (erased_*) that keep a late event from bringing her back, and
// keptIDs (docs/retention.md).
func (p *platform) searchStores(t *testing.T, personal []string, ids ...string) []string {
	t.Helper()
	targets, err := app.Resolve([]string{app.All})
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, tg := range targets {
		if tg.Migrate == nil {
			continue
		}
		db, err := app.OpenStore(context.Background(), p.cfg, tg.Name)
		if err != nil {
			t.Fatal(err)
		}
		for table, n := range testkit.Search(t, db, personal...) {
			found = append(found, fmt.Sprintf("%s.%s: %d rows with her data", tg.Name, table, n))
		}
		for table, n := range testkit.Search(t, db, ids...) {
			if _, kept := keptIDs[tg.Name+"."+table]; !kept && table != "outbox" && table != "inbox" && !strings.HasPrefix(table, "erased_") {
				found = append(found, fmt.Sprintf("%s.%s: %d rows with her ids", tg.Name, table, n))
			}
		}
		db.Close()
	}
	slices.Sort(found)
	return found
}

// holdsFileOf tells whether a file under DATA_DIR is named by id.
func (p *platform) holdsFileOf(t *testing.T, id string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(p.dataDir, func(path string, _ fs.DirEntry, err error) error {
		found = found || strings.Contains(path, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// searchFiles looks through every file under DATA_DIR, the platform
// stopped: no file named by the patient's id (their blobs), no mail to
// email, and none of personal in any byte of any file — the blobs, the
// mailbox and, on SQLite, the stores, whose secure_delete overwrites what
// is deleted — but the files named in keeping, which keep personal by law.
func (p *platform) searchFiles(t *testing.T, id, email string, keeping []string, personal ...string) {
	t.Helper()
	err := filepath.WalkDir(p.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(path, id) {
			t.Errorf("a file under DATA_DIR is named by the erased patient's id: %s", path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".eml") && bytes.Contains(bytes.ToLower(b), []byte(strings.ToLower(email))) {
			t.Errorf("a mail to the erased patient is kept: %s", path)
		}
		for _, s := range personal {
			if bytes.Contains(b, []byte(s)) && !slices.Contains(keeping, filepath.Base(path)) {
				t.Errorf("%s holds %q", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
