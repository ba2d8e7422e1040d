package testkit

import (
	"encoding/json"
	"testing"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// Outbox is every event queued in db's outbox, in order: what a service's
// tests read to see what it published in the transaction of a change.
func Outbox(t testing.TB, db *sqldb.DB) []bus.Event {
	t.Helper()
	rows, err := db.Query(`SELECT envelope FROM outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []bus.Event
	for rows.Next() {
		var env string
		var e bus.Event
		if err := rows.Scan(&env); err != nil {
			t.Fatalf("outbox row: %v", err)
		}
		if err := json.Unmarshal([]byte(env), &e); err != nil {
			t.Fatalf("outbox row: %v", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
