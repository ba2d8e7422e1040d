package payments

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider"
	"github.com/secondopinion/platform/internal/services/financial/payments/store"
)

// awaitingPayment is case-management's status of a case that may be paid.
const awaitingPayment = "AWAITING_PAYMENT"

// casePurpose is why payments reads a case, as the audit trail records it.
const casePurpose = "payment"

// PaymentRequest asks to pay for a case.
type PaymentRequest struct {
	CaseID     string `json:"caseId" format:"uuid"`
	QuoteToken string `json:"quoteToken" minLength:"1" maxLength:"4096" doc:"the signed quote pricing issued for the case"`
	// PaymentMethod is the provider's id of a payment method the client
	// created with the provider (Stripe.js); a card number never reaches
	// this API.
	PaymentMethod string `json:"paymentMethod" pattern:"^pm_[A-Za-z0-9_]{1,250}$" example:"pm_card_visa" doc:"the provider's payment method id, from Stripe.js (never a card number); the sandbox takes Stripe's test methods pm_card_visa, pm_card_chargeDeclined, pm_card_chargeDeclinedInsufficientFunds, pm_card_threeDSecure2Required"`
	Provider      string `json:"provider,omitempty" enum:"sandbox,stripe" doc:"the configured default (PAYMENTS_PROVIDER) when absent"`
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// pay charges for a case on behalf of its patient who.
func (s *Service) pay(ctx context.Context, who authn.Principal, in PaymentRequest) (store.Payment, error) {
	name := in.Provider
	if name == "" {
		name = s.cfg.Provider
	}
	if _, ok := s.providers[name]; !ok {
		return store.Payment{}, fault.Invalid("provider", "the %s provider is not configured", name)
	}
	c, err := s.cases.Case(ctx, in.CaseID, casePurpose)
	if err != nil {
		return store.Payment{}, err
	}
	if c.CustomerID != who.Subject {
		return store.Payment{}, fault.NotFound("case")
	}
	// A case with a payment answers for it, whatever its status now.
	open, found, err := s.store.Open(ctx, s.DB, in.CaseID)
	if err != nil {
		return store.Payment{}, err
	}
	// An attempt left at its 3-D Secure step (the window closed, the bank
	// never answered) gives way to this one: it is cancelled below.
	abandoned := found && abandonable(open)
	if found && !abandoned && !resumable(open, who.Subject, in.PaymentMethod, name) {
		return store.Payment{}, openConflict(open)
	}
	if (!found || abandoned) && c.Status != awaitingPayment {
		return store.Payment{}, fault.Conflict("Case not awaiting payment", "the case is "+c.Status+": only a case awaiting payment can be paid for")
	}
	q, err := s.quotes.Redeem(ctx, in.QuoteToken, in.CaseID, who.Subject)
	if err != nil {
		// pricing's refusals name the quote; anything else (pricing
		// down) passes as it is.
		if f, ok := fault.As(err); ok && f.Kind == fault.KindInvalid && f.Field != "quoteToken" {
			return store.Payment{}, fault.Invalid("quoteToken", "%s", f.Detail)
		}
		return store.Payment{}, err
	}
	if q.CaseID != in.CaseID || q.Total <= 0 || !currencyCode.MatchString(q.Currency) {
		return store.Payment{}, fault.Invalid("quoteToken", "the quote is not one for this case")
	}
	if abandoned {
		if err := s.abandon(ctx, open); err != nil {
			return store.Payment{}, err
		}
	}
	now := s.now()
	p := store.Payment{ID: uuid.Must(uuid.NewV7()).String(), CaseID: in.CaseID, PatientID: who.Subject, QuoteID: q.ID,
		Region: q.Region, Specialty: q.Specialty, Urgency: q.Urgency, Net: q.Net, Discount: q.Discount, Tax: q.Tax,
		TaxRate: q.TaxRate, Amount: q.Total, Currency: q.Currency, Provider: name, PaymentMethod: in.PaymentMethod,
		Status: domain.Processing, CreatedAt: now, UpdatedAt: now}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		open, found, err := s.store.Open(ctx, tx, in.CaseID)
		switch {
		case err != nil:
			return err
		case found && resumable(open, who.Subject, in.PaymentMethod, name) && open.Amount == p.Amount && open.Currency == p.Currency:
			p = open
			return nil
		case found:
			return openConflict(open)
		}
		if err := s.store.Insert(ctx, tx, p); errors.Is(err, store.ErrOpenPayment) {
			// Another attempt for the case won the race.
			return fault.Conflict("Payment in progress", "another payment of this case is being processed")
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return store.Payment{}, err
	}
	return s.charge(ctx, p)
}

// resumable: open is an attempt of the same patient, method and provider
// whose provider call never answered (its process died, or the provider
// was down). Sending the call again carries the same idempotency key, so
// the provider charges once whoever sends it.
func resumable(open store.Payment, patient, method, provider string) bool {
	return open.Status == domain.Processing && open.PatientID == patient && open.PaymentMethod == method && open.Provider == provider
}

// abandonable: open waits for a 3-D Secure step, which a new attempt of
// its case abandons.
func abandonable(open store.Payment) bool {
	return open.Status == domain.RequiresAction && open.IntentID != ""
}

// abandon cancels payment p, left at its 3-D Secure step, at the provider
// and records it CANCELED, freeing its case for a new attempt. A provider
// that refuses because the charge succeeded meanwhile (the step was
// completed after all) has p completed instead — published once, as any
// completion — and the case is answered as paid: it is never charged
// twice.
func (s *Service) abandon(ctx context.Context, p store.Payment) error {
	prov, err := s.provider(p.Provider)
	if err != nil {
		return err
	}
	in, err := prov.Cancel(ctx, p.IntentID, domain.CancelKey(p.ID))
	if err != nil {
		if provider.KindOf(err) != provider.Invalid {
			s.Log.WarnContext(ctx, "payment provider unavailable", "payment", p.ID, "provider", p.Provider, "err", err)
			return fault.Unavailable("the payment provider", err)
		}
		// Refused: the intent moved on. Whatever it is now is recorded.
		if in, err = prov.Get(ctx, p.IntentID); err != nil {
			return fault.Unavailable("the payment provider", err)
		}
	}
	got, err := s.apply(ctx, p.ID, in)
	if err != nil {
		return err
	}
	if got.Status.Open() {
		if got.Status.Paid() {
			s.Log.InfoContext(ctx, "an abandoned 3-D Secure payment had succeeded", "payment", p.ID)
		}
		return openConflict(got)
	}
	return nil
}

func openConflict(p store.Payment) error {
	switch p.Status {
	case domain.Processing:
		return &fault.Error{Kind: fault.KindConflict, Title: "Payment in progress",
			Detail: "a payment of this case is being processed", RetryAfter: 5 * time.Second}
	case domain.RequiresAction:
		return fault.Conflict("Payment awaits authentication",
			"a payment of this case awaits its 3-D Secure step: complete it and confirm payment "+p.ID)
	}
	return fault.Conflict("Case already paid", "the case was paid for by payment "+p.ID)
}

// charge has the provider charge p, recorded PROCESSING, and records the
// outcome.
func (s *Service) charge(ctx context.Context, p store.Payment) (store.Payment, error) {
	prov, err := s.provider(p.Provider)
	if err != nil {
		return store.Payment{}, err
	}
	// The provider learns our payment's id only, never a case's or a
	// patient's: it keeps what it is sent under its own retention, out
	// of reach of an erasure.
	in, err := prov.CreateIntent(ctx, provider.CreateParams{Amount: p.Amount, Currency: p.Currency,
		PaymentMethod: p.PaymentMethod, IdempotencyKey: domain.IntentKey(p.ID),
		Metadata: map[string]string{provider.MetadataPayment: p.ID}})
	if err != nil {
		return s.chargeError(ctx, p, err)
	}
	return s.apply(ctx, p.ID, in)
}

// chargeError answers a provider's error: a request the provider refused
// fails the payment; anything else leaves it PROCESSING, for a retry or
// recovery to send the same call again.
func (s *Service) chargeError(ctx context.Context, p store.Payment, err error) (store.Payment, error) {
	var pe *provider.Error
	switch provider.KindOf(err) {
	case provider.Invalid:
		errors.As(err, &pe)
		code := "invalid_request"
		if pe.Param == "payment_method" {
			code = "invalid_payment_method"
		}
		s.Log.WarnContext(ctx, "payment refused by the provider", "payment", p.ID, "provider", p.Provider, "code", pe.Code)
		failed, err := s.apply(ctx, p.ID, provider.Intent{Status: domain.ChargeFailed, FailureCode: code})
		if err != nil {
			return store.Payment{}, err
		}
		if code == "invalid_payment_method" {
			return failed, fault.Invalid("paymentMethod", "the provider knows no such payment method")
		}
		return failed, &fault.Error{Kind: fault.KindBadGateway, Title: "Payment refused", Detail: "the payment provider refused the request"}
	case provider.InProgress:
		return store.Payment{}, openConflict(p)
	}
	s.Log.WarnContext(ctx, "payment provider unavailable", "payment", p.ID, "provider", p.Provider, "err", err)
	return store.Payment{}, fault.Unavailable("the payment provider", err)
}

// apply records what the provider reports of payment id's charge.
func (s *Service) apply(ctx context.Context, id string, in provider.Intent) (store.Payment, error) {
	var out store.Payment
	var refund bool
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if refund, err = s.advance(ctx, tx, id, in); err != nil {
			return err
		}
		out, err = s.store.Get(ctx, tx, id)
		return err
	})
	if refund {
		s.wake()
	}
	return out, err
}

// advance moves payment id, within tx, as far as the provider's intent
// says — only forward — and publishes payment.succeeded or
// payment.failed with the move, which happens once whoever reports it
// (the request, a webhook, recovery). A payment that succeeds for a case
// that closed meanwhile is refunded: refund says one was queued.
func (s *Service) advance(ctx context.Context, tx *sql.Tx, id string, in provider.Intent) (refund bool, err error) {
	cur, err := s.store.Lock(ctx, tx, id)
	if err != nil {
		return false, err
	}
	now := s.now()
	to, moved := domain.Advance(cur.Status, in.Status)
	if !moved {
		if cur.IntentID == "" && in.ID != "" {
			return false, s.store.SetIntent(ctx, tx, id, in.ID, now)
		}
		return false, nil
	}
	if cur.Status == domain.Canceled && cur.CaseID != "" {
		// Succeeded after we cancelled it: only if the case has no other
		// payment since — otherwise a person must refund one (the
		// reconciliation shows the difference).
		if other, found, err := s.store.Open(ctx, tx, cur.CaseID); err != nil {
			return false, err
		} else if found && other.ID != cur.ID {
			s.Log.ErrorContext(ctx, "a canceled payment succeeded at the provider, and its case has another payment",
				"payment", id, "other", other.ID, "intent", in.ID)
			return false, nil
		}
	}
	if in.Amount != 0 && (in.Amount != cur.Amount || in.Currency != cur.Currency) {
		s.Log.ErrorContext(ctx, "the provider's charge differs from the payment", "payment", id, "intent", in.ID)
	}
	ch := store.Change{Status: to, IntentID: in.ID, At: now}
	switch to {
	case domain.Failed:
		ch.FailureCode = in.FailureCode
		if ch.FailureCode == "" {
			ch.FailureCode = "payment_failed"
		}
	case domain.RequiresAction:
		if na := in.NextAction; na != nil {
			ch.NextActionType, ch.NextActionSecret, ch.NextURL = na.Type, na.ClientSecret, na.RedirectURL
		}
	}
	if ok, err := s.store.Update(ctx, tx, id, cur.Status, ch); err != nil || !ok {
		return false, err
	}
	switch to {
	case domain.Succeeded:
		e, err := events.PaymentSucceededV1.New(Name, aggregate(cur), events.Payment{PaymentID: cur.ID, CaseID: cur.CaseID,
			CustomerID: cur.PatientID, QuoteID: cur.QuoteID, Region: vocab.Region(cur.Region),
			Specialty: vocab.Specialty(cur.Specialty), Urgency: vocab.Urgency(cur.Urgency), NetAmount: cur.Net,
			DiscountAmount: cur.Discount, TaxRate: cur.TaxRate, TaxAmount: cur.Tax, Amount: cur.Amount,
			Currency: cur.Currency, Provider: cur.Provider, Timestamp: now})
		if err != nil {
			return false, err
		}
		if err := outbox.Add(ctx, tx, e); err != nil {
			return false, err
		}
		cur.Status = to
		return s.refundIfClosed(ctx, tx, cur)
	case domain.Failed:
		e, err := events.PaymentFailedV1.New(Name, aggregate(cur), events.PaymentFailed{PaymentID: cur.ID, CaseID: cur.CaseID,
			CustomerID: cur.PatientID, Amount: cur.Amount, Currency: cur.Currency, Code: ch.FailureCode, Timestamp: now})
		if err != nil {
			return false, err
		}
		return false, outbox.Add(ctx, tx, e)
	}
	return false, nil
}

// aggregate is the aggregate of p's events: its case, or the payment
// itself once the case is erased and the payment unlinked from it.
func aggregate(p store.Payment) string {
	if p.CaseID == "" {
		return p.ID
	}
	return p.CaseID
}

// confirm completes the 3-D Secure step of payment id of who.
func (s *Service) confirm(ctx context.Context, who authn.Principal, id string) (store.Payment, error) {
	p, err := s.owned(ctx, who, id)
	if err != nil {
		return store.Payment{}, err
	}
	switch {
	case p.Status == domain.Processing:
		return store.Payment{}, openConflict(p)
	case p.Status == domain.Canceled:
		// Abandoned for a new attempt: its intent is cancelled too.
		return store.Payment{}, fault.Conflict("Payment canceled",
			"payment "+p.ID+" was canceled when the case was paid for anew: it cannot be confirmed")
	case p.Status != domain.RequiresAction:
		// Confirmed already (a retry), or failed: the payment as it is.
		return p, nil
	}
	prov, err := s.provider(p.Provider)
	if err != nil {
		return store.Payment{}, err
	}
	in, err := prov.Confirm(ctx, p.IntentID, domain.ConfirmKey(p.ID))
	if err != nil {
		if provider.KindOf(err) == provider.Invalid {
			return store.Payment{}, fault.Conflict("Payment cannot be confirmed", "the provider refused the confirmation")
		}
		return store.Payment{}, fault.Unavailable("the payment provider", err)
	}
	return s.apply(ctx, p.ID, in)
}

// owned is payment id if who may see it: its patient, or an admin; for
// anyone else it does not exist.
func (s *Service) owned(ctx context.Context, who authn.Principal, id string) (store.Payment, error) {
	if _, err := uuid.Parse(id); err != nil {
		return store.Payment{}, fault.NotFound("payment")
	}
	p, err := s.store.Get(ctx, s.DB, id)
	if err != nil {
		return store.Payment{}, err
	}
	// An erased patient's payment, unlinked (PatientID ""), is nobody's
	// but admins'.
	if who.Role == authn.RoleAdmin || (who.Role == authn.RolePatient && p.PatientID != "" && who.Subject == p.PatientID) {
		return p, nil
	}
	return store.Payment{}, fault.NotFound("payment")
}

// recoverPayment finds out what became of a payment left PROCESSING: it
// asks the provider for its intent — by id, or by our payment's id in
// the intents' metadata when the answer never reached us — and, if the
// provider never saw the call, sends it again with the same idempotency
// key (the provider keeps keys for a day; recovery runs within minutes).
// It never makes a second charge.
func (s *Service) recoverPayment(ctx context.Context, p store.Payment) (bool, error) {
	prov, err := s.provider(p.Provider)
	if err != nil {
		return false, err
	}
	var in provider.Intent
	found := false
	if p.IntentID != "" {
		if in, err = prov.Get(ctx, p.IntentID); err != nil {
			return false, err
		}
		found = true
	} else {
		intents, err := prov.List(ctx, p.CreatedAt.Add(-time.Minute))
		if err != nil {
			return false, err
		}
		for _, it := range intents {
			if it.Metadata[provider.MetadataPayment] == p.ID {
				in, found = it, true
				break
			}
		}
	}
	switch {
	case found:
	case p.PaymentMethod == "" || s.now().Sub(p.CreatedAt) > 23*time.Hour:
		// The provider never charged it, and cannot be asked to any
		// more (the method was erased, or its key expired).
		in = provider.Intent{Status: domain.ChargeFailed, FailureCode: "abandoned"}
	default:
		if _, err := s.charge(ctx, p); err != nil && !fault.Is(err, fault.KindPaymentRequired) {
			return false, err
		}
		return true, nil
	}
	_, err = s.apply(ctx, p.ID, in)
	return err == nil, err
}
