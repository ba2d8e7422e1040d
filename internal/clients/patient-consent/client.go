// Package patientconsent is the client of patient-consent's internal
// ConsentService: whether a patient's consent for a purpose is in force,
// for the services that must honour it.
package patientconsent

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Target is the service this client reaches.
const Target = "patient-consent"

const timeout = 5 * time.Second

// Consent is where a patient's consent for a purpose stands.
type Consent struct {
	// Granted is whether the consent is in force: granted and not
	// withdrawn since.
	Granted bool
	// Version is the consent text version granted, "" when not Granted.
	Version string
	// CurrentVersion is the purpose's text in force now; a grant of an
	// older one is still a grant, the caller decides whether it suffices.
	CurrentVersion string
}

// Current reports whether the consent is in force for the text in force.
func (c Consent) Current() bool { return c.Granted && c.Version == c.CurrentVersion }

// Client reaches ConsentService.
type Client struct {
	api    patientv1connect.ConsentServiceClient
	health *grpchealth.Client
}

// New reaches patient-consent at peer.
func New(peer service.Peer) *Client {
	return &Client{api: patientv1connect.NewConsentServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...)}
}

// Check asks whether patient id's consent for purpose is in force. A
// patient who never consented is not an error: Granted is false.
func (c *Client) Check(ctx context.Context, patientID string, purpose vocab.ConsentPurpose) (Consent, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.api.Check(ctx, connect.NewRequest(&patientv1.CheckConsentRequest{PatientId: patientID, Purpose: string(purpose)}))
	if err != nil {
		return Consent{}, rpc.PeerError(Target, "consent", patientID, err)
	}
	m := res.Msg
	return Consent{Granted: m.GetGranted(), Version: m.GetVersion(), CurrentVersion: m.GetCurrentVersion()}, nil
}

// Ready checks that ConsentService is serving.
func (c *Client) Ready(ctx context.Context) error {
	return rpc.Serving(c.health, Target, patientv1connect.ConsentServiceName)(ctx)
}
