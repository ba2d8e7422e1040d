package events

import (
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
)

// Payments produces the financial events case-management follows.
const Payments = "payments"

// Payment is payment.succeeded and payment.refunded. Amounts are integer
// minor units of an ISO 4217 currency, never floats.
type Payment struct {
	PaymentID  string    `json:"paymentId" format:"uuid"`
	CaseID     string    `json:"caseId" format:"uuid"`
	CustomerID string    `json:"customerId" format:"uuid"`
	Amount     int64     `json:"amount" doc:"minor units, e.g. cents"`
	Currency   string    `json:"currency" example:"EUR" pattern:"^[A-Z]{3}$"`
	Timestamp  time.Time `json:"timestamp"`
}

var (
	PaymentSucceededV1 = bus.Contract[Payment]{Type: "payment.succeeded", Version: 1, Producer: Payments,
		Summary: "A case was paid for: it is submitted."}
	PaymentRefundedV1 = bus.Contract[Payment]{Type: "payment.refunded", Version: 1, Producer: Payments,
		Summary: "A case's payment was refunded: the case is cancelled."}
)
