package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// erasePage bounds the entries an erasure holds in memory at once.
const erasePage = 500

// Erasure is what an erasure did to the trail.
type Erasure struct {
	// Pseudonymised counts the entries whose fields naming the subject now
	// hold the subject's pseudonym.
	Pseudonymised int
	// Kept counts the entries of canonical form 1 that name the subject:
	// their hash covers the values, so they cannot change without
	// breaking the chain, and they are left as they are.
	Kept int
}

// Erase pseudonymises subject, an erased patient or case, within tx (a
// transaction of this store): in every entry of form 2 that names them as
// actor, resource or patient, those fields — where they are the actor, the
// address and user agent they acted from, and where they are the patient,
// the resource, which is theirs — are replaced by their digests, which
// keeps every hash. The subject's pseudonym is
// remembered, never their id, so that Append pseudonymises the entries
// about them still to come. Erasing a subject again changes nothing.
func (s *Store) Erase(ctx context.Context, tx *sql.Tx, subject string, at time.Time) (Erasure, error) {
	if subject == "" {
		return Erasure{}, errors.New("erase from the audit trail: no subject")
	}
	// Under the head lock no append can be under way: one that started
	// before has committed its entry, which the scan below sees, and one
	// that starts after finds the subject erased.
	var head int64
	var hash string
	if err := tx.QueryRowContext(ctx, s.lockHead()).Scan(&head, &hash); err != nil {
		return Erasure{}, fmt.Errorf("erase from the audit trail: lock chain head: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO erased_subjects (pseudonym, erased_at) VALUES ($1, $2)
		ON CONFLICT (pseudonym) DO NOTHING`, Pseudonym(subject), at.UTC()); err != nil {
		return Erasure{}, fmt.Errorf("erase from the audit trail: %w", err)
	}
	var r Erasure
	const names = `(actor = $1 OR resource_id = $1 OR patient_id = $1)`
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_entries WHERE form = $2 AND `+names,
		subject, Form1).Scan(&r.Kept); err != nil {
		return Erasure{}, fmt.Errorf("erase from the audit trail: %w", err)
	}
	erased := func(id string) bool { return id == subject }
	// Pages by seq: a pseudonymised entry no longer names the subject, but
	// the cursor, not that, is what ends the loop.
	for after := int64(0); ; {
		es, err := queryEntries(ctx, tx, `SELECT `+columns+` FROM audit_entries
			WHERE form = $2 AND seq > $3 AND `+names+` ORDER BY seq LIMIT `+strconv.Itoa(erasePage),
			subject, Form2, after)
		if err != nil {
			return Erasure{}, fmt.Errorf("erase from the audit trail: %w", err)
		}
		for _, e := range es {
			e = e.pseudonymise(erasedFields(e, erased))
			if _, err := tx.ExecContext(ctx, `UPDATE audit_entries SET actor = $1, resource_id = $2, patient_id = $3,
				client_addr = $4, user_agent = $5, pseudonymised = $6, salt = $7 WHERE seq = $8`,
				e.Actor, e.ResourceID, e.PatientID, e.ClientAddr, e.UserAgent, e.Pseudonymised, e.Salt, e.Seq); err != nil {
				return Erasure{}, fmt.Errorf("erase from the audit trail: entry %d: %w", e.Seq, err)
			}
			after = e.Seq
		}
		r.Pseudonymised += len(es)
		if len(es) < erasePage {
			return r, nil
		}
	}
}

// erasedAmong tells which of ids are of erased subjects.
func (s *Store) erasedAmong(ctx context.Context, tx *sql.Tx, ids ...string) (func(id string) bool, error) {
	args := make([]any, len(ids))
	marks := make([]string, len(ids))
	for i, id := range ids {
		args[i], marks[i] = Pseudonym(id), "$"+strconv.Itoa(i+1)
	}
	rows, err := tx.QueryContext(ctx, `SELECT pseudonym FROM erased_subjects WHERE pseudonym IN (`+
		strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("look up erased subjects: %w", err)
	}
	defer rows.Close()
	erased := map[string]bool{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("look up erased subjects: %w", err)
		}
		erased[p] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up erased subjects: %w", err)
	}
	return func(id string) bool { return id != "" && erased[Pseudonym(id)] }, nil
}

// Concerning returns up to limit entries after seq after, oldest first,
// that concern subject: naming them as patient, actor or resource, or
// naming one of resources (their cases) as the resource.
func (s *Store) Concerning(ctx context.Context, subject string, resources []string, after int64, limit int) ([]Entry, error) {
	args := []any{subject, after}
	in := []string{"$1"}
	for _, r := range resources {
		args = append(args, r)
		in = append(in, "$"+strconv.Itoa(len(args)))
	}
	es, err := queryEntries(ctx, s.db, `SELECT `+columns+` FROM audit_entries WHERE seq > $2
		AND (patient_id = $1 OR actor = $1 OR resource_id IN (`+strings.Join(in, ", ")+`))
		ORDER BY seq LIMIT `+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries concerning a patient: %w", err)
	}
	return es, nil
}

// querier is a store or one of its transactions.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryEntries reads the entries q selects, all of them: callers bound q.
func queryEntries(ctx context.Context, db querier, q string, args ...any) ([]Entry, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
