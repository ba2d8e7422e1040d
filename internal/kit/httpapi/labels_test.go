package httpapi_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/telemetry"
)

// Whatever method, path and status a request brings, the metrics and
// the access log carry a label from a bounded set: made-up methods are
// OTHER, paths are the matched pattern, codes outside 100–599 (which an
// upstream may send through the gateway) are "invalid".
func TestLabelsComeFromBoundedSets(t *testing.T) {
	var logs strings.Builder
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	mux := http.NewServeMux()
	mux.HandleFunc("/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "odd" {
			w.WriteHeader(999)
		}
	})
	m := telemetry.NewMetrics()
	h := httpapi.Wrap(mux, httpapi.Options{Service: "things", Metrics: m})
	serve := func(method, path string) {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
	}

	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	const n = 1000
	for i := range n {
		method := fmt.Sprintf("X%08d", rnd.IntN(1e8))
		if i%2 == 0 {
			method = strings.ToLower(http.MethodGet) // methods are case-sensitive: not GET
		}
		serve(method, fmt.Sprintf("/things/t%d", rnd.Int64()))
		serve(http.MethodGet, fmt.Sprintf("/elsewhere/%d", rnd.Int64()))
	}
	serve(http.MethodDelete, "/things/odd")

	if got := testutil.CollectAndCount(m.HTTPDuration); got != 3 {
		out, _ := testutil.CollectAndFormat(m.HTTPDuration, expfmt.TypeTextPlain, "http_request_duration_seconds")
		t.Fatalf("%d series after %d made-up methods and paths, want 3:\n%.3000s", got, 2*n, out)
	}
	out, _ := testutil.CollectAndFormat(m.HTTPDuration, expfmt.TypeTextPlain, "http_request_duration_seconds")
	for _, want := range []string{
		`http_request_duration_seconds_count{method="OTHER",route="/things/{id}",service="things",status_code="200"} 1000`,
		`http_request_duration_seconds_count{method="GET",route="unmatched",service="things",status_code="404"} 1000`,
		`http_request_duration_seconds_count{method="DELETE",route="/things/{id}",service="things",status_code="invalid"} 1`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("metrics lack %s:\n%s", want, out)
		}
	}
	if strings.Contains(logs.String(), `"method":"X`) || strings.Contains(logs.String(), `"method":"get"`) {
		t.Errorf("the access log carries a made-up method: %.500s", logs.String())
	}
	if !strings.Contains(logs.String(), `"method":"OTHER"`) {
		t.Errorf("the access log lacks the OTHER method: %.500s", logs.String())
	}
}
