package identity_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/patient/identity"
)

func TestPatientServiceOverGRPC(t *testing.T) {
	testkit.ForEachEngine(t, identity.Name, func(t *testing.T, db *sqldb.DB) {
		f := start(t, db)
		mem := rpc.NewInProcess(f.h)
		t.Cleanup(func() { mem.Close() })
		c := patientv1connect.NewPatientServiceClient(mem.Client(), rpc.BaseURL, rpc.ClientOptions()...)
		ctx := context.Background()
		grace := func() *patientv1.CreatePatientRequest {
			return &patientv1.CreatePatientRequest{
				FirstName: "Grace", LastName: "Hopper", Email: "Grace@Example.org", DateOfBirth: "1906-12-09",
				Password: "cobol compiler 1959",
			}
		}

		created, err := c.CreatePatient(ctx, connect.NewRequest(grace()))
		if err != nil {
			t.Fatal(err)
		}
		id := created.Msg.Id
		got, err := c.GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: id}))
		if err != nil {
			t.Fatal(err)
		}
		if m := got.Msg; m.Email != "grace@example.org" || m.PreferredChannel != "EMAIL" || !m.EmailNotifications ||
			m.DateOfBirth != "1906-12-09" || m.CreatedAt != created.Msg.CreatedAt || m.CreatedAt == "" {
			t.Fatalf("get: %v", m)
		}

		phone, sms := "+12025550123", "SMS"
		upd, err := c.UpdatePatient(ctx, connect.NewRequest(&patientv1.UpdatePatientRequest{Id: id, Phone: &phone, PreferredChannel: &sms}))
		if err != nil || upd.Msg.Phone != phone || upd.Msg.PreferredChannel != "SMS" || upd.Msg.FirstName != "Grace" {
			t.Fatalf("update: %v %v", upd, err)
		}

		noPhone := ""
		for name, call := range map[string]struct {
			do   func() error
			want connect.Code
		}{
			"unknown patient": {func() error {
				_, err := c.GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: "0190a0a0-0000-7000-8000-000000000000"}))
				return err
			}, connect.CodeNotFound},
			"malformed id": {func() error {
				_, err := c.GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: "42"}))
				return err
			}, connect.CodeInvalidArgument},
			"duplicate email": {func() error {
				_, err := c.CreatePatient(ctx, connect.NewRequest(grace()))
				return err
			}, connect.CodeAlreadyExists},
			"common password": {func() error {
				req := grace()
				req.Email, req.Password = "grace.common@example.org", "password1234"
				_, err := c.CreatePatient(ctx, connect.NewRequest(req))
				return err
			}, connect.CodeInvalidArgument},
			"invalid registration": {func() error {
				_, err := c.CreatePatient(ctx, connect.NewRequest(&patientv1.CreatePatientRequest{FirstName: "x"}))
				return err
			}, connect.CodeInvalidArgument},
			"SMS without phone": {func() error {
				_, err := c.UpdatePatient(ctx, connect.NewRequest(&patientv1.UpdatePatientRequest{Id: id, Phone: &noPhone}))
				return err
			}, connect.CodeInvalidArgument},
			"update of an unknown patient": {func() error {
				_, err := c.UpdatePatient(ctx, connect.NewRequest(&patientv1.UpdatePatientRequest{Id: "0190a0a0-0000-7000-8000-000000000000", Phone: &phone}))
				return err
			}, connect.CodeNotFound},
		} {
			if err := call.do(); connect.CodeOf(err) != call.want {
				t.Errorf("%s: %v, want %v", name, err, call.want)
			}
		}
		if err := f.authMem.Close(); err != nil {
			t.Fatal(err)
		}
		req := grace()
		req.Email = "grace.down@example.org"
		if _, err := c.CreatePatient(ctx, connect.NewRequest(req)); connect.CodeOf(err) != connect.CodeUnavailable {
			t.Fatalf("register with auth down: %v, want unavailable", err)
		}
	})
}
