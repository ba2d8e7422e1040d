// Package medicalrecords is the client of medical-records' internal
// RecordsService: which records a case still lacks, for case-management's
// submission; a case's records and their originals, for the AI domain.
package medicalrecords

import (
	"context"
	"io"
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

// Record describes a record, without its content or file name.
type Record struct {
	ID, CaseID, PatientID string
	Kind                  vocab.DocumentKind
	FileType              vocab.FileType
	MediaType             string
	Size                  int64
	SHA256                string
}

func toRecord(m *patientv1.RecordSummary) Record {
	return Record{ID: m.GetId(), CaseID: m.GetCaseId(), PatientID: m.GetPatientId(), Kind: vocab.DocumentKind(m.GetKind()),
		FileType: vocab.FileType(m.GetFileType()), MediaType: m.GetMediaType(), Size: m.GetSize(), SHA256: m.GetSha256()}
}

// Documents lists case caseID's records, oldest first.
func (c *Client) Documents(ctx context.Context, caseID string) ([]Record, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.api.Documents(ctx, connect.NewRequest(&patientv1.DocumentsRequest{CaseId: caseID}))
	if err != nil {
		return nil, rpc.PeerError(Target, "case", caseID, err)
	}
	out := make([]Record, len(res.Msg.GetDocuments()))
	for i, d := range res.Msg.GetDocuments() {
		out[i] = toRecord(d)
	}
	return out, nil
}

// Record describes record id; fault.NotFound when there is none.
func (c *Client) Record(ctx context.Context, id string) (Record, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.api.Record(ctx, connect.NewRequest(&patientv1.RecordRequest{DocumentId: id}))
	if err != nil {
		return Record{}, rpc.PeerError(Target, "record", id, err)
	}
	return toRecord(res.Msg), nil
}

// Content streams record id's original as uploaded. The stream lives as
// long as ctx (no timeout of its own: a large record takes a while); the
// caller closes it.
func (c *Client) Content(ctx context.Context, id string) (io.ReadCloser, error) {
	stream, err := c.api.Content(ctx, connect.NewRequest(&patientv1.ContentRequest{DocumentId: id}))
	if err != nil {
		return nil, rpc.PeerError(Target, "record", id, err)
	}
	return &content{stream: stream, id: id}, nil
}

// content reads the chunks of a Content stream as one byte stream.
type content struct {
	stream *connect.ServerStreamForClient[patientv1.ContentChunk]
	id     string
	rest   []byte
}

func (r *content) Read(p []byte) (int, error) {
	for len(r.rest) == 0 {
		if !r.stream.Receive() {
			if err := r.stream.Err(); err != nil {
				return 0, rpc.PeerError(Target, "record", r.id, err)
			}
			return 0, io.EOF
		}
		r.rest = r.stream.Msg().GetData()
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

func (r *content) Close() error { return r.stream.Close() }

// Ready checks that RecordsService is serving.
func (c *Client) Ready(ctx context.Context) error {
	return rpc.Serving(c.health, Target, patientv1connect.RecordsServiceName)(ctx)
}
