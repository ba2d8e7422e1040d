package patientidentity

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/services/patient/patient-identity/store"
)

// rpcCallers is who may call the internal PatientService: the services
// that need a patient's profile. The plan's CreatePatient and UpdatePatient
// are not offered: patients register and change their profile over REST,
// as themselves, and no service writes profiles for them.
var rpcCallers = rpc.Callers{
	patientv1connect.PatientServiceGetPatientProcedure: {"case-management", "notification", "ai-orchestration", "invoicing"},
}

// rpcServer is the internal PatientService.
type rpcServer struct {
	patientv1connect.UnimplementedPatientServiceHandler
	s *Service
}

func (r *rpcServer) GetPatient(ctx context.Context, req *connect.Request[patientv1.GetPatientRequest]) (*connect.Response[patientv1.PatientResponse], error) {
	p, err := r.s.lookup(ctx, authn.FromContext(ctx), req.Msg.Id)
	return respond(ctx, p, err)
}

func respond(ctx context.Context, p store.Patient, err error) (*connect.Response[patientv1.PatientResponse], error) {
	if err != nil {
		if _, ok := fault.As(err); !ok {
			slog.ErrorContext(ctx, "patient rpc failed", "err", err)
		}
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(&patientv1.PatientResponse{
		Id: p.ID, FirstName: p.FirstName, MiddleName: p.MiddleName, LastName: p.LastName,
		Email: p.Email, DateOfBirth: p.DateOfBirth.Format(time.DateOnly), Phone: p.Phone,
		PreferredChannel: p.PreferredChannel, EmailNotifications: p.EmailNotifications,
		SmsNotifications: p.SMSNotifications,
		CreatedAt:        p.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: p.UpdatedAt.Format(time.RFC3339Nano),
	}), nil
}
