package journey

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
)

// Contract holds requests and answers to the platform's published OpenAPI
// document: an answer the document does not describe (a status it does not
// list, a body that breaks its schema, an undeclared operation) fails the
// test that got it, and so does a request the platform accepted that the
// document does not describe. A refused request is not held to it: tests
// send wrong ones on purpose (anonymous calls of protected operations, bad
// bodies), and the document says how they are refused.
type Contract struct {
	v validator.Validator
}

// NewContract reads the published document.
func NewContract(doc []byte) (*Contract, error) {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("read the published document: %w", err)
	}
	v, errs := validator.NewValidator(d, config.WithFormatAssertions())
	if len(errs) > 0 {
		return nil, fmt.Errorf("build the validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("the published document is not valid OpenAPI: %v", verrs)
	}
	return &Contract{v: v}, nil
}

// operational are the platform's own endpoints beside the public API
// (probes, metrics, the documents and their page), which the document
// does not describe.
var operational = []string{"/api/health", "/api/ready", "/metrics", "/openapi.json", "/asyncapi.json", "/docs"}

// Check lists how a request (with its body) and the answer to it (with
// its body) break the document.
func (c *Contract) Check(req *http.Request, reqBody []byte, res *http.Response, resBody []byte) []string {
	if slices.Contains(operational, req.URL.Path) {
		return nil
	}
	clone := func() *http.Request {
		r := req.Clone(req.Context())
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
		return r
	}
	var out []string
	if res.StatusCode/100 == 2 {
		if ok, errs := c.v.ValidateHttpRequest(clone()); !ok {
			for _, e := range errs {
				out = append(out, "request: "+describe(e.Message, e.Reason, e.SchemaValidationErrors))
			}
		}
	}
	r := *res
	r.Body = io.NopCloser(bytes.NewReader(resBody))
	if ok, errs := c.v.ValidateHttpResponse(clone(), &r); !ok {
		for _, e := range errs {
			if unrouted(e) && refusedAsUnrouted(res) {
				// The document lists what is routed; the gateway answers
				// anything else 404 or 405, as a problem.
				continue
			}
			out = append(out, fmt.Sprintf("response %d: %s", res.StatusCode, describe(e.Message, e.Reason, e.SchemaValidationErrors)))
		}
	}
	return out
}

// unrouted reports a path or method the document does not describe.
func unrouted(e *errors.ValidationError) bool {
	return e.ValidationType == helpers.PathValidation &&
		(e.ValidationSubType == helpers.ValidationMissing || e.ValidationSubType == helpers.ValidationMissingOperation)
}

func refusedAsUnrouted(res *http.Response) bool {
	return (res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed) &&
		strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json")
}

func describe(msg, reason string, details []*errors.SchemaValidationFailure) string {
	var b strings.Builder
	b.WriteString(msg)
	if reason != "" {
		b.WriteString(": " + reason)
	}
	for _, d := range details {
		b.WriteString("; " + d.FieldPath + ": " + d.Reason)
	}
	return b.String()
}

// Connect reaches the platform at base and holds every exchange to the
// document the platform publishes at /openapi.json.
func Connect(t testing.TB, base string) Platform {
	t.Helper()
	doc := Platform{Base: base}.Do(t, "", http.MethodGet, "/openapi.json", nil)
	doc.Want(t, http.StatusOK)
	c, err := NewContract(doc.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Platform{Base: base, Contract: c}
}
