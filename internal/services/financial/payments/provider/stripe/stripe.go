// Package stripe is the Stripe provider: PaymentIntents through
// stripe-go/v82, created and confirmed at once with the payment method the
// client got from Stripe.js, with an idempotency key on every call that
// moves money.
package stripe

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v82"

	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider"
)

// DefaultAPIBase is Stripe's API.
const DefaultAPIBase = "https://api.stripe.com"

// Options reach Stripe.
type Options struct {
	SecretKey string
	APIBase   string       // DefaultAPIBase when empty; tests point it at a local server
	HTTP      *http.Client // nil: a client with a 30 s timeout
	// Retries is how often stripe-go sends a failed call again (with the
	// same idempotency key, so safely).
	Retries int64
}

// Stripe is the provider.
type Stripe struct{ c *stripego.Client }

// New reaches Stripe with o.
func New(o Options) *Stripe {
	if o.APIBase == "" {
		o.APIBase = DefaultAPIBase
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	b := stripego.GetBackendWithConfig(stripego.APIBackend, &stripego.BackendConfig{
		URL: stripego.String(o.APIBase), HTTPClient: o.HTTP, MaxNetworkRetries: stripego.Int64(o.Retries),
		// stripe-go logs request details; ours log what matters.
		LeveledLogger: &stripego.LeveledLogger{Level: stripego.LevelNull},
	})
	return &Stripe{c: stripego.NewClient(o.SecretKey, stripego.WithBackends(&stripego.Backends{API: b, Connect: b, Uploads: b, MeterEvents: b}))}
}

func (*Stripe) Name() string { return provider.Stripe }

func (s *Stripe) CreateIntent(ctx context.Context, p provider.CreateParams) (provider.Intent, error) {
	params := &stripego.PaymentIntentCreateParams{
		Amount: stripego.Int64(p.Amount), Currency: stripego.String(strings.ToLower(p.Currency)),
		PaymentMethod: stripego.String(p.PaymentMethod), Confirm: stripego.Bool(true),
		PaymentMethodTypes: stripego.StringSlice([]string{"card"}), Metadata: p.Metadata,
	}
	params.SetIdempotencyKey(p.IdempotencyKey)
	params.AddExpand("latest_charge")
	pi, err := s.c.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		return declined(err)
	}
	return intent(pi), nil
}

func (s *Stripe) Confirm(ctx context.Context, intentID, key string) (provider.Intent, error) {
	// The client completed 3-D Secure with Stripe.js: the intent has
	// usually moved on already. Only one still waiting is confirmed.
	in, err := s.Get(ctx, intentID)
	if err != nil || in.Status != domain.ChargeRequiresAction {
		return in, err
	}
	params := &stripego.PaymentIntentConfirmParams{}
	params.SetIdempotencyKey(key)
	params.AddExpand("latest_charge")
	pi, err := s.c.V1PaymentIntents.Confirm(ctx, intentID, params)
	if err != nil {
		return declined(err)
	}
	return intent(pi), nil
}

func (s *Stripe) Cancel(ctx context.Context, intentID, key string) (provider.Intent, error) {
	// POST /v1/payment_intents/{id}/cancel; Stripe refuses an intent that
	// succeeded (payment_intent_unexpected_state, 400: Invalid).
	params := &stripego.PaymentIntentCancelParams{CancellationReason: stripego.String("abandoned")}
	params.SetIdempotencyKey(key)
	params.AddExpand("latest_charge")
	pi, err := s.c.V1PaymentIntents.Cancel(ctx, intentID, params)
	if err != nil {
		return provider.Intent{}, classify(err)
	}
	return intent(pi), nil
}

func (s *Stripe) Refund(ctx context.Context, intentID string, amount int64, key, refundID string) (provider.Refund, error) {
	params := &stripego.RefundCreateParams{PaymentIntent: stripego.String(intentID), Amount: stripego.Int64(amount)}
	params.AddMetadata("refund_id", refundID)
	params.SetIdempotencyKey(key)
	r, err := s.c.V1Refunds.Create(ctx, params)
	if err != nil {
		return provider.Refund{}, classify(err)
	}
	out := provider.Refund{ID: r.ID, IntentID: intentID, Amount: r.Amount, Status: string(r.Status)}
	if out.Status == "" {
		out.Status = "succeeded"
	}
	return out, nil
}

func (s *Stripe) Get(ctx context.Context, intentID string) (provider.Intent, error) {
	params := &stripego.PaymentIntentRetrieveParams{}
	params.AddExpand("latest_charge")
	pi, err := s.c.V1PaymentIntents.Retrieve(ctx, intentID, params)
	if err != nil {
		return provider.Intent{}, classify(err)
	}
	return intent(pi), nil
}

func (s *Stripe) List(ctx context.Context, since time.Time) ([]provider.Intent, error) {
	params := &stripego.PaymentIntentListParams{CreatedRange: &stripego.RangeQueryParams{GreaterThanOrEqual: since.Unix()}}
	params.AddExpand("data.latest_charge")
	var out []provider.Intent
	for pi, err := range s.c.V1PaymentIntents.List(ctx, params) {
		if err != nil {
			return nil, classify(err)
		}
		out = append(out, intent(pi))
	}
	return out, nil
}

// Intent maps a PaymentIntent (webhooks carry them too).
func Intent(pi *stripego.PaymentIntent) provider.Intent { return intent(pi) }

func intent(pi *stripego.PaymentIntent) provider.Intent {
	in := provider.Intent{ID: pi.ID, Amount: pi.Amount, Currency: strings.ToUpper(string(pi.Currency)),
		Metadata: pi.Metadata, Created: time.Unix(pi.Created, 0).UTC()}
	if pi.LatestCharge != nil {
		in.AmountRefunded = pi.LatestCharge.AmountRefunded
	}
	switch pi.Status {
	case stripego.PaymentIntentStatusSucceeded:
		in.Status = domain.ChargeSucceeded
	case stripego.PaymentIntentStatusRequiresAction:
		in.Status = domain.ChargeRequiresAction
		in.NextAction = &provider.NextAction{Type: "use_stripe_sdk", ClientSecret: pi.ClientSecret}
		if na := pi.NextAction; na != nil {
			in.NextAction.Type = string(na.Type)
			if na.RedirectToURL != nil {
				in.NextAction.RedirectURL = na.RedirectToURL.URL
			}
		}
	case stripego.PaymentIntentStatusCanceled:
		in.Status = domain.ChargeCanceled
	case stripego.PaymentIntentStatusRequiresPaymentMethod:
		// A confirmed intent back at requires_payment_method was declined.
		in.Status = domain.ChargeFailed
		in.FailureCode = "payment_failed"
		if e := pi.LastPaymentError; e != nil {
			in.FailureCode = domain.FailureCode(string(e.Code), string(e.DeclineCode))
		}
	default: // processing, requires_confirmation, requires_capture
		in.Status = domain.ChargePending
	}
	return in
}

// declined turns a card error that carries its intent into the failed
// intent: a decline is an outcome, not an error.
func declined(err error) (provider.Intent, error) {
	var se *stripego.Error
	if errors.As(err, &se) && se.Type == stripego.ErrorTypeCard {
		in := provider.Intent{Status: domain.ChargeFailed, FailureCode: domain.FailureCode(string(se.Code), string(se.DeclineCode))}
		if se.PaymentIntent != nil {
			in = intent(se.PaymentIntent)
			in.Status = domain.ChargeFailed
			in.FailureCode = domain.FailureCode(string(se.Code), string(se.DeclineCode))
		}
		return in, nil
	}
	return provider.Intent{}, classify(err)
}

func classify(err error) error {
	var se *stripego.Error
	if !errors.As(err, &se) {
		return &provider.Error{Kind: provider.Unavailable, Message: "stripe unreachable", Err: err}
	}
	out := &provider.Error{Kind: provider.Unavailable, Code: string(se.Code), Param: se.Param, Message: se.Msg}
	switch {
	case se.HTTPStatusCode == http.StatusConflict:
		out.Kind = provider.InProgress
	case se.HTTPStatusCode == http.StatusNotFound || se.Code == stripego.ErrorCodeResourceMissing && se.Param == "":
		out.Kind = provider.NotFound
	case se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != http.StatusTooManyRequests &&
		se.HTTPStatusCode != http.StatusUnauthorized:
		out.Kind = provider.Invalid
	}
	return out
}
