// Package professionalidentity is the client of professional-identity's
// internal ProfessionalService: who a professional is, for review rules,
// reports and credential checks.
package professionalidentity

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Target is the service this client reaches.
const Target = "professional-identity"

const timeout = 5 * time.Second

// Professional is what ProfessionalService tells of a professional.
// Names and email are personal data: callers keep them out of logs.
type Professional struct {
	ID, ProNumber              string
	FirstName, LastName, Email string
	Specialties, Languages     []string
	Country, Level             string
	Status                     string // PENDING, VERIFIED or SUSPENDED
}

// Client reaches ProfessionalService.
type Client struct {
	api    professionalv1connect.ProfessionalServiceClient
	health *grpchealth.Client
}

// New reaches professional-identity at peer.
func New(peer service.Peer) *Client {
	return &Client{api: professionalv1connect.NewProfessionalServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...)}
}

// Professional looks a professional up; a missing one is NotFound.
func (c *Client) Professional(ctx context.Context, id string) (Professional, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.api.GetProfessional(ctx, connect.NewRequest(&professionalv1.GetProfessionalRequest{Id: id}))
	if err != nil {
		return Professional{}, rpc.PeerError(Target, "professional", id, err)
	}
	m := res.Msg
	return Professional{ID: m.GetId(), ProNumber: m.GetProNumber(), FirstName: m.GetFirstName(), LastName: m.GetLastName(),
		Email: m.GetEmail(), Specialties: m.GetSpecialties(), Languages: m.GetLanguages(), Country: m.GetCountry(),
		Level: m.GetLevel(), Status: m.GetStatus()}, nil
}

// Ready checks that ProfessionalService is serving.
func (c *Client) Ready(ctx context.Context) error {
	return rpc.Serving(c.health, Target, professionalv1connect.ProfessionalServiceName)(ctx)
}
