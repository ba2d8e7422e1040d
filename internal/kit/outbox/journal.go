package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// A read model (search, reporting) keeps the events it was built from in
// its journal, so that it can be rebuilt — after a fix to a projection, or
// into an empty store — without asking the producers again: their
// outboxes forget published events after a week.

// Journaled makes the consumer record every event it handles in the
// journal, in the handler's transaction and before the handler runs, so
// that an erasure the handler carries out reaches the event's own row.
func (h Handlers) Journaled() Handlers {
	h.Journal = true
	return h
}

// journalBatch is how many events Replay applies per transaction.
const journalBatch = 500

func record(ctx context.Context, tx *sql.Tx, e bus.Event, at time.Time) error {
	env, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal %s %s: %w", e.Type, e.ID, err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO journal (event_id, event_type, aggregate_id, envelope, recorded_at)
		 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING`,
		e.ID, e.Type, e.AggregateID, string(env), at); err != nil {
		return fmt.Errorf("journal %s %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// ReplayJournal applies h to every event of db's journal in the order they were
// recorded, a batch per transaction, and reports progress after each
// batch; events recorded meanwhile are replayed too. The caller empties
// the model first. A handler's error stops the replay: a rebuild that
// skipped an event would answer differently from the live model.
func ReplayJournal(ctx context.Context, db *sqldb.DB, h Handlers, progress func(done, total int64)) error {
	var total int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM journal`).Scan(&total); err != nil {
		return fmt.Errorf("replay %s: count the journal: %w", db.Service, err)
	}
	var after, done int64
	for {
		n := 0
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx,
				`SELECT seq, envelope FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2`, after, journalBatch)
			if err != nil {
				return err
			}
			type row struct {
				seq int64
				env string
			}
			var batch []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.seq, &r.env); err != nil {
					rows.Close()
					return err
				}
				batch = append(batch, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range batch {
				var e bus.Event
				if err := json.Unmarshal([]byte(r.env), &e); err != nil {
					return fmt.Errorf("journal row %d: %w", r.seq, err)
				}
				if f := h.handler(e.Type); f != nil {
					if err := f(ctx, tx, e); err != nil {
						return fmt.Errorf("event %s %s: %w", e.Type, e.ID, err)
					}
				}
				after = r.seq
			}
			n = len(batch)
			return nil
		})
		if err != nil {
			return fmt.Errorf("replay %s: %w", db.Service, err)
		}
		if n == 0 {
			return nil
		}
		done += int64(n)
		if progress != nil {
			progress(done, max(total, done))
		}
	}
}

// mentioning selects the journal rows of aggregate id or whose envelope
// names it.
const mentioning = `aggregate_id = $1 OR envelope LIKE $2 ESCAPE '\'`

func likePattern(id string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(id) + "%"
}

// ForgetJournal deletes, within tx, the journal rows of aggregate id or
// that name it anywhere, so that a rebuild after an erasure cannot bring
// the erased back.
func ForgetJournal(ctx context.Context, tx *sql.Tx, id string) error {
	if id == "" {
		return fmt.Errorf("forget journal: no id")
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM journal WHERE `+mentioning, id, likePattern(id)); err != nil {
		return fmt.Errorf("forget journal: %w", err)
	}
	return nil
}

// PseudonymiseJournal replaces id by pseudonym, within tx, in the journal
// rows that name it: an erasure that keeps what a read model counts, so a
// rebuild still answers as the live model does.
func PseudonymiseJournal(ctx context.Context, tx *sql.Tx, id, pseudonym string) error {
	if id == "" || pseudonym == "" {
		return fmt.Errorf("pseudonymise journal: no id or pseudonym")
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, aggregate_id, envelope FROM journal WHERE `+mentioning, id, likePattern(id))
	if err != nil {
		return fmt.Errorf("pseudonymise journal: %w", err)
	}
	type row struct {
		seq            int64
		aggregate, env string
	}
	var found []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.seq, &r.aggregate, &r.env); err != nil {
			rows.Close()
			return fmt.Errorf("pseudonymise journal: %w", err)
		}
		found = append(found, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pseudonymise journal: %w", err)
	}
	for _, r := range found {
		if _, err := tx.ExecContext(ctx, `UPDATE journal SET aggregate_id = $2, envelope = $3 WHERE seq = $1`,
			r.seq, strings.ReplaceAll(r.aggregate, id, pseudonym), strings.ReplaceAll(r.env, id, pseudonym)); err != nil {
			return fmt.Errorf("pseudonymise journal: %w", err)
		}
	}
	return nil
}
