// Package medicalrecords is the client of medical-records' internal
// RecordsService: which records a case still lacks, for case-management's
// submission.
package medicalrecords

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
const Target = "medical-records"

const timeout = 5 * time.Second

// Client reaches RecordsService.
type Client struct {
	api    patientv1connect.RecordsServiceClient
	health *grpchealth.Client
}

// New reaches medical-records at peer.
func New(peer service.Peer) *Client {
	return &Client{api: patientv1connect.NewRecordsServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...)}
}

// Missing are the kinds of record the checklist of specialty requires
// that case caseID lacks, in the checklist's order.
func (c *Client) Missing(ctx context.Context, caseID string, specialty vocab.Specialty) ([]vocab.DocumentKind, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.api.Checklist(ctx, connect.NewRequest(&patientv1.ChecklistRequest{CaseId: caseID, Specialty: string(specialty)}))
	if err != nil {
		return nil, rpc.PeerError(Target, "case", caseID, err)
	}
	out := make([]vocab.DocumentKind, len(res.Msg.GetMissing()))
	for i, k := range res.Msg.GetMissing() {
		out[i] = vocab.DocumentKind(k)
	}
	return out, nil
}

// Ready checks that RecordsService is serving.
func (c *Client) Ready(ctx context.Context) error {
	return rpc.Serving(c.health, Target, patientv1connect.RecordsServiceName)(ctx)
}
