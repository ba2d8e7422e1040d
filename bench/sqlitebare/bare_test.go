package sqlitebare

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite"
)

// dsn repeats internal/kit/sqldb's SQLite pragmas: a rate measured with
// other durability settings would not be a peer of the store's.
const dsn = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
	"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite"

// schema is patient-identity's SQLite migration and the outbox table it
// writes a registration's event to, without goose.
var schema = []string{
	`CREATE TABLE patients (
		id TEXT PRIMARY KEY, first_name TEXT NOT NULL, middle_name TEXT NOT NULL DEFAULT '',
		last_name TEXT NOT NULL, date_of_birth TEXT NOT NULL, email TEXT NOT NULL,
		phone TEXT NOT NULL DEFAULT '',
		preferred_channel TEXT NOT NULL CHECK (preferred_channel IN ('EMAIL', 'SMS')),
		email_notifications INTEGER NOT NULL, sms_notifications INTEGER NOT NULL, metadata TEXT,
		created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)`,
	`CREATE UNIQUE INDEX patients_email ON patients (email)`,
	`CREATE TABLE outbox (
		seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL,
		aggregate_id TEXT NOT NULL, envelope TEXT NOT NULL, created_at TIMESTAMP NOT NULL,
		published_at TIMESTAMP)`,
	`CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL`,
	`CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL`,
}

// BenchmarkBareInsert writes what the store writes for one registration —
// a patient and its outbox event — in one transaction per
// registration, one after another like BenchmarkRegisterStore, with
// statements prepared once.
func BenchmarkBareInsert(b *testing.B) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "bare.db")+dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, s := range schema {
		if _, err := db.ExecContext(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	stmts := prepare(b, db,
		`INSERT INTO patients (id, first_name, middle_name, last_name, date_of_birth, email, phone,
			preferred_channel, email_notifications, sms_notifications, metadata, created_at, updated_at)
			VALUES ($1, 'Ada', '', 'Lovelace', '1990-12-10', $2, '', 'EMAIL', 1, 0, '{"source":"web"}', $3, $3)`,
		`INSERT INTO outbox (event_id, event_type, aggregate_id, envelope, created_at)
			VALUES ($1, 'patient.registered', $2, $3, $4)`)
	for b.Loop() {
		id, eventID := uuid.NewString(), uuid.Must(uuid.NewV7()).String()
		now := time.Now().UTC()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, err = tx.StmtContext(ctx, stmts[0]).ExecContext(ctx, id, id+"@example.org", now)
		if err == nil {
			_, err = tx.StmtContext(ctx, stmts[1]).ExecContext(ctx, eventID, id, envelope(eventID, id, now), now)
		}
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
}

func prepare(b *testing.B, db *sql.DB, queries ...string) []*sql.Stmt {
	var stmts []*sql.Stmt
	for _, q := range queries {
		s, err := db.Prepare(q)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		stmts = append(stmts, s)
	}
	return stmts
}

// envelope is an event envelope of the size the store writes, formatted
// without encoding/json.
func envelope(eventID, patientID string, at time.Time) string {
	return fmt.Sprintf(`{"id":%q,"type":"patient.registered","version":1,"aggregateId":%q,`+
		`"serviceId":"patient-identity","timestamp":%q,"payload":{"patientId":%q}}`,
		eventID, patientID, at.Format(time.RFC3339Nano), patientID)
}
