package store

import (
	"context"
	"fmt"

	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// Report is the outcome of a verification.
type Report struct {
	OK      bool
	Entries int // entries read
	// FirstBrokenEntry is the seq of the first entry that is missing or
	// does not match its hash or its predecessor; nil when OK.
	FirstBrokenEntry *int64
	Reason           string
}

func (r *Report) broke(seq int64, format string, args ...any) {
	if r.FirstBrokenEntry != nil {
		return
	}
	r.OK, r.FirstBrokenEntry, r.Reason = false, &seq, fmt.Sprintf(format, args...)
}

// Verify recomputes the chain of db's audit trail in seq order, one row at
// a time, and reports the first entry that was changed (its hash no longer
// matches its content), replaced (its prev_hash no longer matches the entry
// before) or deleted (a gap in seq, or a tail missing behind the chain
// head). Entries appended while it runs are left for the next run. An
// entry of form 2 whose personal fields an erasure replaced by their
// digests verifies as it did: its hash covers the digests (ComputeHash).
// Entries of form 1 verify as they were written.
//
// What it cannot see is a rewrite of every hash from the edit onwards
// together with the chain head, by someone with write access to the whole
// store; anchoring the head outside the store would close that.
func Verify(ctx context.Context, db *sqldb.DB) (Report, error) {
	var headSeq int64
	var headHash string
	if err := db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_chain_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return Report{}, fmt.Errorf("verify audit chain: read head: %w", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT `+columns+` FROM audit_entries WHERE seq <= $1 ORDER BY seq`, headSeq)
	if err != nil {
		return Report{}, fmt.Errorf("verify audit chain: %w", err)
	}
	defer rows.Close()
	r := Report{OK: true}
	prev, want := Genesis, int64(1)
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return Report{}, fmt.Errorf("verify audit chain: entry %d: %w", want, err)
		}
		r.Entries++
		switch {
		case e.Seq != want:
			r.broke(want, "entry %d is missing", want)
		case e.PrevHash != prev:
			r.broke(e.Seq, "its prev_hash is not the hash of entry %d", e.Seq-1)
		case e.ComputeHash() != e.Hash:
			r.broke(e.Seq, "its hash does not match its content")
		}
		prev, want = e.Hash, e.Seq+1
	}
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("verify audit chain: %w", err)
	}
	switch {
	case want <= headSeq:
		r.broke(want, "entries %d to %d are missing", want, headSeq)
	case prev != headHash:
		r.broke(headSeq, "the chain head does not match entry %d", headSeq)
	}
	return r, nil
}
