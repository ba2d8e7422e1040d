package professionalidentity_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/secondopinion/platform/api/events"
	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/internal/kit/logging"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	identity "github.com/secondopinion/platform/internal/services/professional/professional-identity"
)

// Every log line of the journey, at debug level, carries ids only: no
// name, email, bio, password or hash.
func TestLogsCarryNoPersonalData(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(logging.New(&buf, slog.LevelDebug))
	t.Cleanup(func() { slog.SetDefault(prev) })

	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	id := register(t, f, house)
	url := f.url + "/api/v1/professionals"
	call(t, http.MethodPost, url, house)
	call(t, http.MethodPost, url, strings.Replace(house, `"US"`, `"XX"`, 1))
	callAs(t, "admin", http.MethodGet, url+"/"+id, "")
	callAs(t, "pro:"+id, http.MethodPatch, url+"/"+id, `{"lastName":"Laurie","bio":"Pianist."}`)
	ev := credentialingEvent(t, events.ProfessionalVerifiedV1.Type, id, time.Now().UTC(), nil)
	if err := f.svc.Consume(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	mem := rpc.NewInProcess(f.h)
	t.Cleanup(func() { mem.Close() })
	c := professionalv1connect.NewProfessionalServiceClient(bearer(mem.Client(), "service:medical-opinion"), rpc.BaseURL, rpc.ClientOptions()...)
	if _, err := c.GetProfessional(context.Background(), connect.NewRequest(&professionalv1.GetProfessionalRequest{Id: id})); err != nil {
		t.Fatal(err)
	}

	logs := buf.String()
	if !strings.Contains(logs, `"professionalId":"`+id+`"`) || !strings.Contains(logs, "professional updated") {
		t.Fatalf("the journey was not logged:\n%s", logs)
	}
	for _, secret := range append(houseSecrets, "Laurie", "Pianist", "g.house@example.org") {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}
