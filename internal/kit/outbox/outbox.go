// Package outbox makes events as durable as the state they describe, and
// their effects happen once.
//
//   - A service writes its events into its own store in the same
//     transaction as the state change (Add): no state without its events,
//     no events without their state.
//   - A Relay publishes the outbox in order, at least once: rows are marked
//     published only after the transport accepted them, so a crash in
//     between publishes them again, never skips them.
//   - A Consumer records every handled event id in the inbox in the same
//     transaction as the handler's effect, so a redelivered event has no
//     second effect. A failed event is acknowledged and parked in the inbox,
//     retried with exponential backoff for hours, and after MaxAttempts kept
//     as a dead letter that an admin lists (DeadLetters) and replays
//     (Replay).
//
// A crash at any instant therefore loses no event and doubles no effect.
// Retries may reorder a failed event after later events of its aggregate.
package outbox

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/telemetry"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates the outbox and inbox tables in a service's store; they
// keep their own migration history beside the service's.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "outbox_goose_version")
}

// Add writes events into the outbox within tx, which must be the
// transaction of the state change they describe. The trace context of ctx
// travels in each envelope. Call Relay.Notify after the commit to publish
// without waiting for the next poll.
func Add(ctx context.Context, tx *sql.Tx, events ...bus.Event) error {
	tp := telemetry.Traceparent(ctx)
	for _, e := range events {
		if e.Traceparent == "" {
			e.Traceparent = tp
		}
		env, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("outbox %s %s: %w", e.Type, e.ID, err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO outbox (event_id, event_type, aggregate_id, envelope, created_at) VALUES ($1, $2, $3, $4, $5)`,
			e.ID, e.Type, e.AggregateID, string(env), time.Now().UTC()); err != nil {
			return fmt.Errorf("outbox %s %s: %w", e.Type, e.ID, err)
		}
	}
	return nil
}
