package professionalidentity_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	identity "github.com/secondopinion/platform/internal/services/professional/professional-identity"
)

// bearer is an HTTP client presenting token on every call.
func bearer(c *http.Client, token string) *http.Client {
	if token == "" {
		return c
	}
	return rpc.WithIdentity(c, func(context.Context) (string, time.Time, error) {
		return token, time.Now().Add(time.Hour), nil
	})
}

func TestProfessionalServiceOverGRPC(t *testing.T) {
	testkit.ForEachEngine(t, identity.Name, func(t *testing.T, db *sqldb.DB) {
		f := start(t, db)
		id := register(t, f, house)
		mem := rpc.NewInProcess(f.h)
		t.Cleanup(func() { mem.Close() })
		client := func(token string) professionalv1connect.ProfessionalServiceClient {
			return professionalv1connect.NewProfessionalServiceClient(bearer(mem.Client(), token), rpc.BaseURL, rpc.ClientOptions()...)
		}
		ctx := context.Background()
		get := func(token, id string) (*professionalv1.Professional, error) {
			res, err := client(token).GetProfessional(ctx, connect.NewRequest(&professionalv1.GetProfessionalRequest{Id: id}))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		}

		for _, caller := range []string{"medical-opinion", "notification"} {
			m, err := get("service:"+caller, id)
			if err != nil {
				t.Fatalf("%s: %v", caller, err)
			}
			created, _ := time.Parse(time.RFC3339Nano, m.CreatedAt)
			if m.Id != id || m.FirstName != "Gregory" || m.LastName != "House" || m.Email != "g.house@example.org" ||
				!slices.Equal(m.Specialties, []string{"NEPHROLOGY", "GENERAL_MEDICINE"}) || !slices.Equal(m.Languages, []string{"en", "es"}) ||
				m.Country != "US" || m.Level != "JUNIOR" || m.Status != "PENDING" || len(m.ProNumber) != len("PRO-EU-XXXXXX") ||
				created.IsZero() || created.Location() != time.UTC {
				t.Fatalf("%s got %v", caller, m)
			}
		}
		for name, c := range map[string]struct {
			token, id string
			want      connect.Code
		}{
			"anonymous":                 {"", id, connect.CodeUnauthenticated},
			"the professional":          {"pro:" + id, id, connect.CodePermissionDenied},
			"a patient":                 {"patient:" + id, id, connect.CodePermissionDenied},
			"an admin":                  {"admin", id, connect.CodePermissionDenied},
			"an unlisted service":       {"service:payouts", id, connect.CodePermissionDenied},
			"a service that never asks": {"service:credentialing", id, connect.CodePermissionDenied},
			"a service named as user":   {"pro:credentialing", id, connect.CodePermissionDenied},
			"unknown professional":      {"service:medical-opinion", "0190a0a0-0000-7000-8000-000000000000", connect.CodeNotFound},
			"malformed id":              {"service:medical-opinion", "42", connect.CodeInvalidArgument},
		} {
			if m, err := get(c.token, c.id); connect.CodeOf(err) != c.want || m != nil {
				t.Errorf("%s: %v %v, want %v", name, m, err, c.want)
			}
		}
	})
}
