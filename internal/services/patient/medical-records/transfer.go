package medicalrecords

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/crypt"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/domain"
)

// idle bounds the pause between two reads of an upload's body or two
// writes of a download: a slow link is served, a stalled one cut off.
const idle = 30 * time.Second

// serveUpload takes one file from a multipart/form-data body into a case.
func (s *Service) serveUpload(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	who := authn.FromContext(ctx)
	w = httpapi.Idle(w, r, idle)
	c, reader, err := s.caseOf(ctx, who, r.PathValue("id"), "records.upload")
	if err != nil {
		return err
	}
	if reader != domain.Owner || who.Role != authn.RolePatient {
		return fault.NotFound("case")
	}
	if err := domain.MayUpload(c); err != nil {
		return err
	}
	kind := vocab.DocumentKind(r.URL.Query().Get("kind"))
	if !kind.Valid() {
		return fault.Invalid("query.kind", "must be one of %s", strings.Join(kind.Values(), ", "))
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return &fault.Error{Kind: fault.KindUnsupported, Title: "Unsupported request type",
			Detail: "send the file as multipart/form-data, in a part named file"}
	}
	parts, err := r.MultipartReader()
	if err != nil {
		return fault.Invalid("body", "a multipart/form-data body with a boundary")
	}
	var u *upload
	var sp *spooler
	defer func() {
		if sp != nil {
			sp.discard()
		}
	}()
	for {
		part, err := parts.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bodyFault(ctx, err)
		}
		if part.FormName() != "file" || u != nil {
			return fault.Invalid("body", "one part, named file, holding the record")
		}
		if sp, err = s.newSpooler(); err != nil {
			return err
		}
		if _, err := io.Copy(sp, part); err != nil {
			return bodyFault(ctx, err)
		}
		if err := sp.flush(); err != nil {
			return err
		}
		u = &upload{kind: kind, name: fileName(part.FileName()), file: sp.file, size: sp.size, sum: sp.sum()}
	}
	if u == nil {
		return fault.Invalid("body", "one part, named file, holding the record")
	}
	d, created, err := s.accept(ctx, c, *u)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", "/api/v1/records/"+d.ID)
	writeJSON(w, status, view(d, true))
	return nil
}

// bodyFault is the fault of a request body that could not be read: over a
// limit, cut off, or not the multipart it claimed to be.
func bodyFault(ctx context.Context, err error) error {
	if _, ok := fault.As(err); ok {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("read upload: %w", ctx.Err())
	}
	return fault.Invalid("body", "the multipart body is malformed or ended early")
}

// serveContent answers a record's content, whole or in the ranges asked
// for (http.ServeContent), decrypting only the segments it sends.
func (s *Service) serveContent(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	who := authn.FromContext(ctx)
	w = httpapi.Idle(w, r, idle)
	d, _, reader, err := s.record(ctx, who, r.PathValue("id"), "records.download")
	if err != nil {
		return err
	}
	c, err := s.contentFor(ctx, d, reader)
	if err != nil {
		return err
	}
	plain, err := crypt.PlainSize(c.size)
	if err != nil {
		return fmt.Errorf("record %s: %w", d.ID, err)
	}
	if err := s.audit(ctx, who, "document.download", "document", d.ID, d.PatientID); err != nil {
		return err
	}
	body := &plainText{key: c.key, cipher: c.size, size: plain, fetch: s.fetch(ctx, c.blobKey)}
	defer body.Close()
	name := "record-" + d.ID + extensions[d.FileType]
	if reader == domain.Owner && d.FileName != "" {
		name = d.FileName
	}
	h := w.Header()
	h.Set("Content-Type", d.MediaType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	if reader == domain.Owner {
		h.Set("ETag", `"`+d.SHA256+`"`)
	}
	http.ServeContent(w, r, "", d.CreatedAt, body)
	if body.err != nil {
		s.Log.WarnContext(ctx, "record content failed mid-answer", "documentId", d.ID, "err", body.err)
	}
	return nil
}

// extensions name a download when its reader may not see the file name.
var extensions = map[vocab.FileType]string{vocab.FilePDF: ".pdf", vocab.FilePNG: ".png", vocab.FileJPEG: ".jpg",
	vocab.FileTIFF: ".tif", vocab.FileDICOM: ".dcm", vocab.FileText: ".txt", vocab.FileDOCX: ".docx"}

// plainText is the plaintext of an encrypted blob as an io.ReadSeeker for
// http.ServeContent: a seek only moves the position, and the next read
// decrypts from there.
type plainText struct {
	key          []byte
	cipher, size int64
	fetch        crypt.Fetch
	pos          int64
	rc           io.ReadCloser
	err          error // the first failure, which ServeContent cannot report
}

func (p *plainText) Read(b []byte) (int, error) {
	if p.pos >= p.size {
		return 0, io.EOF
	}
	if p.rc == nil {
		rc, err := crypt.NewReader(p.key, p.cipher, p.fetch, p.pos, -1)
		if err != nil {
			p.err = err
			return 0, err
		}
		p.rc = rc
	}
	n, err := p.rc.Read(b)
	p.pos += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && p.err == nil {
		p.err = err
	}
	return n, err
}

func (p *plainText) Seek(off int64, whence int) (int64, error) {
	pos := off
	switch whence {
	case io.SeekCurrent:
		pos += p.pos
	case io.SeekEnd:
		pos += p.size
	}
	if pos < 0 {
		return p.pos, errors.New("seek before the start")
	}
	if pos != p.pos {
		p.Close()
		p.pos = pos
	}
	return pos, nil
}

func (p *plainText) Close() error {
	if p.rc == nil {
		return nil
	}
	err := p.rc.Close()
	p.rc = nil
	return err
}
