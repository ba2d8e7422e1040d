// Package sandbox is the embedded payment provider, the default: it
// behaves like Stripe's test mode with Stripe's test payment methods,
// deterministically, and keeps its intents and refunds in its own tables
// of the service's store, so a restart keeps them.
//
//	pm_card_visa                              succeeds
//	pm_card_chargeDeclined                    fails: card_declined
//	pm_card_chargeDeclinedInsufficientFunds   fails: insufficient_funds
//	pm_card_threeDSecure2Required             asks for 3-D Secure; Confirm completes it, Cancel abandons it
//
// Any other payment method is an invalid request, as an unknown one is at
// Stripe. Idempotency keys work as Stripe's: the same key returns the same
// intent or refund, and the same key with other parameters is refused.
package sandbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the sandbox's tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "sandbox_goose_version")
}

// The test payment methods.
const (
	Visa               = "pm_card_visa"
	Declined           = "pm_card_chargeDeclined"
	InsufficientFunds  = "pm_card_chargeDeclinedInsufficientFunds"
	ThreeDSecureNeeded = "pm_card_threeDSecure2Required"
)

// outcomes are what each test payment method does to a charge.
var outcomes = map[string]struct {
	status domain.Charge
	code   string
}{
	Visa:               {domain.ChargeSucceeded, ""},
	Declined:           {domain.ChargeFailed, "card_declined"},
	InsufficientFunds:  {domain.ChargeFailed, "insufficient_funds"},
	ThreeDSecureNeeded: {domain.ChargeRequiresAction, ""},
}

// Sandbox is the provider.
type Sandbox struct {
	db  *sqldb.DB
	now func() time.Time
}

// New keeps the sandbox's ledger in db, which Migrate prepared; now is its
// clock (nil: time.Now).
func New(db *sqldb.DB, now func() time.Time) *Sandbox {
	if now == nil {
		now = time.Now
	}
	return &Sandbox{db: db, now: now}
}

func (*Sandbox) Name() string { return provider.Sandbox }

var currency = regexp.MustCompile(`^[A-Z]{3}$`)

func invalid(code, param, format string, args ...any) error {
	return &provider.Error{Kind: provider.Invalid, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

func (s *Sandbox) CreateIntent(ctx context.Context, p provider.CreateParams) (provider.Intent, error) {
	out, known := outcomes[p.PaymentMethod]
	switch {
	case p.IdempotencyKey == "":
		return provider.Intent{}, invalid("parameter_missing", "idempotency_key", "the sandbox charges only with an idempotency key")
	case !known:
		return provider.Intent{}, invalid("resource_missing", "payment_method", "no such payment method")
	case p.Amount <= 0:
		return provider.Intent{}, invalid("parameter_invalid_integer", "amount", "amount must be positive")
	case !currency.MatchString(p.Currency):
		return provider.Intent{}, invalid("parameter_invalid", "currency", "currency must be ISO 4217")
	}
	meta, _ := json.Marshal(p.Metadata)
	id := "pi_sbx_" + rand.Text()
	secret := ""
	if out.status == domain.ChargeRequiresAction {
		secret = id + "_secret_" + rand.Text()
	}
	fp := strings.Join([]string{strconv.FormatInt(p.Amount, 10), p.Currency, p.PaymentMethod}, "|")
	_, err := s.db.ExecContext(ctx, `INSERT INTO sandbox_intents (id, idempotency_key, fingerprint, amount, currency,
		payment_method, status, failure_code, client_secret, metadata, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (idempotency_key) DO NOTHING`,
		id, p.IdempotencyKey, fp, p.Amount, p.Currency, p.PaymentMethod, string(out.status), out.code, secret,
		string(meta), s.now().UTC())
	if err != nil {
		return provider.Intent{}, unavailable(err)
	}
	var got string
	in, err := s.scan(s.db.QueryRowContext(ctx, `SELECT `+intentColumns+`, fingerprint FROM sandbox_intents
		WHERE idempotency_key = $1`, p.IdempotencyKey), &got)
	if err != nil {
		return provider.Intent{}, err
	}
	if got != fp {
		return provider.Intent{}, invalid("idempotency_error", "", "keys for idempotent requests can only be used with the same parameters")
	}
	return in, nil
}

func (s *Sandbox) Confirm(ctx context.Context, intentID, _ string) (provider.Intent, error) {
	// Completing the 3-D Secure step is idempotent by its condition: only
	// an intent that requires it moves, once.
	if _, err := s.db.ExecContext(ctx, `UPDATE sandbox_intents SET status = $2, client_secret = ''
		WHERE id = $1 AND status = $3`, intentID, string(domain.ChargeSucceeded), string(domain.ChargeRequiresAction)); err != nil {
		return provider.Intent{}, unavailable(err)
	}
	in, err := s.Get(ctx, intentID)
	if err != nil {
		return provider.Intent{}, err
	}
	if in.Status == domain.ChargeFailed || in.Status == domain.ChargeCanceled {
		return provider.Intent{}, invalid("payment_intent_unexpected_state", "", "the payment intent is %s and cannot be confirmed", in.Status)
	}
	return in, nil
}

// Cancel abandons an intent that did not succeed, as Stripe does; one
// cancelled already is answered as it is (the same cancellation sent
// again), one that succeeded is refused.
func (s *Sandbox) Cancel(ctx context.Context, intentID, _ string) (provider.Intent, error) {
	if _, err := s.db.ExecContext(ctx, `UPDATE sandbox_intents SET status = $2, client_secret = ''
		WHERE id = $1 AND status <> $3 AND status <> $2`, intentID, string(domain.ChargeCanceled), string(domain.ChargeSucceeded)); err != nil {
		return provider.Intent{}, unavailable(err)
	}
	in, err := s.Get(ctx, intentID)
	if err != nil {
		return provider.Intent{}, err
	}
	if in.Status != domain.ChargeCanceled {
		return provider.Intent{}, invalid("payment_intent_unexpected_state", "", "the payment intent is %s and cannot be canceled", in.Status)
	}
	return in, nil
}

func (s *Sandbox) Refund(ctx context.Context, intentID string, amount int64, key, refundID string) (provider.Refund, error) {
	if key == "" {
		return provider.Refund{}, invalid("parameter_missing", "idempotency_key", "the sandbox refunds only with an idempotency key")
	}
	var out provider.Refund
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var prevIntent string
		var prevAmount int64
		err := tx.QueryRowContext(ctx, `SELECT id, intent_id, amount FROM sandbox_refunds WHERE idempotency_key = $1`, key).
			Scan(&out.ID, &prevIntent, &prevAmount)
		if err == nil {
			if prevIntent != intentID || prevAmount != amount {
				return invalid("idempotency_error", "", "keys for idempotent requests can only be used with the same parameters")
			}
			out.IntentID, out.Amount, out.Status = prevIntent, prevAmount, "succeeded"
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return unavailable(err)
		}
		lock := ""
		if s.db.Engine == sqldb.Postgres {
			lock = " FOR UPDATE"
		}
		var status string
		var charged, refunded int64
		err = tx.QueryRowContext(ctx, `SELECT status, amount, amount_refunded FROM sandbox_intents WHERE id = $1`+lock, intentID).
			Scan(&status, &charged, &refunded)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return &provider.Error{Kind: provider.NotFound, Code: "resource_missing", Message: "no such payment intent"}
		case err != nil:
			return unavailable(err)
		case status != string(domain.ChargeSucceeded):
			return invalid("charge_not_refundable", "payment_intent", "only a succeeded charge is refunded")
		case amount <= 0 || amount > charged-refunded:
			return invalid("amount_too_large", "amount", "refund amount is greater than what is left of the charge")
		}
		meta, _ := json.Marshal(map[string]string{"refund_id": refundID})
		out = provider.Refund{ID: "re_sbx_" + rand.Text(), IntentID: intentID, Amount: amount, Status: "succeeded"}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sandbox_refunds (id, idempotency_key, intent_id, amount, metadata, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, out.ID, key, intentID, amount, string(meta), s.now().UTC()); err != nil {
			return unavailable(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sandbox_intents SET amount_refunded = amount_refunded + $2 WHERE id = $1`,
			intentID, amount); err != nil {
			return unavailable(err)
		}
		return nil
	})
	if err != nil {
		var pe *provider.Error
		if !errors.As(err, &pe) {
			// A refund racing another of the same key: the key's unique
			// row decides, and the retry reads the winner's.
			if sqldb.IsUniqueViolation(err) {
				return s.Refund(ctx, intentID, amount, key, refundID)
			}
			err = unavailable(err)
		}
		return provider.Refund{}, err
	}
	return out, nil
}

func (s *Sandbox) Get(ctx context.Context, intentID string) (provider.Intent, error) {
	return s.scan(s.db.QueryRowContext(ctx, `SELECT `+intentColumns+` FROM sandbox_intents WHERE id = $1`, intentID))
}

func (s *Sandbox) List(ctx context.Context, since time.Time) ([]provider.Intent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+intentColumns+` FROM sandbox_intents WHERE created_at >= $1
		ORDER BY created_at DESC, id DESC`, since.UTC())
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []provider.Intent
	for rows.Next() {
		in, err := s.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

const intentColumns = `id, amount, currency, status, failure_code, client_secret, amount_refunded, metadata, created_at`

func (s *Sandbox) scan(row interface{ Scan(...any) error }, extra ...any) (provider.Intent, error) {
	var in provider.Intent
	var status, secret, meta string
	err := row.Scan(append([]any{&in.ID, &in.Amount, &in.Currency, &status, &in.FailureCode, &secret, &in.AmountRefunded,
		&meta, &in.Created}, extra...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return provider.Intent{}, &provider.Error{Kind: provider.NotFound, Code: "resource_missing", Message: "no such payment intent"}
	}
	if err != nil {
		return provider.Intent{}, unavailable(err)
	}
	in.Status = domain.Charge(status)
	if in.Status == domain.ChargeRequiresAction {
		in.NextAction = &provider.NextAction{Type: "use_stripe_sdk", ClientSecret: secret}
	}
	if err := json.Unmarshal([]byte(meta), &in.Metadata); err != nil {
		return provider.Intent{}, unavailable(err)
	}
	return in, nil
}

// Unlink carries out an erasure in the sandbox's ledger, within tx: the
// intents created with idempotency keys keep only our payment's id in
// their metadata, whatever else a caller once sent (a case's or a
// patient's id). It stands in for what erasure cannot do at Stripe:
// Stripe keeps its own records of charges under its own retention,
// which our erasure does not reach — so what payments sends a provider
// names our payment only, never a case or a patient.
func (s *Sandbox) Unlink(ctx context.Context, tx *sql.Tx, keys []string) error {
	for _, key := range keys {
		var id, meta string
		err := tx.QueryRowContext(ctx, `SELECT id, metadata FROM sandbox_intents WHERE idempotency_key = $1`, key).
			Scan(&id, &meta)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sandbox: unlink intent: %w", err)
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(meta), &m); err != nil {
			return fmt.Errorf("sandbox: unlink intent %s: %w", id, err)
		}
		kept := map[string]string{}
		if v, ok := m[provider.MetadataPayment]; ok {
			kept[provider.MetadataPayment] = v
		}
		if len(kept) == len(m) {
			continue
		}
		b, _ := json.Marshal(kept)
		if _, err := tx.ExecContext(ctx, `UPDATE sandbox_intents SET metadata = $2 WHERE id = $1`, id, string(b)); err != nil {
			return fmt.Errorf("sandbox: unlink intent %s: %w", id, err)
		}
	}
	return nil
}

func unavailable(err error) error {
	return &provider.Error{Kind: provider.Unavailable, Message: "sandbox store", Err: err}
}
