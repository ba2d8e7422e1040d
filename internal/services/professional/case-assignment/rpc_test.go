package caseassignment

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/google/uuid"

	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
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

// medical-opinion learns who holds a case from the store right after the
// claim, and only medical-opinion may ask.
func TestAssignmentServiceOverGRPC(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		for _, svc := range []string{"medical-opinion", "payouts"} {
			h.tokens.add("service:"+svc, authn.Principal{Subject: svc, Role: authn.RoleService})
		}
		h.tokens.add("pro:medical-opinion", authn.Principal{Subject: "medical-opinion", Role: authn.RoleProfessional})
		pro := h.pro("self", "SENIOR", cardio, en)
		caseID := h.enter("CARDIOLOGY", "STANDARD", "en")

		mem := rpc.NewInProcess(httpapi.Wrap(h.svc.Handler(), httpapi.Options{Service: Name, Verifier: h.tokens}))
		t.Cleanup(func() { mem.Close() })
		ctx := context.Background()
		get := func(token, caseID string) (*professionalv1.Assignment, error) {
			c := professionalv1connect.NewAssignmentServiceClient(bearer(mem.Client(), token), rpc.BaseURL, rpc.ClientOptions()...)
			res, err := c.GetActiveAssignment(ctx, connect.NewRequest(&professionalv1.GetActiveAssignmentRequest{CaseId: caseID}))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		}

		if m, err := get("service:medical-opinion", caseID); connect.CodeOf(err) != connect.CodeNotFound || m != nil {
			t.Errorf("before the claim: %v %v", m, err)
		}
		res := h.do("self", "POST", "/api/v1/assignments/claim/"+caseID, nil)
		if res.status != 201 {
			t.Fatalf("claim: %d %v", res.status, res.body)
		}
		m, err := get("service:medical-opinion", caseID)
		if err != nil {
			t.Fatal(err)
		}
		deadline, errD := time.Parse(time.RFC3339Nano, m.Deadline)
		claimed, errC := time.Parse(time.RFC3339Nano, m.ClaimedAt)
		if m.Id != res.body["id"] || m.CaseId != caseID || m.ProfessionalId != pro || errD != nil || errC != nil ||
			!claimed.Equal(h.clock.Now()) || !deadline.Equal(h.clock.Now().Add(72*time.Hour)) ||
			deadline.Location() != time.UTC || claimed.Location() != time.UTC {
			t.Errorf("active assignment %v, want %s of %s by %s", m, res.body["id"], caseID, pro)
		}

		for name, c := range map[string]struct {
			token, caseID string
			want          connect.Code
		}{
			"anonymous":               {"", caseID, connect.CodeUnauthenticated},
			"the professional":        {"self", caseID, connect.CodePermissionDenied},
			"a patient":               {"patient", caseID, connect.CodePermissionDenied},
			"an admin":                {"admin", caseID, connect.CodePermissionDenied},
			"an unlisted service":     {"service:payouts", caseID, connect.CodePermissionDenied},
			"a service named as user": {"pro:medical-opinion", caseID, connect.CodePermissionDenied},
			"unknown case":            {"service:medical-opinion", uuid.NewString(), connect.CodeNotFound},
			"malformed case id":       {"service:medical-opinion", "42", connect.CodeNotFound},
		} {
			if m, err := get(c.token, c.caseID); connect.CodeOf(err) != c.want || m != nil {
				t.Errorf("%s: %v %v, want %v", name, m, err, c.want)
			}
		}

		if res := h.do("self", "POST", "/api/v1/assignments/release/"+m.Id, nil); res.status != 200 {
			t.Fatalf("release: %d %v", res.status, res.body)
		}
		if m, err := get("service:medical-opinion", caseID); connect.CodeOf(err) != connect.CodeNotFound || m != nil {
			t.Errorf("after release: %v %v", m, err)
		}
	})
}

// The gRPC health service reports AssignmentService serving, as the
// app's peers check it.
func TestAssignmentServiceHealth(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := build(t, db, Config{})
		mem := rpc.NewInProcess(httpapi.Wrap(h.svc.Handler(), httpapi.Options{Service: Name, Verifier: h.tokens}))
		t.Cleanup(func() { mem.Close() })
		hc := grpchealth.NewClient(mem.Client(), rpc.BaseURL, rpc.ClientOptions()...)
		if err := rpc.Serving(hc, Name, professionalv1connect.AssignmentServiceName)(context.Background()); err != nil {
			t.Error(err)
		}
	})
}
