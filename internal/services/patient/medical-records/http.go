package medicalrecords

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/filetype"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/store"
)

// Document is a record of a case as its reader may see it.
type Document struct {
	ID        string             `json:"id" format:"uuid"`
	CaseID    string             `json:"caseId" format:"uuid"`
	Kind      vocab.DocumentKind `json:"kind"`
	FileType  vocab.FileType     `json:"fileType" doc:"sniffed from the content"`
	MediaType string             `json:"mediaType" doc:"of the content as this caller downloads it"`
	FileName  string             `json:"fileName,omitempty" doc:"as the patient named it; not shown to professionals"`
	Size      int64              `json:"size" doc:"bytes of the original"`
	SHA256    string             `json:"sha256" doc:"of the original"`
	// Deidentified says the content this caller downloads is a
	// de-identified copy (DICOM, for the professional of the case).
	Deidentified bool      `json:"deidentified"`
	CreatedAt    time.Time `json:"createdAt"`
}

// Documents are the records of a case, oldest first.
type Documents struct {
	Items []Document `json:"items"`
}

// Checklist is what a case's specialty needs and what it still lacks.
type Checklist struct {
	CaseID   string               `json:"caseId" format:"uuid"`
	Required []vocab.DocumentKind `json:"required" doc:"the kinds of record the specialty's checklist names"`
	Present  []vocab.DocumentKind `json:"present" doc:"the kinds of the case's records"`
	Missing  []vocab.DocumentKind `json:"missing" doc:"required kinds no record is filed as: submitting the case is refused until they are added, or the patient confirms they have nothing more"`
	Complete bool                 `json:"complete"`
}

type (
	caseInput struct {
		ID string `path:"id" format:"uuid" doc:"the case's id"`
	}
	recordInput struct {
		ID string `path:"id" format:"uuid" doc:"the record's id"`
	}
	documentsOutput struct{ Body Documents }
	documentOutput  struct{ Body Document }
	checklistOutput struct{ Body Checklist }
)

func (s *Service) routes(api huma.API) {
	httpapi.Enum[vocab.DocumentKind](api)
	httpapi.Enum[vocab.FileType](api)
	tags := []string{"Medical records"}
	readers := authz.Roles(authn.RolePatient, authn.RoleProfessional, authn.RoleAdmin).Owned()
	patient := authz.Roles(authn.RolePatient).Owned()
	docSchema := api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[Document](), true, "")
	httpapi.RegisterStream(api, huma.Operation{OperationID: "upload-document", Method: http.MethodPost,
		Path: "/api/v1/cases/{id}/documents", Summary: "Upload a record to a case (its patient)",
		Description: "A multipart/form-data body with one part named `file`. The type is sniffed from the content " +
			"(PDF, PNG, JPEG, TIFF, DICOM Part 10, plain text, DOCX); anything else is 415, a broken file 422, one over " +
			"the size limits 413, and nothing of a refused file is kept. The same content sent again to the case is " +
			"the same record (200). Large files: the resumable tus uploads under /api/v1/uploads/. Publishes document.uploaded.",
		Tags: tags,
		Parameters: []*huma.Param{
			{Name: "id", In: "path", Required: true, Description: "the case's id", Schema: &huma.Schema{Type: huma.TypeString, Format: "uuid"}},
			{Name: "kind", In: "query", Required: true, Description: "what the record is, for the case's checklist",
				Schema: &huma.Schema{Ref: httpapi.SchemaPrefix + "DocumentKind"}},
		},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"multipart/form-data": {Schema: &huma.Schema{Type: huma.TypeObject, Required: []string{"file"},
				Properties: map[string]*huma.Schema{"file": {Type: huma.TypeString, Format: "binary", ContentEncoding: "binary"}}}},
		}},
		Responses: map[string]*huma.Response{
			"201": {Description: "Stored", Content: map[string]*huma.MediaType{"application/json": {Schema: docSchema}}},
			"200": {Description: "The case already holds this content: its record", Content: map[string]*huma.MediaType{"application/json": {Schema: docSchema}}},
		},
		Errors: []int{http.StatusConflict},
	}, patient, s.serveUpload)
	httpapi.Register(api, huma.Operation{OperationID: "list-documents", Method: http.MethodGet,
		Path: "/api/v1/cases/{id}/documents", Summary: "The records of a case (its patient, its professional, an admin)",
		Description: "The professional assigned to the case sees them while the assignment is active, without file names. Audited.",
		Tags:        tags}, readers,
		func(ctx context.Context, in *caseInput) (*documentsOutput, error) {
			docs, err := s.documents(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &documentsOutput{Documents{Items: docs}}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-document-checklist", Method: http.MethodGet,
		Path: "/api/v1/cases/{id}/checklist", Summary: "What records a case still lacks (its patient, an admin)",
		Description: "The checklist of the case's specialty (DOCUMENTS_CHECKLIST) against the kinds of its records.",
		Tags:        tags}, authz.Roles(authn.RolePatient, authn.RoleAdmin).Owned(),
		func(ctx context.Context, in *caseInput) (*checklistOutput, error) {
			c, err := s.checklistOf(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &checklistOutput{c}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-document", Method: http.MethodGet,
		Path: "/api/v1/records/{id}", Summary: "A record's details (its patient, the case's professional, an admin)",
		Description: "Audited.", Tags: tags}, readers,
		func(ctx context.Context, in *recordInput) (*documentOutput, error) {
			d, err := s.document(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &documentOutput{d}, nil
		})
	httpapi.RegisterStream(api, huma.Operation{OperationID: "get-document-content", Method: http.MethodGet,
		Path: "/api/v1/records/{id}/content", Summary: "A record's content (its patient, the case's professional, an admin)",
		Description: "Byte ranges (Range: bytes=…) are served with 206. The case's professional receives DICOM " +
			"de-identified (PS3.15 Annex E basic profile, UIDs remapped consistently within the case). Audited.",
		Tags: tags,
		Parameters: []*huma.Param{
			{Name: "id", In: "path", Required: true, Description: "the record's id", Schema: &huma.Schema{Type: huma.TypeString, Format: "uuid"}},
			{Name: "Range", In: "header", Description: "a byte range, e.g. bytes=0-1048575", Schema: &huma.Schema{Type: huma.TypeString}},
		},
		Responses: map[string]*huma.Response{
			"200": {Description: "The content, as its type was sniffed", Content: contentTypes()},
			"206": {Description: "The range asked for", Content: contentTypes()},
		},
		Errors: []int{http.StatusRequestedRangeNotSatisfiable},
	}, readers, s.serveContent)
	s.uploadRoutes(api)
	httpapi.Register(api, huma.Operation{OperationID: "delete-document", Method: http.MethodDelete,
		Path: "/api/v1/records/{id}", Summary: "Delete a record of a draft case (its patient)",
		Description: "Only while the case is a draft (else 409). Publishes document.deleted.", DefaultStatus: http.StatusNoContent,
		Tags: tags, Errors: []int{http.StatusConflict}}, patient,
		func(ctx context.Context, in *recordInput) (*struct{}, error) {
			return nil, s.delete(ctx, authn.FromContext(ctx), in.ID)
		})
}

// contentTypes are the media types a record's content is served as.
func contentTypes() map[string]*huma.MediaType {
	out := map[string]*huma.MediaType{}
	for _, t := range filetype.Accepted {
		mt, _, _ := mime.ParseMediaType(t.MediaType)
		out[mt] = &huma.MediaType{Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}
	}
	return out
}

// view is d as reader r sees it.
func view(d store.Document, owner bool) Document {
	out := Document{ID: d.ID, CaseID: d.CaseID, Kind: d.Kind, FileType: d.FileType, MediaType: d.MediaType, Size: d.Size,
		SHA256: d.SHA256, CreatedAt: d.CreatedAt}
	if owner {
		out.FileName = d.FileName
	} else {
		out.Deidentified = d.FileType == vocab.FileDICOM
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
