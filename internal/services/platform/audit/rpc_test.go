package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/clients/patientdata"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/audit/store"
)

// bearer is an HTTP client presenting token on every call; "" is
// anonymous.
func bearer(c *http.Client, token string) *http.Client {
	if token == "" {
		return c
	}
	return rpc.WithIdentity(c, func(context.Context) (string, time.Time, error) {
		return token, time.Now().Add(time.Hour), nil
	})
}

// bundle is what an export by token of patient's part gave: its files,
// and the chunks they came in.
type bundle struct {
	files  map[string][]byte
	chunks int
}

func exportOf(mem *rpc.InProcess, token, patient string, cases []string) (bundle, error) {
	c := patientdata.New(Name, service.Peer{HTTP: bearer(mem.Client(), token), URL: rpc.BaseURL})
	next, err := c.Open(context.Background(), patient, cases)
	if err != nil {
		return bundle{}, err
	}
	out := bundle{files: map[string][]byte{}}
	var file string
	for {
		path, data, err := next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return bundle{}, err
		}
		if path != "" {
			file = path
		}
		out.files[file] = append(out.files[file], data...)
		out.chunks++
	}
}

// patient-identity gathers a patient's export; the trail's part is their
// access log: who reached their data, their profile and their cases, and
// what they did themselves — where from only for the latter.
func TestExportOverRPC(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, h := newService(t, db, inproc.New())
		mem := rpc.NewInProcess(h)
		t.Cleanup(func() { mem.Close() })
		a, b, caseOfA := patientA.Subject, patientB.Subject, uuid.NewString()
		created, err := bus.New("case-management", "case.created", caseOfA, map[string]string{"caseId": caseOfA})
		if err != nil {
			t.Fatal(err)
		}
		otherCase, err := bus.New("case-management", "case.created", uuid.NewString(), map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		updated, err := events.PatientUpdatedV1.New("patient-identity", a, events.PatientUpdated{PatientID: a,
			ChangedFields: []string{"phone"}, Timestamp: time.Now().UTC()})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []bus.Event{
			read(t, pro, a, caseOfA, "198.51.100.20", kitaudit.Allowed),
			read(t, patientA, a, caseOfA, "192.0.2.10", kitaudit.Allowed),
			read(t, patientB, a, caseOfA, "192.0.2.99", kitaudit.Denied), // another patient, refused
			read(t, patientB, b, uuid.NewString(), "192.0.2.99", kitaudit.Allowed),
			created, updated, otherCase,
		} {
			if err := s.Consume(ctx, e); err != nil {
				t.Fatal(err)
			}
		}

		got, err := exportOf(mem, "service:patient-identity", a, []string{caseOfA})
		if err != nil {
			t.Fatal(err)
		}
		raw := got.files["access-log.json"]
		if len(got.files) != 1 || raw == nil {
			t.Fatalf("files %v, want access-log.json", got.files)
		}
		var log []map[string]any
		if err := json.Unmarshal(raw, &log); err != nil {
			t.Fatalf("%v in %s", err, raw)
		}
		var actions []string
		for _, it := range log {
			actions = append(actions, it["action"].(string)+"/"+it["outcome"].(string))
		}
		if want := "case.read/allowed case.read/allowed case.read/denied case.created/allowed patient.updated/allowed"; strings.Join(actions, " ") != want {
			t.Fatalf("exported %v, want %s (oldest first)", actions, want)
		}
		if it := log[0]; it["actor"] != pro.Subject || it["actorRole"] != "professional" || it["purpose"] != "treatment" ||
			it["resourceId"] != caseOfA || it["at"] == nil || it["clientAddr"] != nil || it["userAgent"] != nil {
			t.Errorf("the professional's read: %v", it)
		}
		if it := log[1]; it["actor"] != a || it["clientAddr"] != "192.0.2.10" || it["userAgent"] != "agent-of-"+a {
			t.Errorf("the patient's own read: %v", it)
		}
		if it := log[2]; it["actor"] != "" || it["actorRole"] != "patient" {
			t.Errorf("another patient's attempt names them: %v", it)
		}
		for _, leak := range []string{b, "192.0.2.99", "198.51.100.20", "agent-of-" + pro.Subject} {
			if strings.Contains(string(raw), leak) {
				t.Errorf("the export holds %s, another person's data", leak)
			}
		}
		// The access log over HTTP hides the other patient too.
		var web listBody
		if get(t, h, "patient-a", "/api/v1/patients/"+a+"/access-log", &web) != 200 || len(web.Items) != 3 ||
			web.Items[0]["actor"] != "" || web.Items[2]["actor"] != pro.Subject {
			t.Errorf("access log over HTTP: %+v", web.Items)
		}

		// Only patient-identity may ask, and only about a patient.
		for name, c := range map[string]struct {
			token, patient string
			want           connect.Code
		}{
			"anonymous":           {"", a, connect.CodeUnauthenticated},
			"the patient":         {"patient-a", a, connect.CodePermissionDenied},
			"an admin":            {"admin", a, connect.CodePermissionDenied},
			"a professional":      {"pro", a, connect.CodePermissionDenied},
			"an unlisted service": {"service:payouts", a, connect.CodePermissionDenied},
			"not a patient id":    {"service:patient-identity", "case-management", connect.CodeInvalidArgument},
		} {
			if got, err := exportOf(mem, c.token, c.patient, nil); connect.CodeOf(err) != c.want || got.files != nil {
				t.Errorf("%s: %d files, %v; want %v", name, len(got.files), err, c.want)
			}
		}
		if _, err := exportOf(mem, "service:patient-identity", a, []string{"1 OR 1=1"}); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("a case id that is not one: %v", err)
		}

		// patient-identity checks that the trail serves it before it starts.
		hc := grpchealth.NewClient(mem.Client(), rpc.BaseURL, rpc.ClientOptions()...)
		if err := rpc.Serving(hc, Name, patientv1connect.PatientDataServiceName)(ctx); err != nil {
			t.Error(err)
		}
	})
}

// A long log is read page by page and sent in chunks, and arrives whole.
func TestExportOfALongLog(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		s, h := newService(t, db, inproc.New())
		mem := rpc.NewInProcess(h)
		t.Cleanup(func() { mem.Close() })
		const n = 3*exportPage + 7
		if err := db.InTx(context.Background(), func(tx *sql.Tx) error {
			for range n {
				if _, _, err := s.store.Append(context.Background(), tx, store.Entry{Actor: pro.Subject, ActorRole: "professional",
					Action: "case.read", ResourceType: "case", ResourceID: uuid.NewString(), PatientID: patientA.Subject,
					Purpose: strings.Repeat("treatment ", 50), Outcome: kitaudit.Allowed, SourceEventID: uuid.NewString()}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err := exportOf(mem, "service:patient-identity", patientA.Subject, nil)
		if err != nil {
			t.Fatal(err)
		}
		var log []AccessLogEntry
		if err := json.Unmarshal(got.files["access-log.json"], &log); err != nil {
			t.Fatal(err)
		}
		if len(log) != n || got.chunks < 2 {
			t.Fatalf("%d entries in %d chunks, want %d in several", len(log), got.chunks, n)
		}
		if empty, err := exportOf(mem, "service:patient-identity", patientB.Subject, nil); err != nil ||
			strings.TrimSpace(string(empty.files["access-log.json"])) != "[\n]" {
			t.Fatalf("a patient without entries: %q %v", empty.files, err)
		}
	})
}
