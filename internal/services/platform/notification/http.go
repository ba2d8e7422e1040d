package notification

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/platform/notification/domain"
	"github.com/secondopinion/platform/internal/services/platform/notification/store"
)

// Notification is an in-app notice, in words.
type Notification struct {
	ID        string     `json:"id" format:"uuid"`
	Kind      string     `json:"kind" example:"opinion_ready" doc:"what it tells; the title and body say it in words"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	Link      string     `json:"link,omitempty" format:"uri" doc:"where in the app it leads"`
	CaseID    string     `json:"caseId,omitempty" format:"uuid"`
	CreatedAt time.Time  `json:"createdAt"`
	ReadAt    *time.Time `json:"readAt,omitempty" doc:"absent while unread"`
}

// Delivery is an entry of the delivery log, as admins see it: who, what
// kind, which channel and how it went — never the address or the text.
type Delivery struct {
	ID             string     `json:"id" format:"uuid"`
	NotificationID string     `json:"notificationId,omitempty" format:"uuid" doc:"absent for a secret (a sign-in code or reset token), which is never kept"`
	Audience       string     `json:"audience" enum:"patient,professional,admin,user"`
	RecipientID    string     `json:"recipientId,omitempty" doc:"the patient, professional or user; absent for admins"`
	Kind           string     `json:"kind"`
	Channel        string     `json:"channel,omitempty" enum:"EMAIL,SMS" doc:"absent until an attempt chose one"`
	Status         string     `json:"status" enum:"QUEUED,FAILED,SENT,DEAD,SKIPPED"`
	Attempts       int        `json:"attempts"`
	LastError      string     `json:"lastError,omitempty" doc:"why the last attempt failed or was skipped; names servers, never a person"`
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
	NextAttemptAt  *time.Time `json:"nextAttemptAt,omitempty" doc:"while QUEUED or FAILED"`
	SentAt         *time.Time `json:"sentAt,omitempty"`
}

type (
	listInput struct {
		Cursor         string `query:"cursor" doc:"opaque cursor from the previous page's nextCursor"`
		Limit          int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
		AcceptLanguage string `header:"Accept-Language" doc:"the language of titles and bodies (en, de); default the notice's"`
	}
	listOutput struct{ Body page.Page[Notification] }
	readInput  struct {
		ID             string `path:"id" format:"uuid"`
		AcceptLanguage string `header:"Accept-Language"`
	}
	readOutput          struct{ Body Notification }
	listDeliveriesInput struct {
		Status string `query:"status" enum:"QUEUED,FAILED,SENT,DEAD,SKIPPED" doc:"only deliveries in this status; DEAD lists those to replay"`
		Cursor string `query:"cursor" doc:"opaque cursor from the previous page's nextCursor"`
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
	}
	listDeliveriesOutput struct{ Body page.Page[Delivery] }
	retryInput           struct {
		ID string `path:"id" format:"uuid"`
	}
	retryOutput struct{ Body Delivery }
)

func (s *Service) routes(api huma.API) {
	tags := []string{"Notifications"}
	anyone := authz.Roles(authn.RolePatient, authn.RoleProfessional, authn.RoleAdmin)
	admin := authz.Roles(authn.RoleAdmin)
	httpapi.Register(api, huma.Operation{OperationID: "list-notifications", Method: http.MethodGet, Path: "/api/v1/notifications",
		Summary: "The caller's notifications, newest first (an admin's: those to every admin)", Tags: tags}, anyone, s.list)
	httpapi.Register(api, huma.Operation{OperationID: "read-notification", Method: http.MethodPost, Path: "/api/v1/notifications/{id}/read",
		Summary: "Mark one of the caller's notifications read", Tags: tags}, anyone.Owned(), s.markRead)
	httpapi.Register(api, huma.Operation{OperationID: "list-notification-deliveries", Method: http.MethodGet,
		Path: "/api/v1/notifications/deliveries", Summary: "The delivery log, latest changed first (admin)", Tags: tags},
		admin, s.listDeliveries)
	httpapi.Register(api, huma.Operation{OperationID: "retry-notification-delivery", Method: http.MethodPost,
		Path: "/api/v1/notifications/deliveries/{id}/retry", Summary: "Queue a DEAD delivery again (admin)", Tags: tags,
		Errors: []int{http.StatusConflict}}, admin, s.retryDelivery)
}

// whose are the notices the caller sees: their own, or an admin's, the
// admins'.
func whose(p authn.Principal) (domain.Audience, string) {
	switch p.Role {
	case authn.RoleAdmin:
		return domain.Admin, ""
	case authn.RoleProfessional:
		return domain.Professional, p.Subject
	}
	return domain.Patient, p.Subject
}

func (s *Service) list(ctx context.Context, in *listInput) (*listOutput, error) {
	after, err := page.Decode(in.Cursor)
	if err != nil {
		return nil, err
	}
	to, id := whose(authn.FromContext(ctx))
	ns, next, err := s.store.List(ctx, to, id, after, in.Limit)
	if err != nil {
		return nil, err
	}
	items := make([]Notification, 0, len(ns))
	for _, n := range ns {
		v, err := s.toNotification(n, in.AcceptLanguage)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	return &listOutput{page.Page[Notification]{Items: items, NextCursor: next}}, nil
}

func (s *Service) markRead(ctx context.Context, in *readInput) (*readOutput, error) {
	n, err := s.store.Notification(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	// Another's notice is answered as a missing one.
	if to, id := whose(authn.FromContext(ctx)); n.To != to || n.RecipientID != id {
		return nil, fault.NotFound("notification")
	}
	if n, err = s.store.MarkRead(ctx, in.ID, s.now()); err != nil {
		return nil, err
	}
	v, err := s.toNotification(n, in.AcceptLanguage)
	if err != nil {
		return nil, err
	}
	return &readOutput{v}, nil
}

func (s *Service) listDeliveries(ctx context.Context, in *listDeliveriesInput) (*listDeliveriesOutput, error) {
	after, err := page.Decode(in.Cursor)
	if err != nil {
		return nil, err
	}
	ds, next, err := s.store.Deliveries(ctx, in.Status, after, in.Limit)
	if err != nil {
		return nil, err
	}
	return &listDeliveriesOutput{page.Of(ds, next, toDelivery)}, nil
}

func (s *Service) retryDelivery(ctx context.Context, in *retryInput) (*retryOutput, error) {
	d, err := s.store.Replay(ctx, in.ID, s.now())
	if err != nil {
		return nil, err
	}
	s.Log.InfoContext(ctx, "dead delivery replayed", "delivery", d.ID, "by", authn.FromContext(ctx).Subject)
	s.wake()
	return &retryOutput{toDelivery(d)}, nil
}

// toNotification renders n in the language the caller asked for, else
// in its own.
func (s *Service) toNotification(n store.Notification, acceptLanguage string) (Notification, error) {
	lang := vocab.Language(n.Language)
	if l, ok := preferred(acceptLanguage); ok {
		lang = l
	}
	m, err := domain.Render(lang, n.Kind, "", n.Params, s.cfg.AppURL)
	if err != nil {
		return Notification{}, err
	}
	return Notification{ID: n.ID, Kind: string(n.Kind), Title: m.Subject, Body: m.Body, Link: m.Link, CaseID: n.Params.CaseID,
		CreatedAt: n.CreatedAt, ReadAt: n.ReadAt}, nil
}

// preferred is the first language of an Accept-Language header that has
// templates.
func preferred(header string) (vocab.Language, bool) {
	for _, part := range strings.Split(header, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if l := vocab.Language(primary); l.Valid() && domain.Language(l) == l {
			return l, true
		}
	}
	return "", false
}

func toDelivery(d store.Delivery) Delivery {
	out := Delivery{ID: d.ID, NotificationID: d.NotificationID, Audience: string(d.To), RecipientID: d.RecipientID,
		Kind: string(d.Kind), Channel: d.Channel, Status: d.Status, Attempts: d.Attempts, LastError: d.LastError,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, SentAt: d.SentAt}
	if d.Status == domain.Queued || d.Status == domain.Failed {
		t := d.NextAttemptAt
		out.NextAttemptAt = &t
	}
	return out
}
