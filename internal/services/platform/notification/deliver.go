package notification

import (
	"context"
	"errors"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	patientidentity "github.com/secondopinion/platform/internal/clients/patient-identity"
	professionalidentity "github.com/secondopinion/platform/internal/clients/professional-identity"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/services/platform/notification/channel"
	"github.com/secondopinion/platform/internal/services/platform/notification/domain"
	"github.com/secondopinion/platform/internal/services/platform/notification/store"
)

// Patients looks patients up (patient-identity's client).
type Patients interface {
	Patient(ctx context.Context, id string) (patientidentity.Patient, error)
}

// Professionals looks professionals up (professional-identity's client).
type Professionals interface {
	Professional(ctx context.Context, id string) (professionalidentity.Professional, error)
}

const (
	// leaseFor is how long a replica holds a delivery it sends: longer
	// than an attempt can take (an SMTP conversation is bounded to 30 s).
	leaseFor = 2 * time.Minute
	// batch bounds the deliveries one pass claims per query.
	batch = 50
	// settle is how long after a wake-up the worker looks: the wake-up
	// comes from within a transaction that commits a moment later.
	settle = 250 * time.Millisecond
)

// wake asks the delivery worker to look soon.
func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// deliveryLoop sends due deliveries every PollInterval, and soon after a
// wake-up, until ctx ends. Every replica runs it: a delivery is leased
// by the one that claims it (store.Claim).
func (s *Service) deliveryLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	var soon <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
			soon = time.After(settle)
			continue
		case <-soon:
			soon = nil
		case <-t.C:
		}
		if _, err := s.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			s.Log.WarnContext(ctx, "delivery pass failed", "err", err)
		}
	}
}

// DeliverDue makes one attempt at every delivery due now that no other
// replica holds, and returns how many it attempted.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	n := 0
	for {
		ids, err := s.store.Due(ctx, s.now(), batch)
		if err != nil {
			return n, err
		}
		claimed := 0
		for _, id := range ids {
			l, ok, err := s.store.Claim(ctx, id, s.now(), leaseFor)
			if err != nil {
				return n, err
			}
			if !ok {
				continue // another replica's
			}
			claimed++
			n++
			o := s.attempt(ctx, l.Delivery)
			if _, err := s.store.Finish(ctx, l, o, s.now()); err != nil {
				return n, err
			}
			s.logOutcome(ctx, l.Delivery, o)
		}
		if len(ids) < batch || claimed == 0 {
			return n, nil
		}
	}
}

func (s *Service) logOutcome(ctx context.Context, d store.Delivery, o store.Outcome) {
	// Ids and kinds only: the error names servers, never a person.
	switch o.Status {
	case domain.Failed:
		s.Log.InfoContext(ctx, "delivery failed, will retry", "delivery", d.ID, "kind", d.Kind, "attempt", d.Attempts+1,
			"next", o.Next, "err", o.Error)
	case domain.Dead:
		s.Log.WarnContext(ctx, "delivery dead after its retries", "delivery", d.ID, "kind", d.Kind, "attempts", d.Attempts+1,
			"err", o.Error)
	case domain.Skipped:
		s.Log.InfoContext(ctx, "delivery skipped", "delivery", d.ID, "kind", d.Kind, "reason", o.Error)
	}
}

// addressee is whom a delivery goes to, as looked up when it is sent.
type addressee struct {
	channel  vocab.Channel
	to       []string
	name     string // their first name; "" for admins
	language vocab.Language
}

// errNobody is an addressee with no channel to reach them on.
var errNobody = errors.New("the recipient allows no channel, or has no address for it")

// attempt sends a delivery once and says what became of it.
func (s *Service) attempt(ctx context.Context, d store.Delivery) store.Outcome {
	n, err := s.store.Notification(ctx, d.NotificationID)
	if err != nil {
		return s.failed(d, err, "")
	}
	a, err := s.addressee(ctx, d, vocab.Language(n.Language))
	if fault.Is(err, fault.KindNotFound) {
		return store.Outcome{Status: domain.Skipped, Error: "the recipient no longer exists"}
	}
	if errors.Is(err, errNobody) {
		return store.Outcome{Status: domain.Skipped, Error: err.Error()}
	}
	if err != nil {
		return s.failed(d, err, "")
	}
	m, err := domain.Render(a.language, d.Kind, a.name, n.Params, s.cfg.AppURL)
	if err != nil {
		return s.failed(d, err, string(a.channel))
	}
	recipient := d.RecipientID
	if d.To == domain.Admin {
		recipient = string(domain.Admin)
	}
	if err := s.send(ctx, recipient, a, m); err != nil {
		return s.failed(d, err, string(a.channel))
	}
	return store.Outcome{Status: domain.Sent, Channel: string(a.channel)}
}

// send hands a rendered message for recipient (whose id the folders
// file it by) to its channel.
func (s *Service) send(ctx context.Context, recipient string, a addressee, m domain.Message) error {
	if a.channel == vocab.SMS {
		return s.texter.SendSMS(ctx, channel.SMS{RecipientID: recipient, To: a.to[0], Body: m.SMS})
	}
	return s.mailer.SendEmail(ctx, channel.Email{RecipientID: recipient, To: a.to, Subject: m.Subject, Text: m.Text, HTML: m.HTML})
}

// failed is a failed attempt: retried later, or dead once the retries
// are spent or when the provider refused it for good.
func (s *Service) failed(d store.Delivery, err error, ch string) store.Outcome {
	next, dead := s.retry.After(d.Attempts+1, d.RetryFrom, s.now())
	o := store.Outcome{Status: domain.Failed, Channel: ch, Error: err.Error(), Next: next}
	if dead || errors.Is(err, channel.ErrRefused) {
		o.Status, o.Next = domain.Dead, time.Time{}
	}
	return o
}

// addressee looks up whom d goes to and how: a patient by their
// preferences, a professional by email in their language, admins at
// NOTIFICATION_ADMIN_EMAILS.
func (s *Service) addressee(ctx context.Context, d store.Delivery, lang vocab.Language) (addressee, error) {
	switch d.To {
	case domain.Patient:
		p, err := s.patients.Patient(ctx, d.RecipientID)
		if err != nil {
			return addressee{}, err
		}
		c, ok := domain.Choose(domain.Prefs{Preferred: vocab.Channel(p.PreferredChannel), Email: p.EmailNotifications,
			SMS: p.SMSNotifications, HasEmail: p.Email != "", HasPhone: p.Phone != ""})
		if !ok {
			return addressee{}, errNobody
		}
		to := p.Email
		if c == vocab.SMS {
			to = p.Phone
		}
		return addressee{channel: c, to: []string{to}, name: p.FirstName, language: lang}, nil
	case domain.Professional:
		p, err := s.professionals.Professional(ctx, d.RecipientID)
		if err != nil {
			return addressee{}, err
		}
		if p.Email == "" {
			return addressee{}, errNobody
		}
		return addressee{channel: vocab.Email, to: []string{p.Email}, name: p.FirstName,
			language: domain.FirstLanguage(p.Languages)}, nil
	case domain.Admin:
		if len(s.cfg.AdminEmails) == 0 {
			return addressee{}, errNobody
		}
		return addressee{channel: vocab.Email, to: s.cfg.AdminEmails, language: domain.Languages[0]}, nil
	}
	return addressee{}, errNobody
}
