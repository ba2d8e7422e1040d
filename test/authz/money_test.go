package authz_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/test/journey"
)

// moneyRequests are the financial domain's operations, merged into the
// matrix's table.
var moneyRequests = map[string]request{
	"GET /api/v1/pricing/catalog": {},
	"PUT /api/v1/pricing/catalog/{region}/{specialty}/{urgency}": {body: func(*fixtures) any {
		return map[string]any{"netAmount": 30000, "currency": "EUR", "taxRate": 2000}
	}},
	"GET /api/v1/pricing/discounts": {},
	"POST /api/v1/pricing/discounts": {body: func(*fixtures) any {
		return map[string]any{"code": "M-" + uuid.NewString()[:8], "kind": "PERCENT", "percent": 1000}
	}},
	// A quote for A's draft case.
	"POST /api/v1/pricing/quotes": {ofA: true, body: func(f *fixtures) any { return map[string]string{"caseId": f.draft} }},

	// Each call pays for a case of A's awaiting payment, with a quote
	// A got for it.
	"POST /api/v1/payments": {ofA: true, raw: func(t *testing.T, f *fixtures) (http.Header, []byte) {
		c := f.awaitingPayment(t)
		q := f.j.Do(t, f.patientA.Token, http.MethodPost, "/api/v1/pricing/quotes", map[string]string{"caseId": c.ID}).
			Want(t, http.StatusCreated)
		b, _ := json.Marshal(map[string]string{"caseId": c.ID, "quoteToken": journey.Str(t, q, "token"), "paymentMethod": "pm_card_visa"})
		return http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {uuid.NewString()}}, b
	}},
	// A's payments, which only A and admins may list.
	"GET /api/v1/payments":               {ofA: true, query: func(f *fixtures) string { return "customerId=" + f.a }},
	"GET /api/v1/payments/{id}":          {ofA: true},
	"POST /api/v1/payments/{id}/confirm": {ofA: true},
	"POST /api/v1/payments/{id}/refund":  {body: func(*fixtures) any { return map[string]string{"reason": "duplicate"} }},
	// None has run yet: the first is an hour after start, or on POST,
	// which the matrix walks later.
	"GET /api/v1/payments/reconciliation": {answer: http.StatusNotFound},
	// Reconciles the sandbox's payments with ours.
	"POST /api/v1/payments/reconciliation": {},
	// Unsigned: refused alike, whoever sends it.
	"POST /api/v1/webhooks/{provider}": {answer: http.StatusBadRequest, body: func(*fixtures) any {
		return map[string]any{"id": "evt_" + uuid.NewString()[:8], "type": "payment_intent.succeeded"}
	}},

	"GET /api/v1/invoices":          {ofA: true, query: func(f *fixtures) string { return "customerId=" + f.a }},
	"GET /api/v1/invoices/{id}":     {ofA: true},
	"GET /api/v1/invoices/{id}/pdf": {ofA: true},

	"GET /api/v1/professionals/{id}/earnings":           {owners: theProfessional},
	"GET /api/v1/professionals/{id}/statements/{month}": {owners: theProfessional},
	"GET /api/v1/professionals/{id}/payout-account":     {owners: theProfessional},
	"PUT /api/v1/professionals/{id}/payout-account": {owners: theProfessional, body: func(*fixtures) any {
		return map[string]string{"holder": "Grace Neurologist", "iban": "DE89370400440532013000"}
	}},
	"GET /api/v1/payouts/rates": {},
	"PUT /api/v1/payouts/rates": {body: func(*fixtures) any {
		return map[string]any{"currency": "EUR", "rates": []map[string]any{
			{"level": "JUNIOR", "opinion": 6000, "reviewerFee": 1500}, {"level": "SENIOR", "opinion": 12000, "reviewerFee": 2000},
			{"level": "EXPERT", "opinion": 20000, "reviewerFee": 2500}, {"level": "DISTINGUISHED", "opinion": 30000, "reviewerFee": 3000}}}
	}},
	"GET /api/v1/payouts": {},
	// A past period without earnings: the admin's call is admitted and
	// finds nothing to pay.
	"POST /api/v1/payouts": {answer: http.StatusConflict, body: func(*fixtures) any {
		return map[string]string{"periodStart": "2020-01-01", "periodEnd": "2020-01-31"}
	}},
	"GET /api/v1/payouts/{id}":       {},
	"GET /api/v1/payouts/{id}/csv":   {},
	"GET /api/v1/payouts/{id}/sepa":  {},
	"POST /api/v1/payouts/{id}/paid": {},
}

// moneyScene is scene's part for the financial paths; false when path is
// none of them.
func (f *fixtures) moneyScene(t *testing.T, path string) (map[string]string, bool) {
	j := f.j
	switch path {
	case "/api/v1/pricing/catalog/{region}/{specialty}/{urgency}":
		return map[string]string{"region": "EU", "specialty": "NEUROLOGY", "urgency": "STANDARD"}, true
	case "/api/v1/payments/{id}", "/api/v1/payments/{id}/refund":
		// Only reads, and an admin's refund: the calls share a payment.
		if f.paid == "" {
			f.paid = f.pay(t, "pm_card_visa")
		}
		return map[string]string{"id": f.paid}, true
	case "/api/v1/payments/{id}/confirm":
		return map[string]string{"id": f.pay(t, "pm_card_threeDSecure2Required")}, true
	case "/api/v1/webhooks/{provider}":
		return map[string]string{"provider": "sandbox"}, true
	case "/api/v1/invoices/{id}", "/api/v1/invoices/{id}/pdf":
		if f.invoiced == "" {
			f.invoiced = f.invoice(t)
		}
		return map[string]string{"id": f.invoiced}, true
	case "/api/v1/professionals/{id}/statements/{month}":
		return map[string]string{"id": f.pro.ID, "month": time.Now().UTC().Format("2006-01")}, true
	case "/api/v1/payouts/{id}", "/api/v1/payouts/{id}/csv", "/api/v1/payouts/{id}/sepa", "/api/v1/payouts/{id}/paid":
		if f.batch == "" {
			j.Approved(t, f.pro, j.OpenCase(t, f.patientA, true))
			today := time.Now().UTC().Format(time.DateOnly)
			m := j.Do(t, f.accounts["admin"].token, http.MethodPost, "/api/v1/payouts",
				map[string]string{"periodStart": today, "periodEnd": today}).Want(t, http.StatusCreated)
			f.batch = journey.Str(t, m, "id")
		}
		return map[string]string{"id": f.batch}, true
	}
	return nil, false
}

// awaitingPayment is a new case of A's, submitted and awaiting payment.
func (f *fixtures) awaitingPayment(t *testing.T) journey.Case {
	t.Helper()
	c := f.j.OpenCase(t, f.patientA, false)
	m := f.j.Do(t, f.patientA.Token, http.MethodPost, "/api/v1/cases/"+c.ID+"/submit", map[string]bool{"confirmIncomplete": true}).
		Want(t, http.StatusOK)
	if m["status"] != "AWAITING_PAYMENT" {
		t.Fatalf("submitted, the case is %v", m["status"])
	}
	return c
}

// pay pays for a new case of A's with payment method pm and returns the
// payment's id.
func (f *fixtures) pay(t *testing.T, pm string) string {
	t.Helper()
	c := f.awaitingPayment(t)
	f.lastPaid = c
	return journey.Str(t, f.j.Pay(t, f.patientA, c, pm).Want(t, http.StatusCreated), "id")
}

// invoice is the id of the invoice of a new paid case of A's.
func (f *fixtures) invoice(t *testing.T) string {
	t.Helper()
	f.pay(t, "pm_card_visa")
	return f.j.First(t, f.patientA.Token, "/api/v1/invoices?caseId="+f.lastPaid.ID)
}
