package medicalrecords

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/tus/tusd/v2/pkg/filestore"
	"github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/domain"
)

// Resumable uploads speak the tus protocol (tus.io, v1.0.0) through tusd,
// behind the same authorisation as the multipart upload: the creating
// request names the case, the kind and the file name in Upload-Metadata
// (caseId, kind, filename); the case is checked then, and the upload
// belongs to its patient, whom alone it answers. The bytes land in a
// private folder; the request that completes an upload has it checked,
// encrypted and recorded exactly as a multipart one, and answers with the
// record's id (Upload-Record), or with the problem that refused it. Either
// way the partial file is gone then.
//
// The folder is local: the replicas of a distributed medical-records
// share one only if it is on a shared volume (or the uploads are routed
// to one replica by upload id).

// uploadsPath is where the uploads live; tusd names each by its id below it.
const uploadsPath = "/api/v1/uploads/"

// Metadata keys: what the client names, and what the service adds.
const (
	metaCase     = "caseId"
	metaKind     = "kind"
	metaFilename = "filename"
	metaPatient  = "patientId"
)

// tus is the tus side of the service.
type tus struct {
	dir     string
	store   filestore.FileStore
	handler *handler.UnroutedHandler
}

func (s *Service) newTUS(dir string) (*tus, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("uploads folder: %w", err)
	}
	t := &tus{dir: dir, store: filestore.New(dir)}
	composer := handler.NewStoreComposer()
	t.store.UseIn(composer)
	composer.UseLocker(&uploadLocks{held: map[string]chan struct{}{}})
	h, err := handler.NewUnroutedHandler(handler.Config{
		StoreComposer: composer, BasePath: uploadsPath, MaxSize: s.limits.FileBytes,
		DisableDownload: true, DisableConcatenation: true, RespectForwardedHeaders: true,
		Cors:   &handler.CorsConfig{Disable: true},
		Logger: expslog.New(expslog.NewTextHandler(io.Discard, nil)), // its logs name files and metadata; ours name ids
		PreUploadCreateCallback: func(hook handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
			meta, err := s.beginUpload(hook.Context, hook.Upload)
			if err != nil {
				return handler.HTTPResponse{}, handler.FileInfoChanges{}, tusError(hook.Context, err)
			}
			return handler.HTTPResponse{}, handler.FileInfoChanges{MetaData: meta}, nil
		},
		PreFinishResponseCallback: func(hook handler.HookEvent) (handler.HTTPResponse, error) {
			id, err := s.finishUpload(hook.Context, hook.Upload)
			if err != nil {
				return handler.HTTPResponse{}, tusError(hook.Context, err)
			}
			return handler.HTTPResponse{Header: handler.HTTPHeader{"Upload-Record": "/api/v1/records/" + id}}, nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("tus handler: %w", err)
	}
	t.handler = h
	return t, nil
}

// uploadLocks keeps the requests of one upload from running at once, in
// this process. tusd's memorylocker asks the holder to let go when another
// request comes (a HEAD or a resumed PATCH after a dropped one), and tusd
// 2.9.1 races doing so (the race detector finds it); here the newcomer
// waits for the holder instead, which ends as soon as its dropped body
// fails, or gets 423 Locked after tusd's lock timeout.
type uploadLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed on release
}

func (l *uploadLocks) NewLock(id string) (handler.Lock, error) {
	return &uploadLock{locks: l, id: id}, nil
}

type uploadLock struct {
	locks *uploadLocks
	id    string
}

func (k *uploadLock) Lock(ctx context.Context, _ func()) error {
	for {
		k.locks.mu.Lock()
		released, busy := k.locks.held[k.id]
		if !busy {
			k.locks.held[k.id] = make(chan struct{})
			k.locks.mu.Unlock()
			return nil
		}
		k.locks.mu.Unlock()
		select {
		case <-released:
		case <-ctx.Done():
			return handler.ErrFileLocked
		}
	}
}

func (k *uploadLock) Unlock() error {
	k.locks.mu.Lock()
	released := k.locks.held[k.id]
	delete(k.locks.held, k.id)
	k.locks.mu.Unlock()
	if released != nil {
		close(released)
	}
	return nil
}

// tusError is err as tusd answers it: our problem document.
func tusError(ctx context.Context, err error) error {
	status, header, body := httpapi.RenderProblem(ctx, err)
	h := handler.HTTPHeader{}
	for k := range header {
		h[k] = header.Get(k)
	}
	return handler.Error{ErrorCode: http.StatusText(status), Message: err.Error(),
		HTTPResponse: handler.HTTPResponse{StatusCode: status, Body: string(body), Header: h}}
}

// beginUpload admits the creation of an upload: by the case's patient,
// to a case that takes records, of a kind and a declared length.
func (s *Service) beginUpload(ctx context.Context, info handler.FileInfo) (handler.MetaData, error) {
	who := authn.FromContext(ctx)
	if info.SizeIsDeferred {
		return nil, fault.Invalid("header.Upload-Length", "declare the file's length when creating the upload")
	}
	kind := vocab.DocumentKind(info.MetaData[metaKind])
	if !kind.Valid() {
		return nil, fault.Invalid("header.Upload-Metadata", "kind must be one of the document kinds")
	}
	c, reader, err := s.caseOf(ctx, who, info.MetaData[metaCase], "records.upload")
	if err != nil {
		return nil, err
	}
	if reader != domain.Owner || who.Role != authn.RolePatient {
		return nil, fault.NotFound("case")
	}
	if err := domain.MayUpload(c); err != nil {
		return nil, err
	}
	// An erased patient's upload would be refused when complete: it is
	// not begun, so that no partial file of theirs waits for the sweep.
	erased, err := s.store.Erased(ctx, c.PatientID)
	if err != nil {
		return nil, err
	}
	if erased {
		return nil, fault.NotFound("case")
	}
	return handler.MetaData{metaCase: c.ID, metaKind: string(kind), metaFilename: fileName(info.MetaData[metaFilename]),
		metaPatient: c.PatientID}, nil
}

// finishUpload takes a completed upload into its case, as a multipart
// upload is taken, and removes the partial file whatever the outcome.
func (s *Service) finishUpload(ctx context.Context, info handler.FileInfo) (string, error) {
	defer s.dropUpload(ctx, info.ID)
	who := authn.FromContext(ctx)
	c, reader, err := s.caseOf(ctx, who, info.MetaData[metaCase], "records.upload")
	if err != nil {
		return "", err
	}
	if reader != domain.Owner || c.PatientID != info.MetaData[metaPatient] {
		return "", fault.NotFound("upload")
	}
	if err := domain.MayUpload(c); err != nil {
		return "", err
	}
	f, err := os.Open(info.Storage["Path"])
	if err != nil {
		return "", fmt.Errorf("open upload %s: %w", info.ID, err)
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return "", fmt.Errorf("hash upload %s: %w", info.ID, err)
	}
	d, _, err := s.accept(ctx, c, upload{kind: vocab.DocumentKind(info.MetaData[metaKind]),
		name: info.MetaData[metaFilename], file: f, size: size, sum: hex.EncodeToString(h.Sum(nil))})
	if err != nil {
		return "", err
	}
	return d.ID, nil
}

// dropUpload removes an upload's partial file and its information.
func (s *Service) dropUpload(ctx context.Context, id string) {
	up, err := s.tus.store.GetUpload(ctx, id)
	if err == nil {
		err = s.tus.store.AsTerminatableUpload(up).Terminate(context.WithoutCancel(ctx))
	}
	if err != nil {
		s.Log.WarnContext(ctx, "upload left behind", "uploadId", id, "err", err)
	}
}

// ownUpload lets the requests of upload id through to tusd only from the
// patient who created it; to anyone else it is missing.
func (s *Service) ownUpload(serve func(http.ResponseWriter, *http.Request)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		who := authn.FromContext(r.Context())
		up, err := s.tus.store.GetUpload(r.Context(), r.PathValue("id"))
		if err != nil {
			return fault.NotFound("upload")
		}
		info, err := up.GetInfo(r.Context())
		if err != nil || info.MetaData[metaPatient] == "" || info.MetaData[metaPatient] != who.Subject {
			return fault.NotFound("upload")
		}
		// tusd reads the id from a path without its base.
		tusServe(w, r, http.StripPrefix(uploadsPath, s.tus.handler.Middleware(http.HandlerFunc(serve))))
		return nil
	}
}

// tusServe runs a tusd handler, its own refusals (a missing Tus-Resumable,
// an offset that does not match, a body over the length) answered as
// problem documents like every other refusal of the platform. Ours pass
// through: they are problems already.
func tusServe(w http.ResponseWriter, r *http.Request, h http.Handler) {
	pw := &problemWriter{ResponseWriter: w}
	h.ServeHTTP(pw, r)
	pw.finish()
}

type problemWriter struct {
	http.ResponseWriter
	status int
	text   []byte // tusd's plain-text refusal, held back
}

func (p *problemWriter) WriteHeader(code int) {
	if code >= 400 && !strings.HasPrefix(p.Header().Get("Content-Type"), "application/problem+json") {
		p.status = code
		return
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *problemWriter) Write(b []byte) (int, error) {
	if p.status != 0 {
		if len(p.text) < 1024 {
			p.text = append(p.text, b[:min(len(b), 1024-len(p.text))]...)
		}
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

func (p *problemWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

func (p *problemWriter) finish() {
	if p.status == 0 {
		return
	}
	// tusd's message is "ERR_CODE: text", never file content; its status
	// stays (412 for another protocol version, 409 for a wrong offset).
	h := p.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/problem+json")
	p.ResponseWriter.WriteHeader(p.status)
	_ = json.NewEncoder(p.ResponseWriter).Encode(map[string]any{"title": http.StatusText(p.status), "status": p.status,
		"detail": strings.TrimSpace(string(p.text))})
}

func (s *Service) uploadRoutes(api huma.API) {
	tags := []string{"Medical records"}
	patient := authz.Roles(authn.RolePatient).Owned()
	tusHeaders := []*huma.Param{{Name: "Tus-Resumable", In: "header", Required: true, Description: "1.0.0",
		Schema: &huma.Schema{Type: huma.TypeString, Enum: []any{"1.0.0"}}}}
	idParam := &huma.Param{Name: "id", In: "path", Required: true, Description: "the upload's id", Schema: &huma.Schema{Type: huma.TypeString}}
	offset := map[string]*huma.Header{"Upload-Offset": {Description: "bytes received so far", Schema: &huma.Schema{Type: huma.TypeInteger}}}
	// tusd's own refusals: a malformed request, another protocol version,
	// an offset or length that does not match, an upload busy with another
	// request.
	tusErrors := []int{http.StatusBadRequest, http.StatusConflict, http.StatusPreconditionFailed,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusLocked}
	serve := func(f func(http.ResponseWriter, *http.Request)) func(http.ResponseWriter, *http.Request) error {
		return func(w http.ResponseWriter, r *http.Request) error {
			tusServe(w, r, s.tus.handler.Middleware(http.HandlerFunc(f)))
			return nil
		}
	}
	// The spec is built without a running service (Module.Routes): the
	// handlers reach s.tus only when called.
	httpapi.RegisterStream(api, huma.Operation{OperationID: "create-upload", Method: http.MethodPost,
		Path: "/api/v1/uploads", Summary: "Start a resumable upload to a case (tus creation; its patient)",
		Description: "Upload-Length is required; Upload-Metadata names caseId, kind and filename (base64, as tus " +
			"says). Answers 201 with the upload's Location. Bytes follow in PATCH requests.",
		Tags: tags, Parameters: append(tusHeaders,
			&huma.Param{Name: "Upload-Length", In: "header", Required: true, Schema: &huma.Schema{Type: huma.TypeInteger}},
			&huma.Param{Name: "Upload-Metadata", In: "header", Required: true, Schema: &huma.Schema{Type: huma.TypeString}}),
		Responses: map[string]*huma.Response{"201": {Description: "Created", Headers: map[string]*huma.Header{
			"Location": {Description: "the upload", Schema: &huma.Schema{Type: huma.TypeString}}}}},
		Errors: tusErrors,
	}, patient, serve(func(w http.ResponseWriter, r *http.Request) { s.tus.handler.PostFile(w, r) }))
	httpapi.RegisterStream(api, huma.Operation{OperationID: "get-upload-offset", Method: http.MethodHead,
		Path: "/api/v1/uploads/{id}", Summary: "Where an upload stands (tus; its patient)",
		Description: "Upload-Offset says where to resume.", Tags: tags, Parameters: append(tusHeaders, idParam),
		Responses: map[string]*huma.Response{"200": {Description: "Its offset", Headers: offset}},
		Errors:    tusErrors,
	}, patient, s.ownUpload(func(w http.ResponseWriter, r *http.Request) { s.tus.handler.HeadFile(w, r) }))
	httpapi.RegisterStream(api, huma.Operation{OperationID: "append-upload", Method: http.MethodPatch,
		Path: "/api/v1/uploads/{id}", Summary: "Send more of an upload (tus; its patient)",
		Description: "Content-Type application/offset+octet-stream, from Upload-Offset. The request that completes " +
			"the upload has the file checked and recorded as POST /api/v1/cases/{id}/documents does, and answers " +
			"Upload-Record with the record, or the problem that refused the file.",
		Tags: tags, Parameters: append(tusHeaders, idParam,
			&huma.Param{Name: "Upload-Offset", In: "header", Required: true, Schema: &huma.Schema{Type: huma.TypeInteger}}),
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/offset+octet-stream": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}},
		Responses: map[string]*huma.Response{"204": {Description: "Received", Headers: map[string]*huma.Header{
			"Upload-Offset": offset["Upload-Offset"],
			"Upload-Record": {Description: "the record, once the upload is complete", Schema: &huma.Schema{Type: huma.TypeString}}}}},
		Errors: tusErrors,
	}, patient, s.ownUpload(func(w http.ResponseWriter, r *http.Request) { s.tus.handler.PatchFile(w, r) }))
	httpapi.RegisterStream(api, huma.Operation{OperationID: "cancel-upload", Method: http.MethodDelete,
		Path: "/api/v1/uploads/{id}", Summary: "Abandon an upload (tus termination; its patient)",
		Tags: tags, Parameters: append(tusHeaders, idParam),
		Responses: map[string]*huma.Response{"204": {Description: "Gone"}},
		Errors:    tusErrors,
	}, patient, s.ownUpload(func(w http.ResponseWriter, r *http.Request) { s.tus.handler.DelFile(w, r) }))
}

// sweepUploads removes the uploads nobody added to for cfg.UploadExpiry:
// abandoned on a phone, they would otherwise hold health data in the
// folder for good.
func (s *Service) sweepUploads(ctx context.Context) {
	tick := time.NewTicker(min(s.cfg.UploadExpiry/4, time.Hour))
	defer tick.Stop()
	for {
		s.expireUploads(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *Service) expireUploads(ctx context.Context) {
	entries, err := os.ReadDir(s.tus.dir)
	if err != nil {
		s.Log.WarnContext(ctx, "list uploads", "err", err)
		return
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".info")
		if !ok {
			continue
		}
		// The data file's time is the last byte received.
		fi, err := os.Stat(filepath.Join(s.tus.dir, id))
		if errors.Is(err, fs.ErrNotExist) {
			fi, err = e.Info()
		}
		if err != nil || s.cfg.Now().Sub(fi.ModTime()) < s.cfg.UploadExpiry {
			continue
		}
		s.dropUpload(ctx, id)
		s.Log.InfoContext(ctx, "abandoned upload removed", "uploadId", id)
	}
}

// dropUploadsOf removes patient's unfinished uploads, and says how many:
// those whose information (id.info beside the data file id, as tusd's
// filestore keeps them) names the patient, as beginUpload recorded. It
// reads the information itself, for tusd refuses an upload whose data
// file is gone, and its information would stay.
func (s *Service) dropUploadsOf(ctx context.Context, patient string) (int, error) {
	entries, err := os.ReadDir(s.tus.dir)
	if err != nil {
		return 0, fmt.Errorf("list uploads: %w", err)
	}
	n := 0
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".info")
		if !ok {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(s.tus.dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // finished or expired meanwhile
		}
		if err != nil {
			return n, fmt.Errorf("read upload %s: %w", id, err)
		}
		var info handler.FileInfo
		if err := json.Unmarshal(raw, &info); err != nil {
			// Being created at this instant, or broken: whoever's it is,
			// it cannot be told, and another patient's is not ours to drop.
			s.Log.WarnContext(ctx, "upload information unreadable", "uploadId", id, "err", err)
			continue
		}
		if info.MetaData[metaPatient] != patient {
			continue
		}
		// The data first: the information is how the upload is found.
		for _, name := range []string{id, e.Name()} {
			if err := os.Remove(filepath.Join(s.tus.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return n, fmt.Errorf("remove upload %s: %w", id, err)
			}
		}
		n++
	}
	return n, nil
}
