package patientidentity_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/logging"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	identity "github.com/secondopinion/platform/internal/services/patient/patient-identity"
)

// Every log line of the journey, at debug level, carries ids only: no
// name, email, phone, date of birth, password or hash.
func TestLogsCarryNoPersonalData(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(logging.New(&buf, slog.LevelDebug))
	t.Cleanup(func() { slog.SetDefault(prev) })

	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	id := register(t, f)
	url := f.url + "/api/v1/patients/"
	call(t, http.MethodPost, url[:len(url)-1], ada)
	call(t, http.MethodPost, url[:len(url)-1], strings.Replace(ada, "1990-12-10", "2999-01-01", 1))
	callAs(t, "patient:"+id, http.MethodGet, url+id, "")
	callAs(t, "patient:"+id, http.MethodPatch, url+id, `{"lastName":"Byron","phone":"+4915199999999"}`)
	callAs(t, "patient:"+id, http.MethodPatch, url+id, `{"phone":""}`)
	mem := rpc.NewInProcess(f.h)
	t.Cleanup(func() { mem.Close() })
	c := patientv1connect.NewPatientServiceClient(rpc.WithIdentity(mem.Client(), as("service:case-management")), rpc.BaseURL, rpc.ClientOptions()...)
	if _, err := c.GetPatient(context.Background(), connect.NewRequest(&patientv1.GetPatientRequest{Id: id})); err != nil {
		t.Fatal(err)
	}

	logs := buf.String()
	if !strings.Contains(logs, `"patientId":"`+id+`"`) || !strings.Contains(logs, "patient updated") {
		t.Fatalf("the journey was not logged:\n%s", logs)
	}
	for _, secret := range append(adaSecrets, "Byron", "+4915199999999", "ada.lovelace@example.org") {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}
