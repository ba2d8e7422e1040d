package payments

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/store"
)

// Payment is a payment as the API shows it: no payment method, no card
// detail, no health data (the case's specialty stays out).
type Payment struct {
	ID             string        `json:"id" format:"uuid"`
	CaseID         string        `json:"caseId,omitempty" format:"uuid" doc:"absent once the case is erased: the payment is kept, unlinked"`
	QuoteID        string        `json:"quoteId" format:"uuid"`
	Status         domain.Status `json:"status" enum:"PROCESSING,REQUIRES_ACTION,SUCCEEDED,FAILED,CANCELED,PARTIALLY_REFUNDED,REFUNDED" doc:"CANCELED: abandoned at its 3-D Secure step for a new attempt of the case"`
	Amount         int64         `json:"amount" doc:"minor units of currency, e.g. cents"`
	Currency       string        `json:"currency" example:"EUR"`
	Provider       string        `json:"provider" example:"sandbox"`
	RefundedAmount int64         `json:"refundedAmount" doc:"minor units refunded so far"`
	FailureCode    string        `json:"failureCode,omitempty" example:"card_declined" doc:"why a FAILED payment failed: card_declined, insufficient_funds, invalid_payment_method, …"`
	NextAction     *NextAction   `json:"nextAction,omitempty" doc:"with REQUIRES_ACTION: what the client must do, then POST …/confirm"`
	Refunds        []Refund      `json:"refunds" nullable:"false"`
	CreatedAt      time.Time     `json:"createdAt"`
	UpdatedAt      time.Time     `json:"updatedAt"`
}

// NextAction is the 3-D Secure step the client completes with the
// provider's SDK (Stripe.js handleNextAction with the client secret) or
// by redirecting.
type NextAction struct {
	Type         string `json:"type" example:"use_stripe_sdk"`
	ClientSecret string `json:"clientSecret,omitempty"`
	RedirectURL  string `json:"redirectUrl,omitempty"`
}

// Refund is one refund of a payment.
type Refund struct {
	ID        string    `json:"id" format:"uuid"`
	Amount    int64     `json:"amount"`
	Reason    string    `json:"reason" enum:"ADMIN,CASE_CANCELLED,CASE_ORPHANED"`
	Status    string    `json:"status" enum:"PENDING,SUCCEEDED,FAILED" doc:"PENDING: the provider has not answered yet; it is asked again until it does"`
	Note      string    `json:"note,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

type (
	payInput struct {
		Body PaymentRequest
		key  string
	}
	paymentOutput struct {
		Status int
		Body   Payment
	}
	idInput struct {
		ID string `path:"id" format:"uuid"`
	}
	listInput struct {
		CaseID     string `query:"caseId" format:"uuid"`
		CustomerID string `query:"customerId" format:"uuid" doc:"admins: one patient's payments; a patient sees only their own"`
		Cursor     string `query:"cursor"`
		Limit      int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	}
	listOutput  struct{ Body page.Page[Payment] }
	refundInput struct {
		ID   string `path:"id" format:"uuid"`
		Body RefundRequest
	}
	reconcileOutput struct{ Body Reconciliation }
	webhookInput    struct {
		Provider  string `path:"provider" enum:"sandbox,stripe"`
		Signature string `header:"Stripe-Signature"`
		RawBody   []byte `contentType:"application/json"`
	}
	webhookOutput struct {
		Body struct {
			Received bool `json:"received"`
		}
	}
)

// Resolve reads the Idempotency-Key, which paying requires (the platform's
// middleware has replayed or refused a retry before this runs).
func (in *payInput) Resolve(ctx huma.Context) []error {
	in.key = strings.TrimSpace(ctx.Header(idempotency.Header))
	return nil
}

func (s *Service) routes(api huma.API) {
	owner := authz.Roles(authn.RolePatient, authn.RoleAdmin).Owned()
	admin := authz.Roles(authn.RoleAdmin)
	tags := []string{"Payments"}

	httpapi.Register(api, huma.Operation{OperationID: "create-payment", Method: http.MethodPost, Path: "/api/v1/payments",
		Summary: "Pay for one's case awaiting payment with a quote and a payment method (Idempotency-Key required)",
		Description: "Charges the quote's total through the provider. 201 with the payment: SUCCEEDED, or " +
			"REQUIRES_ACTION with the 3-D Secure step to complete and confirm. A payment of the case left at its 3-D Secure " +
			"step is cancelled (CANCELED) for the new attempt; if it succeeded meanwhile, 409 (already paid). A decline is recorded and answered 402 " +
			"with its code as the detail (card_declined, insufficient_funds); another attempt with a new key may succeed.",
		Tags: tags, DefaultStatus: http.StatusCreated, Errors: []int{http.StatusBadRequest, http.StatusPaymentRequired, http.StatusConflict}},
		authz.Roles(authn.RolePatient).Owned(), func(ctx context.Context, in *payInput) (*paymentOutput, error) {
			if in.key == "" {
				return nil, &fault.Error{Kind: fault.KindMalformed, Title: "Idempotency-Key required",
					Detail: "a payment is created only with an Idempotency-Key, so that a retry never pays twice",
					Field:  "header." + idempotency.Header}
			}
			p, err := s.pay(ctx, authn.FromContext(ctx), in.Body)
			if err != nil {
				return nil, err
			}
			return s.answer(ctx, p, http.StatusCreated)
		})
	httpapi.Register(api, huma.Operation{OperationID: "confirm-payment", Method: http.MethodPost, Path: "/api/v1/payments/{id}/confirm",
		Summary: "Complete one's payment after its 3-D Secure step", Tags: tags,
		Errors: []int{http.StatusPaymentRequired, http.StatusConflict}},
		authz.Roles(authn.RolePatient).Owned(), func(ctx context.Context, in *idInput) (*paymentOutput, error) {
			p, err := s.confirm(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return s.answer(ctx, p, http.StatusOK)
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-payment", Method: http.MethodGet, Path: "/api/v1/payments/{id}",
		Summary: "A payment (its patient, admins)", Tags: tags},
		owner, func(ctx context.Context, in *idInput) (*paymentOutput, error) {
			p, err := s.owned(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			out, err := s.view(ctx, p)
			return &paymentOutput{Status: http.StatusOK, Body: out}, err
		})
	httpapi.Register(api, huma.Operation{OperationID: "list-payments", Method: http.MethodGet, Path: "/api/v1/payments",
		Summary: "Payments: a patient's own, all for admins; by case", Tags: tags},
		owner, func(ctx context.Context, in *listInput) (*listOutput, error) {
			return s.list(ctx, authn.FromContext(ctx), in)
		})
	httpapi.Register(api, huma.Operation{OperationID: "refund-payment", Method: http.MethodPost, Path: "/api/v1/payments/{id}/refund",
		Summary: "Refund a payment, in part or all that is left (admins)",
		Description: "200 with the payment once the provider refunded; 202 while the provider has not answered " +
			"(the refund is PENDING and is sent again with the same idempotency key until it does).",
		Tags: tags, Errors: []int{http.StatusConflict, http.StatusBadGateway}},
		admin, func(ctx context.Context, in *refundInput) (*paymentOutput, error) {
			p, pending, err := s.refund(ctx, in.ID, in.Body)
			if err != nil {
				return nil, err
			}
			out, err := s.view(ctx, p)
			status := http.StatusOK
			if pending {
				status = http.StatusAccepted
			}
			return &paymentOutput{Status: status, Body: out}, err
		})
	httpapi.Register(api, huma.Operation{OperationID: "run-payments-reconciliation", Method: http.MethodPost,
		Path: "/api/v1/payments/reconciliation", Summary: "Reconcile payments with the providers now (admins)", Tags: tags},
		admin, func(ctx context.Context, _ *struct{}) (*reconcileOutput, error) {
			r, err := s.Reconcile(ctx)
			return &reconcileOutput{r}, err
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-payments-reconciliation", Method: http.MethodGet,
		Path: "/api/v1/payments/reconciliation", Summary: "The latest reconciliation's differences (admins)", Tags: tags,
		Description: "404 until a reconciliation has run: every PAYMENTS_RECONCILE_INTERVAL, or on POST.",
		Errors:      []int{http.StatusNotFound}},
		admin, func(ctx context.Context, _ *struct{}) (*reconcileOutput, error) {
			r, err := s.latestReconciliation(ctx)
			return &reconcileOutput{r}, err
		})
	httpapi.Register(api, huma.Operation{OperationID: "receive-payment-webhook", Method: http.MethodPost,
		Path: "/api/v1/webhooks/{provider}", Summary: "A payment provider's event, signed (Stripe-Signature)",
		Description: "Unauthenticated: the signature is the credential. An event changes a payment at most once: replays and " +
			"reordered events are safe.", Tags: tags,
		// The body is read raw, as signed: Stripe's event object, which
		// only the signature validates.
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: &huma.Schema{Type: huma.TypeObject, Description: "a Stripe event object"}}}}},
		authz.Public, func(ctx context.Context, in *webhookInput) (*webhookOutput, error) {
			if err := s.webhook(ctx, in.Provider, in.RawBody, in.Signature); err != nil {
				return nil, err
			}
			out := &webhookOutput{}
			out.Body.Received = true
			return out, nil
		})
}

// answer is a payment just created or confirmed: a failed one is the 402
// problem of its decline code.
func (s *Service) answer(ctx context.Context, p store.Payment, status int) (*paymentOutput, error) {
	if p.Status == domain.Failed {
		return nil, &fault.Error{Kind: fault.KindPaymentRequired, Title: "Payment declined", Detail: p.FailureCode}
	}
	out, err := s.view(ctx, p)
	return &paymentOutput{Status: status, Body: out}, err
}

func (s *Service) view(ctx context.Context, p store.Payment) (Payment, error) {
	refunds, err := s.store.Refunds(ctx, s.DB, p.ID)
	if err != nil {
		return Payment{}, err
	}
	out := toPayment(p)
	for _, r := range refunds {
		out.Refunds = append(out.Refunds, Refund{ID: r.ID, Amount: r.Amount, Reason: r.Reason, Status: r.Status, Note: r.Note,
			CreatedAt: r.CreatedAt})
	}
	return out, nil
}

func toPayment(p store.Payment) Payment {
	out := Payment{ID: p.ID, CaseID: p.CaseID, QuoteID: p.QuoteID, Status: p.Status, Amount: p.Amount, Currency: p.Currency,
		Provider: p.Provider, RefundedAmount: p.Refunded, FailureCode: p.FailureCode, Refunds: []Refund{},
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if p.Status == domain.RequiresAction && p.NextActionType != "" {
		out.NextAction = &NextAction{Type: p.NextActionType, ClientSecret: p.NextActionSecret, RedirectURL: p.NextActionURL}
	}
	return out
}

func (s *Service) list(ctx context.Context, who authn.Principal, in *listInput) (*listOutput, error) {
	after, err := page.Decode(in.Cursor)
	if err != nil {
		return nil, err
	}
	f := store.Filter{CaseID: in.CaseID, PatientID: in.CustomerID, After: after, Limit: in.Limit}
	if !authz.IsAdmin(who) {
		// Another patient's payments are missing like a missing resource.
		if in.CustomerID != "" && in.CustomerID != who.Subject {
			return nil, fault.NotFound("payments")
		}
		// A patient's own: never an erased patient's payments, whose
		// patient_id is '' (admins still see them).
		if who.Subject == "" {
			return &listOutput{page.Of([]store.Payment{}, "", toPayment)}, nil
		}
		f.PatientID = who.Subject
	}
	ps, next, err := s.store.List(ctx, f)
	if err != nil {
		return nil, err
	}
	// Lists leave refunds out; a payment's own page has them.
	return &listOutput{page.Of(ps, next, func(p store.Payment) Payment { return toPayment(p) })}, nil
}
