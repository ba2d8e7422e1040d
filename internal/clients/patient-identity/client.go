// Package patientidentity is the client of patient-identity's internal
// PatientService: who a patient is, for the services that need more of a
// patient than an id.
package patientidentity

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Target is the service this client reaches.
const Target = "patient-identity"

// timeout bounds a look-up, so a hung peer costs a request seconds.
const timeout = 5 * time.Second

// Patient is what the internal API tells of a patient.
type Patient struct {
	ID          string
	DateOfBirth time.Time
	// The identifiers below are for services that must remove them from
	// text before it leaves the platform (ai-orchestration's privacy
	// gate); never log them.
	FirstName, MiddleName, LastName string
	Email, Phone                    string
	// How the patient wants to be told (notification): EMAIL or SMS,
	// and whether they allow each channel at all.
	PreferredChannel                     string
	EmailNotifications, SMSNotifications bool
}

// Client reaches PatientService.
type Client struct {
	api    patientv1connect.PatientServiceClient
	health *grpchealth.Client
}

// New reaches patient-identity at peer.
func New(peer service.Peer) *Client {
	return &Client{api: patientv1connect.NewPatientServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...)}
}

// Patient looks a patient up: a missing one is a NotFound fault, the peer
// down or slow an Unavailable one. patient-identity audits the read.
func (c *Client) Patient(ctx context.Context, id string) (Patient, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.api.GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: id}))
	if err != nil {
		return Patient{}, rpc.PeerError(Target, "patient", id, err)
	}
	dob, err := time.Parse(time.DateOnly, res.Msg.GetDateOfBirth())
	if err != nil {
		return Patient{}, fmt.Errorf("patient %s from %s: date of birth: %w", id, Target, err)
	}
	m := res.Msg
	return Patient{ID: m.GetId(), DateOfBirth: dob, FirstName: m.GetFirstName(), MiddleName: m.GetMiddleName(),
		LastName: m.GetLastName(), Email: m.GetEmail(), Phone: m.GetPhone(), PreferredChannel: m.GetPreferredChannel(),
		EmailNotifications: m.GetEmailNotifications(), SMSNotifications: m.GetSmsNotifications()}, nil
}

// Ready checks that PatientService is serving.
func (c *Client) Ready(ctx context.Context) error {
	return rpc.Serving(c.health, Target, patientv1connect.PatientServiceName)(ctx)
}
