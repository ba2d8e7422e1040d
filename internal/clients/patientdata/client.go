// Package patientdata is the client of PatientDataService, which every
// service holding part of a patient's data serves: patient-identity reads
// each service's part of the patient's export through it.
package patientdata

import (
	"context"
	"fmt"
	"io"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/export"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Client reaches the PatientDataService of one target.
type Client struct {
	Target string
	api    patientv1connect.PatientDataServiceClient
	health *grpchealth.Client
}

// New reaches target's PatientDataService at peer.
func New(target string, peer service.Peer) *Client {
	return &Client{Target: target,
		api:    patientv1connect.NewPatientDataServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...)}
}

// Open starts the export of what the target holds of patient id, whose
// cases are caseIDs. The stream lives as long as ctx, and ends at the
// part's last chunk.
func (c *Client) Open(ctx context.Context, id string, caseIDs []string) (export.Next, error) {
	stream, err := c.api.Export(ctx, connect.NewRequest(&patientv1.ExportRequest{PatientId: id, CaseIds: caseIDs}))
	if err != nil {
		return nil, rpc.PeerError(c.Target, "patient", id, err)
	}
	return func() (string, []byte, error) {
		if stream.Receive() {
			m := stream.Msg()
			return m.GetPath(), m.GetData(), nil
		}
		err := stream.Err()
		_ = stream.Close()
		if err != nil {
			return "", nil, fmt.Errorf("export from %s: %w", c.Target, err)
		}
		return "", nil, io.EOF
	}, nil
}

// Ready checks that the target serves PatientDataService; when it does
// not, the export is refused as Unavailable (503) before it starts.
func (c *Client) Ready(ctx context.Context) error {
	if err := rpc.Serving(c.health, c.Target, patientv1connect.PatientDataServiceName)(ctx); err != nil {
		return fault.Unavailable(c.Target, err)
	}
	return nil
}

// Writer writes a holder's part of the export onto the stream of its
// PatientDataService.Export: the serving side of the same contract.
func Writer(stream *connect.ServerStream[patientv1.ExportChunk]) *export.Writer {
	return export.NewWriter(func(path string, data []byte) error {
		return stream.Send(&patientv1.ExportChunk{Path: path, Data: data})
	})
}
