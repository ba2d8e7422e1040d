package patientconsent

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/api/vocab"
	consents "github.com/secondopinion/platform/internal/clients/patient-consent"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// as presents the test token tok (see tokens) on every call.
func as(tok string) rpc.TokenSource {
	return func(context.Context) (string, time.Time, error) { return tok, time.Now().Add(time.Hour), nil }
}

// testRPC calls ConsentService over the real Connect handler, behind the
// platform middleware, through the typed client the other services use.
func testRPC(t *testing.T, h *harness) {
	mem := rpc.NewInProcess(h.handler)
	t.Cleanup(func() { mem.Close() })
	peer := func(tok string) service.Peer {
		c := mem.Client()
		if tok != "" {
			c = rpc.WithIdentity(c, as(tok))
		}
		return service.Peer{HTTP: c, URL: rpc.BaseURL}
	}
	ctx := context.Background()
	ai := consents.New(peer("service:ai-orchestration"))
	if err := ai.Ready(ctx); err != nil {
		t.Errorf("ready: %v", err)
	}

	// Patient b: granted RESEARCH, granted then withdrew AI_PROCESSING.
	h.grant("b", vocab.ConsentResearch)
	h.grant("b", vocab.ConsentAIProcessing)
	h.do("b", "DELETE", "/api/v1/consents/AI_PROCESSING", nil)
	for p, want := range map[vocab.ConsentPurpose]consents.Consent{
		vocab.ConsentResearch:               {Granted: true, Version: current(vocab.ConsentResearch), CurrentVersion: current(vocab.ConsentResearch)},
		vocab.ConsentAIProcessing:           {Granted: false, CurrentVersion: current(vocab.ConsentAIProcessing)},
		vocab.ConsentShareWithProfessionals: {Granted: false, CurrentVersion: current(vocab.ConsentShareWithProfessionals)},
	} {
		got, err := ai.Check(ctx, h.b, p)
		if err != nil || got != want {
			t.Errorf("check %s: %+v, %v; want %+v", p, got, err, want)
		}
		if p == vocab.ConsentResearch && !got.Current() {
			t.Errorf("a grant of the current text is not current: %+v", got)
		}
	}
	if got, err := ai.Check(ctx, "0190a0a0-0000-7000-8000-000000000000", vocab.ConsentResearch); err != nil || got.Granted {
		t.Errorf("an unknown patient: %+v, %v; want not granted", got, err)
	}

	for name, c := range map[string]struct {
		peer    string
		id      string
		purpose vocab.ConsentPurpose
		want    connect.Code
	}{
		"unknown purpose":             {"service:ai-orchestration", h.b, "MARKETING", connect.CodeInvalidArgument},
		"malformed patient":           {"service:ai-orchestration", "42", vocab.ConsentResearch, connect.CodeInvalidArgument},
		"anonymous":                   {"", h.b, vocab.ConsentResearch, connect.CodeUnauthenticated},
		"the patient themself":        {"b", h.b, vocab.ConsentResearch, connect.CodePermissionDenied},
		"an admin":                    {"admin", h.b, vocab.ConsentResearch, connect.CodePermissionDenied},
		"an unlisted service":         {"service:notification", h.b, vocab.ConsentResearch, connect.CodePermissionDenied},
		"a service that never checks": {"service:case-assignment", h.b, vocab.ConsentResearch, connect.CodePermissionDenied},
	} {
		_, err := consents.New(peer(c.peer)).Check(ctx, c.id, c.purpose)
		if connect.CodeOf(err) != c.want {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// The raw stub agrees with the typed client.
	raw := patientv1connect.NewConsentServiceClient(peer("service:ai-providers").HTTP, rpc.BaseURL, rpc.ClientOptions()...)
	res, err := raw.Check(ctx, connect.NewRequest(&patientv1.CheckConsentRequest{PatientId: h.b, Purpose: "RESEARCH"}))
	if err != nil || !res.Msg.GetGranted() {
		t.Errorf("raw check: %v, %v", res, err)
	}
	// A store that fails is an error to the caller, never "not granted".
	if _, err := h.db.Exec(`ALTER TABLE consent_changes RENAME TO consent_changes_gone`); err != nil {
		t.Fatal(err)
	}
	_, err = ai.Check(ctx, h.b, vocab.ConsentResearch)
	if _, err := h.db.Exec(`ALTER TABLE consent_changes_gone RENAME TO consent_changes`); err != nil {
		t.Fatal(err)
	}
	if err == nil {
		t.Error("check without a store answered")
	}
}
