package patientidentity_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	identity "github.com/secondopinion/platform/internal/services/patient/patient-identity"
)

// as presents the test token tok (see tokens) on every call.
func as(tok string) rpc.TokenSource {
	return func(context.Context) (string, time.Time, error) { return tok, time.Now().Add(time.Hour), nil }
}

func TestPatientServiceOverGRPC(t *testing.T) {
	testkit.ForEachEngine(t, identity.Name, func(t *testing.T, db *sqldb.DB) {
		f := start(t, db)
		mem := rpc.NewInProcess(f.h)
		t.Cleanup(func() { mem.Close() })
		client := func(tok string) patientv1connect.PatientServiceClient {
			h := mem.Client()
			if tok != "" {
				h = rpc.WithIdentity(h, as(tok))
			}
			return patientv1connect.NewPatientServiceClient(h, rpc.BaseURL, rpc.ClientOptions()...)
		}
		ctx := context.Background()
		id := register(t, f)
		cases := client("service:case-management")

		got, err := cases.GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: id}))
		if err != nil {
			t.Fatal(err)
		}
		if m := got.Msg; m.Email != "ada.lovelace@example.org" || m.PreferredChannel != "SMS" || m.DateOfBirth != "1990-12-10" || m.CreatedAt == "" {
			t.Fatalf("get: %v", m)
		}
		var read bool
		for _, e := range auditEntries(t, f.db, id) {
			read = read || (e.Action == "patient.read" && e.Actor == "case-management" && e.ActorRole == "service" && e.PatientID == id)
		}
		if !read {
			t.Error("a service's read of a profile left no audit entry naming the service")
		}

		for name, call := range map[string]struct {
			do   func() error
			want connect.Code
		}{
			"unknown patient": {func() error {
				_, err := cases.GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: "0190a0a0-0000-7000-8000-000000000000"}))
				return err
			}, connect.CodeNotFound},
			"malformed id": {func() error {
				_, err := cases.GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: "42"}))
				return err
			}, connect.CodeInvalidArgument},
			"anonymous": {func() error {
				_, err := client("").GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: id}))
				return err
			}, connect.CodeUnauthenticated},
			"the patient themself": {func() error {
				_, err := client("patient:"+id).GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: id}))
				return err
			}, connect.CodePermissionDenied},
			"an admin": {func() error {
				_, err := client("admin").GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: id}))
				return err
			}, connect.CodePermissionDenied},
			"an unlisted service": {func() error {
				_, err := client("service:medical-opinion").GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: id}))
				return err
			}, connect.CodePermissionDenied},
			"create, which is not offered": {func() error {
				_, err := cases.CreatePatient(ctx, connect.NewRequest(&patientv1.CreatePatientRequest{FirstName: "x"}))
				return err
			}, connect.CodePermissionDenied},
		} {
			if err := call.do(); connect.CodeOf(err) != call.want {
				t.Errorf("%s: %v, want %v", name, err, call.want)
			}
		}
	})
}
