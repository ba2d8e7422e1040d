package medicalrecords

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/blob"
	"github.com/secondopinion/platform/internal/kit/crypt"
	"github.com/secondopinion/platform/internal/kit/dicom"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/domain"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/filetype"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/store"
)

// The application functions take the verified caller (who). The coarse
// policy (httpapi.Register) has admitted who's role by then; here who
// reaches a case's records only as domain.ReaderOf allows, and a case or
// record they may not reach is missing to them (404).

// caseOf reads case id for purpose and says how who reads its records.
func (s *Service) caseOf(ctx context.Context, who authn.Principal, id, purpose string) (domain.Case, domain.Reader, error) {
	if _, err := uuid.Parse(id); err != nil {
		return domain.Case{}, domain.Nobody, fault.NotFound("case")
	}
	got, err := s.cases.Case(ctx, id, purpose)
	if err != nil {
		return domain.Case{}, domain.Nobody, err
	}
	c := domain.Case{ID: got.ID, PatientID: got.CustomerID, Status: vocab.CaseStatus(got.Status), Specialty: vocab.Specialty(got.Specialty)}
	assignee := ""
	if who.Role == authn.RoleProfessional {
		a, found, err := s.assignments.Active(ctx, id)
		if err != nil {
			return c, domain.Nobody, err
		}
		if found {
			assignee = a.ProfessionalID
		}
	}
	r := domain.ReaderOf(who, c, assignee)
	if r == domain.Nobody {
		return c, r, fault.NotFound("case")
	}
	return c, r, nil
}

// record reads document id and its case, and says how who reads it.
func (s *Service) record(ctx context.Context, who authn.Principal, id, purpose string) (store.Document, domain.Case, domain.Reader, error) {
	d, err := s.store.Get(ctx, id)
	if err != nil {
		return d, domain.Case{}, domain.Nobody, err
	}
	c, r, err := s.caseOf(ctx, who, d.CaseID, purpose)
	if fault.KindOf(err) == fault.KindNotFound {
		return d, c, r, fault.NotFound("record")
	}
	return d, c, r, err
}

// audit records who's read of health data of patient.
func (s *Service) audit(ctx context.Context, who authn.Principal, action, kind, id, patient string) error {
	e := kitaudit.FromContext(ctx)
	e.Action, e.ResourceType, e.ResourceID, e.PatientID = action, kind, id, patient
	e.Purpose, e.Outcome = authz.Purpose(who), kitaudit.Allowed
	return s.Record(ctx, e)
}

// documents lists case caseID's records for who.
func (s *Service) documents(ctx context.Context, who authn.Principal, caseID string) ([]Document, error) {
	c, r, err := s.caseOf(ctx, who, caseID, "records.list")
	if err != nil {
		return nil, err
	}
	docs, err := s.store.OfCase(ctx, caseID)
	if err != nil {
		return nil, err
	}
	if err := s.audit(ctx, who, "document.list", "case", caseID, c.PatientID); err != nil {
		return nil, err
	}
	out := make([]Document, len(docs))
	for i, d := range docs {
		out[i] = view(d, r == domain.Owner)
	}
	return out, nil
}

// document reads one record's details for who.
func (s *Service) document(ctx context.Context, who authn.Principal, id string) (Document, error) {
	d, _, r, err := s.record(ctx, who, id, "records.read")
	if err != nil {
		return Document{}, err
	}
	if err := s.audit(ctx, who, "document.read", "document", d.ID, d.PatientID); err != nil {
		return Document{}, err
	}
	return view(d, r == domain.Owner), nil
}

// checklistOf compares case caseID's records with its specialty's
// checklist.
func (s *Service) checklistOf(ctx context.Context, who authn.Principal, caseID string) (Checklist, error) {
	c, _, err := s.caseOf(ctx, who, caseID, "records.checklist")
	if err != nil {
		return Checklist{}, err
	}
	required, present, missing, err := s.completeness(ctx, caseID, c.Specialty)
	if err != nil {
		return Checklist{}, err
	}
	return Checklist{CaseID: caseID, Required: required, Present: present, Missing: missing, Complete: len(missing) == 0}, nil
}

// completeness is what the checklist of specialty requires of case
// caseID, the kinds its records are, and what is missing.
func (s *Service) completeness(ctx context.Context, caseID string, specialty vocab.Specialty) (required, present, missing []vocab.DocumentKind, err error) {
	docs, err := s.store.OfCase(ctx, caseID)
	if err != nil {
		return nil, nil, nil, err
	}
	present = []vocab.DocumentKind{}
	for _, d := range docs {
		if !slices.Contains(present, d.Kind) {
			present = append(present, d.Kind)
		}
	}
	required = append([]vocab.DocumentKind{}, s.cfg.Checklist[specialty]...)
	missing = append([]vocab.DocumentKind{}, s.cfg.Checklist.Missing(specialty, present)...)
	return required, present, missing, nil
}

// upload is a file on its way into a case, spooled to a private file
// while it was hashed.
type upload struct {
	kind vocab.DocumentKind
	name string
	file *os.File
	size int64
	sum  string
}

// spooler copies a file into the spool folder, counting and hashing it,
// and refuses it beyond the file size limit.
type spooler struct {
	file *os.File
	// buf gathers multipart's 4 KiB reads into fewer writes.
	buf  *bufio.Writer
	hash hash.Hash
	size int64
	max  int64
}

func (s *Service) newSpooler() (*spooler, error) {
	f, err := os.CreateTemp(s.spool, "upload-*")
	if err != nil {
		return nil, fmt.Errorf("spool an upload: %w", err)
	}
	return &spooler{file: f, buf: bufio.NewWriterSize(f, 256<<10), hash: sha256.New(), max: s.limits.FileBytes}, nil
}

// flush writes out what the spool holds back: call it before reading the
// file.
func (sp *spooler) flush() error {
	if err := sp.buf.Flush(); err != nil {
		return fmt.Errorf("spool an upload: %w", err)
	}
	return nil
}

func (sp *spooler) Write(p []byte) (int, error) {
	if sp.size+int64(len(p)) > sp.max {
		return 0, &fault.Error{Kind: fault.KindTooLarge, Title: "File too large",
			Detail: fmt.Sprintf("a file may be at most %d bytes", sp.max)}
	}
	n, err := sp.buf.Write(p)
	sp.hash.Write(p[:n])
	sp.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("spool an upload: %w", err)
	}
	return n, nil
}

// discard removes the spooled file: nothing of an upload stays behind.
func (sp *spooler) discard() {
	sp.file.Close()
	os.Remove(sp.file.Name())
}

func (sp *spooler) sum() string { return hex.EncodeToString(sp.hash.Sum(nil)) }

// fileName keeps the base of the name a client gave a file, if it is
// printable text of a sensible length; else the record goes without one.
func fileName(raw string) string {
	name := path.Base(strings.ReplaceAll(raw, `\`, "/"))
	if name == "." || name == "/" || !utf8.ValidString(name) || len(name) > 255 {
		return ""
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return ""
		}
	}
	return name
}

// accept checks the spooled upload u, stores it encrypted for case c and
// records it, or answers the case's record of the same content. created
// is false for that record. Nothing of a refused upload is kept.
func (s *Service) accept(ctx context.Context, c domain.Case, u upload) (store.Document, bool, error) {
	if !u.kind.Valid() {
		return store.Document{}, false, fault.Invalid("query.kind", "must be one of %s", strings.Join(u.kind.Values(), ", "))
	}
	if d, found, err := s.store.BySHA256(ctx, c.ID, u.sum); err != nil || found {
		return d, false, err
	}
	docs, err := s.store.OfCase(ctx, c.ID)
	if err != nil {
		return store.Document{}, false, err
	}
	var held int64
	for _, d := range docs {
		held += d.Size
	}
	if err := s.limits.CheckSize(u.size, held); err != nil {
		return store.Document{}, false, err
	}
	ft, err := filetype.Detect(u.file, u.size, filetype.Limits{})
	if err != nil {
		return store.Document{}, false, err
	}
	key, err := s.dataKey(ctx, c.PatientID)
	if err != nil {
		return store.Document{}, false, err
	}
	id := uuid.Must(uuid.NewV7()).String()
	d := store.Document{ID: id, CaseID: c.ID, PatientID: c.PatientID, Kind: u.kind, FileType: vocab.FileType(ft.Name),
		MediaType: ft.MediaType, FileName: u.name, Size: u.size, SHA256: u.sum,
		BlobKey: blobPrefix(c.PatientID) + "documents/" + id, CreatedAt: s.cfg.Now().UTC()}
	err = s.bucket.Put(ctx, d.BlobKey, func(w io.Writer) error {
		enc, err := crypt.NewWriter(w, key)
		if err != nil {
			return err
		}
		if _, err := io.Copy(enc, io.NewSectionReader(u.file, 0, u.size)); err != nil {
			return err
		}
		return enc.Close()
	})
	if err != nil {
		return store.Document{}, false, fmt.Errorf("store record of case %s: %w", c.ID, err)
	}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.store.Add(ctx, tx, d); err != nil {
			return err
		}
		e, err := documentEvent(d, false, d.CreatedAt)
		if err != nil {
			return err
		}
		return outbox.Add(ctx, tx, e)
	})
	if err != nil {
		// The blob goes: a refused or lost record leaves nothing behind.
		if derr := s.bucket.Delete(context.WithoutCancel(ctx), d.BlobKey); derr != nil {
			s.Log.WarnContext(ctx, "record blob left behind", "documentId", d.ID, "err", derr)
		}
		if errors.Is(err, store.ErrErased) {
			// Erased while the upload was under way.
			return store.Document{}, false, fault.NotFound("case")
		}
		if errors.Is(err, store.ErrDuplicate) {
			// The same content came in concurrently: one record.
			prev, found, ferr := s.store.BySHA256(ctx, c.ID, u.sum)
			if ferr == nil && found {
				return prev, false, nil
			}
		}
		return store.Document{}, false, fmt.Errorf("record document of case %s: %w", c.ID, err)
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "record stored", "documentId", d.ID, "caseId", c.ID, "fileType", d.FileType, "size", d.Size)
	return d, true, nil
}

// dataKey is patient's data key, made and kept (wrapped) on their first
// record; an erased patient's case is missing.
func (s *Service) dataKey(ctx context.Context, patient string) ([]byte, error) {
	wrapped, found, err := s.store.Key(ctx, patient)
	if err != nil {
		return nil, err
	}
	if !found {
		key, err := crypt.NewKey()
		if err != nil {
			return nil, err
		}
		if wrapped, err = s.keeper.Wrap(ctx, key); err != nil {
			return nil, fault.Unavailable("the key keeper", err)
		}
		wrapped, err = s.store.AddKey(ctx, patient, wrapped, s.cfg.Now())
		if errors.Is(err, store.ErrErased) {
			return nil, fault.NotFound("case")
		}
		if err != nil {
			return nil, err
		}
	}
	return s.unwrap(ctx, patient, wrapped)
}

// unwrap is patient's data key from its wrapped form.
func (s *Service) unwrap(ctx context.Context, patient string, wrapped []byte) ([]byte, error) {
	key, err := s.keeper.Unwrap(ctx, wrapped)
	if err != nil {
		return nil, fault.Unavailable("the key keeper", fmt.Errorf("unwrap data key of patient %s: %w", patient, err))
	}
	return key, nil
}

// content is what a reader downloads of a record: its blob, the blob's
// size and the data key it is encrypted under.
type content struct {
	blobKey string
	size    int64
	key     []byte
}

// contentFor returns the blob of d that reader r receives: the original,
// or for the case's professional a DICOM file de-identified, made once
// and kept beside the original under the same key.
func (s *Service) contentFor(ctx context.Context, d store.Document, r domain.Reader) (content, error) {
	key, err := s.dataKey(ctx, d.PatientID)
	if err != nil {
		return content{}, err
	}
	size, err := s.bucket.Size(ctx, d.BlobKey)
	if err != nil {
		return content{}, fmt.Errorf("record %s: %w", d.ID, err)
	}
	if r == domain.Owner || d.FileType != vocab.FileDICOM {
		return content{blobKey: d.BlobKey, size: size, key: key}, nil
	}
	deid := d.BlobKey + ".deidentified"
	switch deidSize, err := s.bucket.Size(ctx, deid); {
	case err == nil:
		return content{blobKey: deid, size: deidSize, key: key}, nil
	case !errors.Is(err, blob.ErrNotFound):
		return content{}, fmt.Errorf("de-identified copy of %s: %w", d.ID, err)
	}
	err = s.bucket.Put(ctx, deid, func(w io.Writer) error {
		src, err := crypt.NewReader(key, size, s.fetch(ctx, d.BlobKey), 0, -1)
		if err != nil {
			return err
		}
		defer src.Close()
		enc, err := crypt.NewWriter(w, key)
		if err != nil {
			return err
		}
		if _, err := dicom.Deidentify(enc, src, dicom.Options{UIDKey: uidKey(key, d.CaseID)}); err != nil {
			return err
		}
		return enc.Close()
	})
	if err != nil {
		return content{}, fmt.Errorf("de-identify record %s: %w", d.ID, err)
	}
	if size, err = s.bucket.Size(ctx, deid); err != nil {
		return content{}, fmt.Errorf("de-identified copy of %s: %w", d.ID, err)
	}
	return content{blobKey: deid, size: size, key: key}, nil
}

// uidKey is the secret a case's DICOM UIDs are remapped under: one per
// case, so the files of a study keep referring to each other, derived
// from the patient's data key, so that erasing the key forgets it too.
func uidKey(key []byte, caseID string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("dicom-uid-key:" + caseID))
	return m.Sum(nil)
}

// fetch reads ciphertext ranges of blob key.
func (s *Service) fetch(ctx context.Context, key string) crypt.Fetch {
	return func(off, n int64) (io.ReadCloser, error) { return s.bucket.NewRangeReader(ctx, key, off, n) }
}

// delete removes a record of a draft case, by its patient.
func (s *Service) delete(ctx context.Context, who authn.Principal, id string) error {
	d, c, r, err := s.record(ctx, who, id, "records.delete")
	if err != nil {
		return err
	}
	if r != domain.Owner || who.Role != authn.RolePatient {
		return fault.NotFound("record")
	}
	if err := domain.MayDelete(c); err != nil {
		return err
	}
	var found bool
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if found, err = s.store.Delete(ctx, tx, d.ID); err != nil || !found {
			return err
		}
		e, err := documentEvent(d, true, s.cfg.Now().UTC())
		if err != nil {
			return err
		}
		return outbox.Add(ctx, tx, e)
	})
	if err != nil {
		return fmt.Errorf("delete record %s: %w", d.ID, err)
	}
	if !found {
		return fault.NotFound("record")
	}
	s.Relay.Notify()
	for _, key := range []string{d.BlobKey, d.BlobKey + ".deidentified"} {
		if err := s.bucket.Delete(ctx, key); err != nil {
			s.Log.WarnContext(ctx, "deleted record's blob left behind", "documentId", d.ID, "err", err)
		}
	}
	s.Log.InfoContext(ctx, "record deleted", "documentId", d.ID, "caseId", d.CaseID)
	return nil
}
