// Package casemanagement is the client of case-management's internal
// CaseService: a case as the services working on it need it.
package casemanagement

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/google/uuid"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Target is the service this client reaches.
const Target = "case-management"

const timeout = 5 * time.Second

// Case is what CaseService tells of a case. Title and Question are health
// data: callers keep them out of logs and events.
type Case struct {
	ID, CaseNumber, CustomerID string
	Specialty, Urgency, Status string
	Title, Question, Language  string
	ProfessionalID             string // "" while in the pool
	CreatedAt, UpdatedAt       time.Time
}

// Client reaches CaseService.
type Client struct {
	api    patientv1connect.CaseServiceClient
	health *grpchealth.Client
}

// New reaches case-management at peer.
func New(peer service.Peer) *Client {
	return &Client{api: patientv1connect.NewCaseServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...)}
}

// Case reads case id for purpose, which case-management records in the
// audit trail. A missing case, or an id that is not one, is NotFound.
func (c *Client) Case(ctx context.Context, id, purpose string) (Case, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Case{}, fault.NotFound("case")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.api.GetCase(ctx, connect.NewRequest(&patientv1.GetCaseRequest{Id: id, Purpose: purpose}))
	if err != nil {
		return Case{}, rpc.PeerError(Target, "case", id, err)
	}
	m := res.Msg
	created, _ := time.Parse(time.RFC3339Nano, m.GetCreatedAt())
	updated, _ := time.Parse(time.RFC3339Nano, m.GetUpdatedAt())
	return Case{ID: m.GetId(), CaseNumber: m.GetCaseNumber(), CustomerID: m.GetCustomerId(), Specialty: m.GetSpecialty(),
		Urgency: m.GetUrgency(), Status: m.GetStatus(), Title: m.GetTitle(), Question: m.GetQuestion(), Language: m.GetLanguage(),
		ProfessionalID: m.GetProfessionalId(), CreatedAt: created, UpdatedAt: updated}, nil
}

// Ready checks that CaseService is serving.
func (c *Client) Ready(ctx context.Context) error {
	return rpc.Serving(c.health, Target, patientv1connect.CaseServiceName)(ctx)
}

// CaseIDs names every case of patient id, oldest first.
func (c *Client) CaseIDs(ctx context.Context, patientID string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.api.CaseIds(ctx, connect.NewRequest(&patientv1.CaseIdsRequest{CustomerId: patientID}))
	if err != nil {
		return nil, rpc.PeerError(Target, "patient", patientID, err)
	}
	return res.Msg.GetIds(), nil
}
