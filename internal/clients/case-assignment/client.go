// Package caseassignment is the client of case-assignment's internal
// AssignmentService: who holds a case now.
package caseassignment

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/google/uuid"

	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Target is the service this client reaches.
const Target = "case-assignment"

const timeout = 5 * time.Second

// Assignment is a case's active assignment.
type Assignment struct {
	ID, CaseID, ProfessionalID string
	Deadline, ClaimedAt        time.Time
}

// Client reaches AssignmentService.
type Client struct {
	api    professionalv1connect.AssignmentServiceClient
	health *grpchealth.Client
}

// New reaches case-assignment at peer.
func New(peer service.Peer) *Client {
	return &Client{api: professionalv1connect.NewAssignmentServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...)}
}

// Active is caseID's active assignment; found is false when it has none.
// An answer about another case, or with malformed ids, is an error.
func (c *Client) Active(ctx context.Context, caseID string) (a Assignment, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.api.GetActiveAssignment(ctx, connect.NewRequest(&professionalv1.GetActiveAssignmentRequest{CaseId: caseID}))
	if connect.CodeOf(err) == connect.CodeNotFound {
		return Assignment{}, false, nil
	}
	if err != nil {
		return Assignment{}, false, rpc.PeerError(Target, "assignment of case", caseID, err)
	}
	m := res.Msg
	if m.GetCaseId() != caseID {
		return Assignment{}, false, fmt.Errorf("asked %s for case %s, got an assignment of case %s", Target, caseID, m.GetCaseId())
	}
	for _, id := range []string{m.GetId(), m.GetProfessionalId()} {
		if _, err := uuid.Parse(id); err != nil {
			return Assignment{}, false, fmt.Errorf("assignment of case %s from %s: %w", caseID, Target, err)
		}
	}
	deadline, err := time.Parse(time.RFC3339, m.GetDeadline())
	if err != nil {
		return Assignment{}, false, fmt.Errorf("assignment %s of case %s from %s: deadline: %w", m.GetId(), caseID, Target, err)
	}
	claimed, _ := time.Parse(time.RFC3339, m.GetClaimedAt())
	return Assignment{ID: m.GetId(), CaseID: caseID, ProfessionalID: m.GetProfessionalId(),
		Deadline: deadline.UTC(), ClaimedAt: claimed.UTC()}, true, nil
}

// Ready checks that AssignmentService is serving.
func (c *Client) Ready(ctx context.Context) error {
	return rpc.Serving(c.health, Target, professionalv1connect.AssignmentServiceName)(ctx)
}
