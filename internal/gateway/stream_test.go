package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/httpapi"
)

// A streamed operation (an upload of records) passes the edge whole and
// as slowly as it keeps coming: neither the body limit nor the upstream
// timeout cuts it. Every other operation keeps both.
func TestStreamedOperations(t *testing.T) {
	spec := specOf("records", []Route{{"POST", "/api/v1/things/{id}/upload", "records"}, {"POST", "/api/v1/things/{id}", "records"}}, caseItem())
	for _, item := range spec.Paths {
		if op := item.Post; op != nil && op.Path == "/api/v1/things/{id}/upload" {
			op.Extensions = map[string]any{httpapi.StreamExtension: true}
		}
	}
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Read", strconv.FormatInt(n, 10))
	})
	base, _ := front(t, Config{MaxBody: 1 << 10, Timeout: 100 * time.Millisecond}, inProcess(t, "records", up, spec))
	body := bytes.Repeat([]byte("x"), 2<<20)
	res := do(t, "POST", base+"/api/v1/things/1/upload", bytes.NewReader(body), nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Read") != strconv.Itoa(len(body)) {
		t.Errorf("streamed upload: %d, upstream read %s of %d", res.StatusCode, res.Header.Get("X-Read"), len(body))
	}
	if res := do(t, "POST", base+"/api/v1/things/1", bytes.NewReader(body), nil); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a large body to an ordinary operation: %d", res.StatusCode)
	}
	if res := do(t, "POST", base+"/api/v1/things/1", bytes.NewReader(body[:10]), nil); res.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("a slow ordinary operation: %d", res.StatusCode)
	}
}
