package medicalrecords

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/export"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/store"
)

// exportedDocument is a record as documents.json lists it in the
// patient's bundle.
type exportedDocument struct {
	ID         string             `json:"id"`
	CaseID     string             `json:"caseId"`
	Kind       vocab.DocumentKind `json:"kind"`
	FileType   vocab.FileType     `json:"fileType"`
	MediaType  string             `json:"mediaType"`
	FileName   string             `json:"fileName"` // as the patient named it, "" when it came without one
	Size       int64              `json:"size"`
	SHA256     string             `json:"sha256"`
	UploadedAt time.Time          `json:"uploadedAt"`
	File       string             `json:"file"` // where the original lies in this folder of the bundle
}

// exportRecords writes patient's share of their bundle (GDPR Art. 20):
// documents.json, listing their records across all their cases, then
// each original, decrypted as it streams — never whole in memory.
func (s *Service) exportRecords(ctx context.Context, patient string, w *export.Writer) error {
	docs, err := s.store.OfPatient(ctx, patient)
	if err != nil {
		return err
	}
	list := make([]exportedDocument, len(docs))
	for i, d := range docs {
		list[i] = exportedDocument{ID: d.ID, CaseID: d.CaseID, Kind: d.Kind, FileType: d.FileType, MediaType: d.MediaType,
			FileName: d.FileName, Size: d.Size, SHA256: d.SHA256, UploadedAt: d.CreatedAt, File: bundlePath(d)}
	}
	if err := w.JSON("documents.json", list); err != nil {
		return err
	}
	if len(docs) == 0 {
		return nil
	}
	key, err := s.readKey(ctx, patient)
	if err != nil {
		return fmt.Errorf("export patient %s: %w", patient, err)
	}
	for _, d := range docs {
		if err := s.exportOriginal(ctx, w, key, d); err != nil {
			return err
		}
	}
	return nil
}

// exportOriginal streams record d's original, decrypted with key.
func (s *Service) exportOriginal(ctx context.Context, w *export.Writer, key []byte, d store.Document) error {
	plain, err := s.original(ctx, key, d)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer plain.Close()
	if err := w.Copy(bundlePath(d), plain); err != nil {
		// Copy's error names the path, which holds the patient's file
		// name: only its cause goes on, under the record's id, to the log.
		cause := errors.Unwrap(err)
		if cause == nil {
			cause = errors.New("path refused")
		}
		return fmt.Errorf("export record %s: %w", d.ID, cause)
	}
	return nil
}

// maxBundleName bounds the file name a record keeps in the bundle, in
// bytes: with the id before it, the entry stays within the 255 bytes a
// file system allows a name.
const maxBundleName = 200

// bundlePath is where record d's original lies in the bundle:
// documents/<case>/<id>-<its file name, made safe>, or with the extension
// of its type in place of a name when it came without one.
func bundlePath(d store.Document) string {
	dir := "documents/" + d.CaseID + "/" + d.ID
	if d.FileName == "" {
		return dir + extensions[d.FileType]
	}
	return dir + "-" + safeName(d.FileName)
}

// safeName is a file name any file system and archive tool takes: letters,
// digits, spaces and a few marks kept, an underscore for anything else (a
// separator, a control character, a character Windows refuses), cut to
// maxBundleName bytes keeping its extension.
func safeName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || strings.ContainsRune(" .,-_()+", r) {
			return r
		}
		return '_'
	}, name)
	if len(name) <= maxBundleName {
		return name
	}
	ext := path.Ext(name)
	if len(ext) > 16 {
		ext = ""
	}
	stem := name[:len(name)-len(ext)]
	for len(stem) > maxBundleName-len(ext) {
		_, n := utf8.DecodeLastRuneInString(stem)
		stem = stem[:len(stem)-n]
	}
	return stem + ext
}
