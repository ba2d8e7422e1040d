// Package store keeps the audit trail: an append-only, hash-chained table
// of entries in the audit service's own SQL store, with one set of queries
// for SQLite and PostgreSQL. Appends are serialised on a single chain-head
// row so the chain never forks. Verify recomputes the chain and names the
// first entry that was tampered with.
//
// No entry is ever deleted, and the one change an entry may undergo is
// the erasure of a person (Erase, erase.go): the fields that name them
// are replaced by their digests, which the entry's hash covers instead of
// the values (canonical form 2, chain.go), so the chain still verifies.
// Triggers refuse every other UPDATE and every DELETE.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the audit tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Entry is one link of the chain.
type Entry struct {
	Seq           int64 // 1, 2, 3, … without gaps
	ID            string
	At            time.Time
	Actor         string // subject id, or the emitting service for domain events
	ActorRole     string
	Action        string
	ResourceType  string
	ResourceID    string
	PatientID     string
	Purpose       string
	ClientAddr    string
	UserAgent     string
	RequestID     string
	Outcome       string
	SourceEventID string // the event the entry came from: appended once
	PrevHash      string
	Hash          string
	Form          int    // the canonical form of Hash: Form1 or Form2
	Pseudonymised Field  // the personal fields holding their digest instead of their value
	Salt          string // of the where-from digests; "" once they are pseudonymised
}

// maxField bounds each text field; longer values (a user agent, say) are
// cut before they are hashed, so what is stored is what is chained.
const maxField = 512

// Store is the audit trail.
type Store struct {
	db *sqldb.DB
}

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// lockHead reads the chain head and, on PostgreSQL, locks it until the
// append's transaction ends. SQLite needs no lock clause: the store opens
// every transaction IMMEDIATE, which already serialises writers.
func (s *Store) lockHead() string {
	q := `SELECT seq, hash FROM audit_chain_head WHERE id = 1`
	if s.db.Engine == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	return q
}

// Append chains e within tx, which must be a transaction of this store,
// and returns it with its seq, id and hashes, in canonical form 2. The
// fields that name an erased subject are pseudonymised as it is appended:
// an event about the subject may still have been on its way when they
// were erased. An entry whose source event is already in the chain is
// not appended again: Append then returns false.
func (s *Store) Append(ctx context.Context, tx *sql.Tx, e Entry) (Entry, bool, error) {
	if e.SourceEventID == "" || e.Action == "" {
		return Entry{}, false, fmt.Errorf("append audit entry: source event and action are required")
	}
	var head int64
	var prev string
	if err := tx.QueryRowContext(ctx, s.lockHead()).Scan(&head, &prev); err != nil {
		return Entry{}, false, fmt.Errorf("append audit entry for event %s: lock chain head: %w", e.SourceEventID, err)
	}
	// Checked under the head lock, so no concurrent append of the same
	// event can slip in between; the UNIQUE constraint backs this up.
	var seen int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_entries WHERE source_event_id = $1`,
		e.SourceEventID).Scan(&seen); err != nil {
		return Entry{}, false, fmt.Errorf("append audit entry for event %s: %w", e.SourceEventID, err)
	}
	if seen > 0 {
		return Entry{}, false, nil
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Entry{}, false, fmt.Errorf("append audit entry for event %s: %w", e.SourceEventID, err)
	}
	e = normalise(e)
	e.Seq, e.ID, e.PrevHash, e.Form, e.Pseudonymised, e.Salt = head+1, id.String(), prev, Form2, 0, rand.Text()
	erased, err := s.erasedAmong(ctx, tx, e.Actor, e.ResourceID, e.PatientID)
	if err != nil {
		return Entry{}, false, fmt.Errorf("append audit entry for event %s: %w", e.SourceEventID, err)
	}
	e = e.pseudonymise(erasedFields(e, erased))
	e.Hash = e.ComputeHash()
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_entries (`+columns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		e.Seq, e.ID, e.At, e.Actor, e.ActorRole, e.Action, e.ResourceType, e.ResourceID, e.PatientID, e.Purpose,
		e.ClientAddr, e.UserAgent, e.RequestID, e.Outcome, e.SourceEventID, e.PrevHash, e.Hash,
		e.Form, e.Pseudonymised, e.Salt); err != nil {
		return Entry{}, false, fmt.Errorf("append audit entry for event %s: %w", e.SourceEventID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1`,
		e.Seq, e.Hash); err != nil {
		return Entry{}, false, fmt.Errorf("append audit entry for event %s: move chain head: %w", e.SourceEventID, err)
	}
	return e, true, nil
}

// normalise brings e to the form both engines store exactly — UTC at
// microsecond precision (PostgreSQL's), valid UTF-8 within maxField bytes
// — so that the hash of the stored entry is the hash computed here.
func normalise(e Entry) Entry {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	for _, f := range []*string{&e.Actor, &e.ActorRole, &e.Action, &e.ResourceType, &e.ResourceID, &e.PatientID,
		&e.Purpose, &e.ClientAddr, &e.UserAgent, &e.RequestID, &e.Outcome, &e.SourceEventID} {
		*f = clip(strings.ToValidUTF8(strings.ReplaceAll(*f, "\x00", ""), "\uFFFD"))
	}
	return e
}

func clip(s string) string {
	if len(s) <= maxField {
		return s
	}
	s = s[:maxField]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

const columns = `seq, id, at, actor, actor_role, action, resource_type, resource_id, patient_id, purpose,
	client_addr, user_agent, request_id, outcome, source_event_id, prev_hash, hash, form, pseudonymised, salt`

func scanEntry(rows *sql.Rows) (Entry, error) {
	var e Entry
	err := rows.Scan(&e.Seq, &e.ID, &e.At, &e.Actor, &e.ActorRole, &e.Action, &e.ResourceType, &e.ResourceID,
		&e.PatientID, &e.Purpose, &e.ClientAddr, &e.UserAgent, &e.RequestID, &e.Outcome, &e.SourceEventID,
		&e.PrevHash, &e.Hash, &e.Form, &e.Pseudonymised, &e.Salt)
	e.At = e.At.UTC()
	return e, err
}

// Filter narrows a listing; zero fields do not filter.
type Filter struct {
	PatientID    string
	Actor        string
	ResourceType string
	ResourceID   string
	From, To     time.Time // From inclusive, To exclusive
}

// List returns up to limit entries matching f, newest first, after the
// cursor position; the returned cursor is "" on the last page. A cursor's
// ID is the seq of the last entry of the previous page.
func (s *Store) List(ctx context.Context, f Filter, after page.Cursor, limit int) ([]Entry, string, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, "$"+strconv.Itoa(len(args))))
	}
	if f.PatientID != "" {
		add("patient_id = %s", f.PatientID)
	}
	if f.Actor != "" {
		add("actor = %s", f.Actor)
	}
	if f.ResourceType != "" {
		add("resource_type = %s", f.ResourceType)
	}
	if f.ResourceID != "" {
		add("resource_id = %s", f.ResourceID)
	}
	if !f.From.IsZero() {
		add("at >= %s", f.From.UTC())
	}
	if !f.To.IsZero() {
		add("at < %s", f.To.UTC())
	}
	if after.ID != "" {
		seq, err := strconv.ParseInt(after.ID, 10, 64)
		if err != nil || seq < 1 {
			return nil, "", fault.Invalid(page.Field, "not a cursor returned by this API")
		}
		add("seq < %s", seq)
	}
	q := `SELECT ` + columns + ` FROM audit_entries`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY seq DESC LIMIT %d`, limit+1)
	out, err := queryEntries(ctx, s.db, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit entries: %w", err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	last := out[limit-1]
	return out[:limit], page.Cursor{Time: last.At, ID: strconv.FormatInt(last.Seq, 10)}.Encode(), nil
}
