package outbox_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// journal lists the journal's event ids in recorded order, and the
// envelopes joined.
func journal(t *testing.T, db *sqldb.DB) ([]string, string) {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT event_id, envelope FROM journal ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	var all strings.Builder
	for rows.Next() {
		var id, env string
		if err := rows.Scan(&id, &env); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		all.WriteString(env)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids, all.String()
}

func eventIDs(events []bus.Event) []string {
	var ids []string
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}

// A journaled consumer keeps each handled event once, in order, including
// one handled on retry, and none that failed; a rebuild from the journal
// into an emptied model gives the live model back.
func TestJournalRecordsHandledEventsAndReplays(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-journal", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		ctx := context.Background()
		clk := newClock()
		var healthy atomic.Bool
		healthy.Store(true)
		handlers := outbox.Handlers{ByType: map[string]outbox.HandlerFunc{
			"thing.made": func(ctx context.Context, tx *sql.Tx, e bus.Event) error {
				if !healthy.Load() {
					return errFlaky
				}
				return insertEffect(ctx, tx, e)
			},
		}}.Journaled()
		c := outbox.NewConsumer(db, "model", handlers.ByType, outbox.ConsumerOptions{Now: clk.Now, Journal: handlers.Journal})
		events := newEvents(t, "thing.made", 5)
		for _, e := range events[:3] {
			if err := c.Handle(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		healthy.Store(false)
		if err := c.Handle(ctx, events[3]); err != nil {
			t.Fatal(err)
		}
		if ids, _ := journal(t, db); !slices.Equal(ids, eventIDs(events[:3])) {
			t.Fatalf("journal after a failure = %v, want the 3 handled events", ids)
		}
		healthy.Store(true)
		clk.advance(time.Hour)
		if n, err := c.RetryDue(ctx); err != nil || n != 1 {
			t.Fatalf("RetryDue = %d, %v", n, err)
		}
		for _, e := range append(events[4:], events[0]) { // a redelivery is journaled once
			if err := c.Handle(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		want := eventIDs(append(events[:3:3], events[3], events[4]))
		if ids, _ := journal(t, db); !slices.Equal(ids, want) {
			t.Fatalf("journal = %v, want %v", ids, want)
		}

		if _, err := db.ExecContext(ctx, `DELETE FROM effects`); err != nil {
			t.Fatal(err)
		}
		var reports [][2]int64
		if err := outbox.ReplayJournal(ctx, db, handlers, func(done, total int64) {
			reports = append(reports, [2]int64{done, total})
		}); err != nil {
			t.Fatal(err)
		}
		assertExactlyOnce(t, db, events)
		if len(reports) == 0 || reports[len(reports)-1] != [2]int64{5, 5} {
			t.Fatalf("progress = %v, want to end at 5 of 5", reports)
		}

		healthy.Store(false)
		if err := outbox.ReplayJournal(ctx, db, handlers, nil); err == nil || !strings.Contains(err.Error(), events[0].ID) {
			t.Fatalf("a failing replay: %v, want the error naming the event", err)
		}
	})
}

// A consumer that does not ask for a journal keeps none.
func TestJournalOnlyWhenAsked(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-journal", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		c := outbox.NewConsumer(db, "plain", map[string]outbox.HandlerFunc{"thing.made": insertEffect}, outbox.ConsumerOptions{})
		for _, e := range newEvents(t, "thing.made", 2) {
			if err := c.Handle(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
		if ids, _ := journal(t, db); len(ids) != 0 {
			t.Fatalf("journal of a plain consumer = %v", ids)
		}
	})
}

// Erasure reaches the journal: forgetting deletes every row of or naming
// an id, pseudonymising rewrites it; other rows stay as they were.
func TestJournalForgetAndPseudonymise(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-journal", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		ctx := context.Background()
		handlers := outbox.Handlers{Fallback: insertEffect}.Journaled()
		c := outbox.NewConsumer(db, "model", nil, outbox.ConsumerOptions{Fallback: handlers.Fallback, Journal: true})
		const erased, kept, other = "0190a0a0-0000-7000-8000-00000000e1a5", "0190a0a0-0000-7000-8000-0000000000aa", "0190a0a0-0000-7000-8000-0000000000bb"
		mk := func(agg, mention string) bus.Event {
			e, err := bus.New("outbox-test", "thing.made", agg, map[string]string{"subject": mention})
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		events := []bus.Event{mk(erased, ""), mk(other, erased), mk(kept, other), mk("a_b%", "")}
		for _, e := range events {
			if err := c.Handle(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		in := func(fn func(tx *sql.Tx) error) {
			t.Helper()
			if err := db.InTx(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		in(func(tx *sql.Tx) error { return outbox.PseudonymiseJournal(ctx, tx, other, "pseudo-bb") })
		ids, all := journal(t, db)
		if len(ids) != 4 || strings.Contains(all, other) || strings.Count(all, "pseudo-bb") != 2 {
			t.Fatalf("after pseudonymising: %d rows, envelopes %s", len(ids), all)
		}
		var agg string
		if err := db.QueryRowContext(ctx, `SELECT aggregate_id FROM journal WHERE event_id = $1`, events[1].ID).Scan(&agg); err != nil || agg != "pseudo-bb" {
			t.Fatalf("aggregate after pseudonymising = %q, %v", agg, err)
		}
		// A LIKE wildcard in an id matches itself only.
		in(func(tx *sql.Tx) error { return outbox.ForgetJournal(ctx, tx, "a%") })
		if ids, _ := journal(t, db); len(ids) != 4 {
			t.Fatalf("forgetting %q removed rows: %v", "a%", ids)
		}
		in(func(tx *sql.Tx) error { return outbox.ForgetJournal(ctx, tx, erased) })
		ids, all = journal(t, db)
		if !slices.Equal(ids, eventIDs(events[2:])) || strings.Contains(all, erased) {
			t.Fatalf("after forgetting: %v", ids)
		}
	})
}

// A consumer that gives up on an event tells admins once, by an
// event.dead_lettered notice in its outbox naming the event only.
func TestDeadLetterIsNoticed(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-journal", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		ctx := context.Background()
		clk := newClock()
		fail := func(context.Context, *sql.Tx, bus.Event) error { return errFlaky }
		c := outbox.NewConsumer(db, "model", map[string]outbox.HandlerFunc{"thing.made": fail, outbox.DeadLettered.Type: fail},
			outbox.ConsumerOptions{Now: clk.Now, MaxAttempts: 2})
		e := newEvents(t, "thing.made", 1)[0]
		if err := c.Handle(ctx, e); err != nil {
			t.Fatal(err)
		}
		if got := testkit.Outbox(t, db); len(got) != 0 {
			t.Fatalf("a notice before the event is dead: %v", got)
		}
		clk.advance(time.Hour)
		if _, err := c.RetryDue(ctx); err != nil {
			t.Fatal(err)
		}
		notices := testkit.Outbox(t, db)
		if len(notices) != 1 {
			t.Fatalf("outbox = %v, want one notice", notices)
		}
		n, err := outbox.DeadLettered.Decode(notices[0])
		if err != nil {
			t.Fatal(err)
		}
		if n.Consumer != "model" || n.EventID != e.ID || n.EventType != "thing.made" || n.Attempts != 2 || strings.Contains(string(notices[0].Payload), errFlaky.Error()) {
			t.Fatalf("notice = %+v (%s)", n, notices[0].Payload)
		}
		// A notice that dies in turn is not noticed again.
		if err := c.Handle(ctx, notices[0]); err != nil {
			t.Fatal(err)
		}
		clk.advance(time.Hour)
		if _, err := c.RetryDue(ctx); err != nil {
			t.Fatal(err)
		}
		if got := testkit.Outbox(t, db); len(got) != 1 {
			t.Fatalf("outbox after a dead notice = %d events, want still 1", len(got))
		}
	})
}
