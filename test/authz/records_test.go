package authz_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// The records' operations take files, not JSON: these build their bodies
// and the resources their scenes need.

// multipartPDF is a small PDF as the file part of a multipart body.
func multipartPDF(t *testing.T) (http.Header, []byte) {
	t.Helper()
	return multipartFile(t, "report.pdf", "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
}

// multipartText is a short note as the file part of a multipart body: a
// record the analysis reads without starting the PDF engine, whose first
// compilation takes half a minute under the race detector.
func multipartText(t *testing.T) (http.Header, []byte) {
	t.Helper()
	return multipartFile(t, "notes.txt", "Seen today. No evidence of malignancy. Known hypertension.\n")
}

func multipartFile(t *testing.T, name, content string) (http.Header, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	part.Write([]byte(content))
	mw.Close()
	return http.Header{"Content-Type": {mw.FormDataContentType()}}, body.Bytes()
}

// tusHeaders are a tus request's headers, with body as the bytes sent
// from offset 0.
func tusHeaders(body []byte) func(*testing.T, *fixtures) (http.Header, []byte) {
	return func(*testing.T, *fixtures) (http.Header, []byte) {
		h := http.Header{"Tus-Resumable": {"1.0.0"}}
		if body != nil {
			h.Set("Upload-Offset", "0")
			h.Set("Content-Type", "application/offset+octet-stream")
		}
		return h, body
	}
}

// uploadRecord uploads body (with its headers) to case caseID as patient
// A and returns the record's id.
func (f *fixtures) uploadRecord(t *testing.T, caseID string, h http.Header, body []byte) string {
	t.Helper()
	status, out := f.send(t, f.patientA.Token, http.MethodPost, "/api/v1/cases/"+caseID+"/documents?kind=OTHER", h, body)
	var doc struct{ ID string }
	if status != http.StatusCreated || json.Unmarshal(out, &doc) != nil || doc.ID == "" {
		t.Fatalf("upload a record: %d %s", status, out)
	}
	return doc.ID
}

// startUpload creates a tus upload as patient A and returns its id.
func (f *fixtures) startUpload(t *testing.T, h http.Header) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.base+"/api/v1/uploads", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	req.Header.Set("Authorization", "Bearer "+f.patientA.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	i := strings.LastIndex(loc, "/")
	if res.StatusCode != http.StatusCreated || i < 0 {
		t.Fatalf("start an upload: %d %q", res.StatusCode, loc)
	}
	return loc[i+1:]
}

// send makes a request with a raw body, held to the published document
// like every other call of the matrix.
func (f *fixtures) send(t *testing.T, token, method, path string, h http.Header, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if f.j.Contract != nil {
		for _, broken := range f.j.Contract.Check(req, body, res, out) {
			t.Errorf("%s %s breaks the published document: %s", method, path, broken)
		}
	}
	return res.StatusCode, out
}
