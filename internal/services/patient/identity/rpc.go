package identity

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/problem"
	"github.com/secondopinion/platform/internal/services/patient/identity/store"
)

// rpcServer is the internal PatientService over the same rules as REST.
type rpcServer struct{ s *Service }

func (r *rpcServer) CreatePatient(ctx context.Context, req *connect.Request[patientv1.CreatePatientRequest]) (*connect.Response[patientv1.PatientResponse], error) {
	m := req.Msg
	p, err := r.s.register(ctx, authn.FromContext(ctx), Registration{
		FirstName: m.FirstName, MiddleName: m.MiddleName, LastName: m.LastName, DateOfBirth: m.DateOfBirth,
		Email: m.Email, Phone: m.Phone, PreferredChannel: Channel(m.PreferredChannel),
		EmailNotifications: m.EmailNotifications, SMSNotifications: m.SmsNotifications, Password: m.Password,
	})
	return respond(ctx, p, err)
}

func (r *rpcServer) GetPatient(ctx context.Context, req *connect.Request[patientv1.GetPatientRequest]) (*connect.Response[patientv1.PatientResponse], error) {
	p, err := r.s.get(ctx, authn.FromContext(ctx), req.Msg.Id)
	return respond(ctx, p, err)
}

func (r *rpcServer) UpdatePatient(ctx context.Context, req *connect.Request[patientv1.UpdatePatientRequest]) (*connect.Response[patientv1.PatientResponse], error) {
	m := req.Msg
	pa := Patch{
		FirstName: m.FirstName, MiddleName: m.MiddleName, LastName: m.LastName, Phone: m.Phone,
		EmailNotifications: m.EmailNotifications, SMSNotifications: m.SmsNotifications,
	}
	if m.PreferredChannel != nil {
		c := Channel(*m.PreferredChannel)
		pa.PreferredChannel = &c
	}
	p, err := r.s.update(ctx, authn.FromContext(ctx), m.Id, pa)
	return respond(ctx, p, err)
}

func respond(ctx context.Context, p store.Patient, err error) (*connect.Response[patientv1.PatientResponse], error) {
	if err != nil {
		if _, ok := problem.As(err); !ok {
			slog.ErrorContext(ctx, "patient rpc failed", "err", err)
		}
		return nil, rpcError(err)
	}
	return connect.NewResponse(&patientv1.PatientResponse{
		Id: p.ID, FirstName: p.FirstName, MiddleName: p.MiddleName, LastName: p.LastName,
		Email: p.Email, DateOfBirth: p.DateOfBirth.Format(time.DateOnly), Phone: p.Phone,
		PreferredChannel: p.PreferredChannel, EmailNotifications: p.EmailNotifications,
		SmsNotifications: p.SMSNotifications,
		CreatedAt:        p.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: p.UpdatedAt.Format(time.RFC3339Nano),
	}), nil
}

// rpcError maps classified errors to gRPC codes; anything else is an
// internal error whose cause stays in this process.
func rpcError(err error) error {
	p, ok := problem.As(err)
	if !ok {
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	code := map[problem.Kind]connect.Code{
		problem.KindInvalid:         connect.CodeInvalidArgument,
		problem.KindNotFound:        connect.CodeNotFound,
		problem.KindConflict:        connect.CodeAlreadyExists,
		problem.KindUnauthenticated: connect.CodeUnauthenticated,
		problem.KindForbidden:       connect.CodePermissionDenied,
		problem.KindUnavailable:     connect.CodeUnavailable,
	}[p.Kind]
	if code == 0 {
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	msg := p.Detail
	if p.Field != "" {
		msg = p.Field + ": " + msg
	}
	return connect.NewError(code, errors.New(msg))
}
