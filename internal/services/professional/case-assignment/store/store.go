// Package store keeps the claim pool in the service's own SQL store, with
// one set of queries for SQLite and PostgreSQL: the projections of
// professionals and of patients' consent to share, the pool entries with
// their exclusions, the assignments, and the ids of erased cases. Every
// decision between competing writers — the claim, a release, an expiry,
// an escalation — is one conditional UPDATE whose affected-row count says
// who won, written with its events in the same transaction; nothing is
// decided on a value read earlier. Whatever makes an entry offered —
// its entry, its patient's consent coming into force, its return after a
// release or an expiry — adds the entry's offer to the outbox in the same
// transaction (Offers).
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the pool tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Pool entry statuses.
const (
	Open    = "OPEN"
	Claimed = "CLAIMED"
	Closed  = "CLOSED"
)

// Assignment statuses. Only ACTIVE ones expire.
const (
	Active    = "ACTIVE"
	Delivered = "DELIVERED" // the opinion was submitted
	Released  = "RELEASED"
	Expired   = "EXPIRED"
	Ended     = "CLOSED" // the case was cancelled, completed or erased
)

var (
	// ErrTaken means another claim won the case.
	ErrTaken = errors.New("case already claimed")
	// ErrExcluded means the professional's assignment of the case expired
	// before: they may not claim it again.
	ErrExcluded = errors.New("professional excluded from the case")
	// ErrNotActive means the assignment has already ended.
	ErrNotActive = errors.New("assignment is not active")
)

// Entry is a case in the pool.
type Entry struct {
	CaseID        string
	PatientID     string // whose consent decides whether the entry is offered; never shown to professionals
	CaseNumber    string
	Specialty     vocab.Specialty
	Urgency       vocab.Urgency
	Language      vocab.Language
	AgeBand       vocab.AgeBand
	RequiredLevel vocab.Level
	Status        string
	Stay          int
	OpenedAt      time.Time
	EscalatedAt   time.Time // zero until escalated in this stay
	Consented     bool      // the patient's consent to share is in force (read, never written)
}

// Held reports whether e is open but out of the pool: its patient's
// consent to share is not in force (domain.Consent), so nobody sees it,
// claims it or is alerted that it waits.
func (e Entry) Held() bool { return e.Status == Open && !e.Consented }

// Match is the part of e that matching looks at.
func (e Entry) Match() domain.Entry {
	return domain.Entry{Specialty: e.Specialty, Urgency: e.Urgency, Language: e.Language, RequiredLevel: e.RequiredLevel, OpenedAt: e.OpenedAt}
}

// Assignment is a professional's claim of a case.
type Assignment struct {
	ID             string
	CaseID         string
	CaseNumber     string
	ProfessionalID string
	Status         string
	ClaimedAt      time.Time
	Deadline       time.Time
	EndedAt        time.Time // zero while ACTIVE or DELIVERED
	// Reminded is the highest share of its time, in percent, that its
	// professional was told had passed (domain.Reminder); 0 for none.
	Reminded int
}

// Events builds the events of a change from its result.
type Events func(Assignment) ([]bus.Event, error)

// Offers builds the events of an entry that has just become offered,
// from the verified professionals not excluded from it (the caller picks
// those who match).
type Offers func(e Entry, candidates []domain.Professional) ([]bus.Event, error)

// Store is the pool store.
type Store struct {
	db     *sqldb.DB
	offers Offers
}

// New returns the store over a migrated db. It adds no offers until
// given how to build them (WithOffers): a tool that only seeds the pool
// has no use for them.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// WithOffers returns the store building with offers the events of every
// entry that becomes offered.
func (s *Store) WithOffers(offers Offers) *Store {
	c := *s
	c.offers = offers
	return &c
}

// ts is how every time is stored: UTC at PostgreSQL's precision, so what
// is read back equals what was written on both engines.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// isID guards queries from ids PostgreSQL's uuid type would reject: a
// malformed id names nothing.
func isID(id string) bool { _, err := uuid.Parse(id); return err == nil }

// queryer is the store's *sqldb.DB or a *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// --- the projection of professionals -----------------------------------

// Profile is a professional's matching profile as professional-identity
// publishes it.
type Profile struct {
	ID          string
	Specialties []vocab.Specialty
	Languages   []vocab.Language
	Level       vocab.Level // the starting level, used only when the row is new
	At          time.Time
}

// SaveProfile records p unless a newer profile is already recorded; the
// level is taken only for a professional not seen before, since
// credentialing owns later changes.
func (s *Store) SaveProfile(ctx context.Context, tx *sql.Tx, p Profile) error {
	if !isID(p.ID) {
		return fmt.Errorf("save profile: professional id %q is not a UUID", p.ID)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO professionals (id, level, specialties, languages, profile_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET specialties = excluded.specialties, languages = excluded.languages, profile_at = excluded.profile_at
		WHERE professionals.profile_at IS NULL OR professionals.profile_at <= excluded.profile_at`,
		p.ID, p.Level, join(p.Specialties), join(p.Languages), ts(p.At))
	if err != nil {
		return fmt.Errorf("save profile of %s: %w", p.ID, err)
	}
	return nil
}

// SetStatus records a professional's standing as of at, unless a newer one
// is recorded.
func (s *Store) SetStatus(ctx context.Context, tx *sql.Tx, id string, st domain.Status, at time.Time) error {
	return s.setPart(ctx, tx, id, "status", string(st), at)
}

// SetLevel records a professional's level as of at, unless a newer one is
// recorded.
func (s *Store) SetLevel(ctx context.Context, tx *sql.Tx, id string, l vocab.Level, at time.Time) error {
	return s.setPart(ctx, tx, id, "level", string(l), at)
}

// setPart upserts one column and its time; column is one of this file's
// constants, never input.
func (s *Store) setPart(ctx context.Context, tx *sql.Tx, id, column, value string, at time.Time) error {
	if !isID(id) {
		return fmt.Errorf("set %s: professional id %q is not a UUID", column, id)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO professionals (id, `+column+`, `+column+`_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET `+column+` = excluded.`+column+`, `+column+`_at = excluded.`+column+`_at
		WHERE professionals.`+column+`_at IS NULL OR professionals.`+column+`_at <= excluded.`+column+`_at`,
		id, value, ts(at))
	if err != nil {
		return fmt.Errorf("set %s of %s: %w", column, id, err)
	}
	return nil
}

// Professional returns what matching knows of a professional; one never
// heard of is PENDING with nothing to match.
func (s *Store) Professional(ctx context.Context, id string) (domain.Professional, error) {
	unknown := domain.Professional{ID: id, Status: domain.Pending, Level: vocab.Junior}
	if !isID(id) {
		return unknown, nil
	}
	p, err := scanProfessional(s.db.QueryRowContext(ctx, `SELECT `+professionalColumns+` FROM professionals WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return unknown, nil
	}
	if err != nil {
		return p, fmt.Errorf("professional %s: %w", id, err)
	}
	return p, nil
}

const professionalColumns = `id, status, level, specialties, languages`

func scanProfessional(r scanner) (domain.Professional, error) {
	var p domain.Professional
	var specialties, languages string
	err := r.Scan(&p.ID, &p.Status, &p.Level, &specialties, &languages)
	p.Specialties, p.Languages = split[vocab.Specialty](specialties), split[vocab.Language](languages)
	return p, err
}

// candidates are the professionals verified in good standing and not
// excluded from a case, in id order: the ones matching may be offered it.
// Matching itself is the domain's (domain.Rules.Match); the query only
// leaves out whom it would refuse anyway.
func candidates(ctx context.Context, tx *sql.Tx, caseID string) ([]domain.Professional, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+professionalColumns+` FROM professionals p WHERE status = $1
		AND NOT EXISTS (SELECT 1 FROM pool_exclusions x WHERE x.case_id = $2 AND x.professional_id = p.id) ORDER BY id`,
		domain.Verified, caseID)
	if err != nil {
		return nil, fmt.Errorf("candidates for %s: %w", caseID, err)
	}
	defer rows.Close()
	var out []domain.Professional
	for rows.Next() {
		p, err := scanProfessional(rows)
		if err != nil {
			return nil, fmt.Errorf("candidates for %s: %w", caseID, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// offer adds, within tx, the offer of a case's entry that has just
// become offered (OPEN, its patient's consent in force); an entry still
// held is offered when it joins the pool, by SetConsent.
func (s *Store) offer(ctx context.Context, tx *sql.Tx, caseID string) error {
	if s.offers == nil {
		return nil
	}
	e, err := entry(ctx, tx, caseID)
	if err != nil || e.Status != Open || e.Held() {
		return err
	}
	ps, err := candidates(ctx, tx, caseID)
	if err != nil {
		return err
	}
	evs, err := s.offers(e, ps)
	if err != nil {
		return fmt.Errorf("offer case %s: %w", caseID, err)
	}
	return outbox.Add(ctx, tx, evs...)
}

// join and split store a list of codes as one comma-separated column.
func join[T ~string](vs []T) string {
	ss := make([]string, len(vs))
	for i, v := range vs {
		ss[i] = string(v)
	}
	return strings.Join(ss, ",")
}

func split[T ~string](s string) []T {
	if s == "" {
		return nil
	}
	var out []T
	for v := range strings.SplitSeq(s, ",") {
		out = append(out, T(v))
	}
	return out
}

// --- the projection of consents ----------------------------------------

// consented is the condition, on a row of pool, that its patient's
// consent to share is in force; a row without a patient has none.
const consented = `EXISTS (SELECT 1 FROM consents c WHERE c.patient_id = pool.patient_id AND c.granted)`

// consent is what is recorded of a patient's consent to share: the zero
// Consent when nothing is.
func consent(ctx context.Context, q queryer, patientID string) (domain.Consent, error) {
	var c domain.Consent
	if !isID(patientID) {
		return c, nil
	}
	err := q.QueryRowContext(ctx, `SELECT granted, revision, changed_at FROM consents WHERE patient_id = $1`, patientID).
		Scan(&c.Granted, &c.Revision, &c.At)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Consent{}, nil
	}
	if err != nil {
		return c, fmt.Errorf("consent of %s: %w", patientID, err)
	}
	c.At = c.At.UTC()
	return c, nil
}

// SetConsent records news of a patient's consent to share unless what is
// recorded is as new or newer (domain.Consent.Supersedes). When the
// consent comes into force (domain.Consent.Joins), the patient's held
// entries join the pool for a new stay, waiting from the consent's time
// (or their own entry, if later), and each is offered. A withdrawal needs no write to the
// pool: entries are held by the condition consented wherever the pool is
// read or claimed, so no entry can slip between the two.
func (s *Store) SetConsent(ctx context.Context, tx *sql.Tx, patientID string, news domain.Consent) error {
	if !isID(patientID) {
		return fmt.Errorf("set consent: patient id %q is not a UUID", patientID)
	}
	old, err := consent(ctx, tx, patientID)
	if err != nil || !news.Supersedes(old) {
		return err
	}
	at := ts(news.At)
	// Written only if the row is still what was read: a concurrent change
	// (a retry running beside a delivery) makes this one fail and be
	// retried, to be decided again on what that change left.
	res, err := tx.ExecContext(ctx, `INSERT INTO consents (patient_id, granted, revision, changed_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (patient_id) DO UPDATE SET granted = excluded.granted, revision = excluded.revision, changed_at = excluded.changed_at
		WHERE consents.granted = $5 AND consents.revision = $6 AND consents.changed_at = $7`,
		patientID, news.Granted, news.Revision, at, old.Granted, old.Revision, ts(old.At))
	if err != nil {
		return fmt.Errorf("set consent of %s: %w", patientID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errors.Join(err, fmt.Errorf("set consent of %s: changed concurrently", patientID))
	}
	if !news.Joins(old) {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE pool SET stay = stay + 1, escalated_at = NULL, updated_at = $2,
		opened_at = CASE WHEN opened_at < $2 THEN $2 ELSE opened_at END
		WHERE patient_id = $1 AND status = $3`, patientID, at, Open); err != nil {
		return fmt.Errorf("cases of %s join the pool: %w", patientID, err)
	}
	joined, err := ids(ctx, tx, `SELECT case_id FROM pool WHERE patient_id = $1 AND status = $2 ORDER BY opened_at, case_id`, patientID, Open)
	if err != nil {
		return fmt.Errorf("cases of %s join the pool: %w", patientID, err)
	}
	for _, id := range joined {
		if err := s.offer(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}

// --- the pool -------------------------------------------------------------

// Enter puts a case into the pool as OPEN for its first stay: offered
// (with its offer) if its patient's consent to share is in force, held
// until it is otherwise. A case already known keeps its state: it comes
// back to the pool through this service's own expiry and release, in
// their transactions, and a closed case never reopens; an OPEN one gets
// its summary refreshed, and is offered if that names a patient whose
// consent is in force where it was held. An erased case is not entered
// again.
func (s *Store) Enter(ctx context.Context, tx *sql.Tx, e Entry) error {
	if !isID(e.CaseID) || !isID(e.PatientID) {
		return fmt.Errorf("enter pool: case id %q or patient id %q is not a UUID", e.CaseID, e.PatientID)
	}
	if gone, err := erased(ctx, tx, e.CaseID); err != nil || gone {
		return err
	}
	at := ts(e.OpenedAt)
	// The insert's row count says whether this call entered the case, so a
	// concurrent delivery of another entry event cannot offer it twice.
	res, err := tx.ExecContext(ctx, `INSERT INTO pool
		(case_id, patient_id, case_number, specialty, urgency, language, age_band, required_level, status, stay, opened_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10)
		ON CONFLICT (case_id) DO NOTHING`,
		e.CaseID, e.PatientID, e.CaseNumber, e.Specialty, e.Urgency, e.Language, e.AgeBand, e.RequiredLevel, Open, at)
	if err != nil {
		return fmt.Errorf("enter case %s into the pool: %w", e.CaseID, err)
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return fmt.Errorf("enter case %s into the pool: %w", e.CaseID, err)
	case n == 1:
		return s.offer(ctx, tx, e.CaseID)
	}
	before, err := entry(ctx, tx, e.CaseID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE pool SET patient_id = $2, case_number = $3, specialty = $4, urgency = $5, language = $6,
		age_band = $7, required_level = $8, updated_at = $9 WHERE case_id = $1 AND status = $10`,
		e.CaseID, e.PatientID, e.CaseNumber, e.Specialty, e.Urgency, e.Language, e.AgeBand, e.RequiredLevel, at, Open); err != nil {
		return fmt.Errorf("refresh case %s in the pool: %w", e.CaseID, err)
	}
	if !before.Held() {
		return nil
	}
	return s.offer(ctx, tx, e.CaseID)
}

// Close takes a cancelled or completed case out of the pool for good and
// ends its ACTIVE assignment. A case not seen yet is recorded CLOSED, so
// that a late entry event cannot open it; an erased one is left as it is,
// out of the pool and without its number.
func (s *Store) Close(ctx context.Context, tx *sql.Tx, caseID, caseNumber string, at time.Time) error {
	if !isID(caseID) {
		return fmt.Errorf("close case: case id %q is not a UUID", caseID)
	}
	if gone, err := erased(ctx, tx, caseID); err != nil || gone {
		return err
	}
	at = ts(at)
	if _, err := tx.ExecContext(ctx, `INSERT INTO pool
		(case_id, case_number, specialty, urgency, language, age_band, required_level, status, stay, opened_at, updated_at)
		VALUES ($1, $2, '', '', '', '', '', $3, 0, $4, $4)
		ON CONFLICT (case_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at`,
		caseID, caseNumber, Closed, at); err != nil {
		return fmt.Errorf("close case %s: %w", caseID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE assignments SET status = $1, ended_at = $2 WHERE case_id = $3 AND status = $4`,
		Ended, at, caseID, Active); err != nil {
		return fmt.Errorf("close case %s: %w", caseID, err)
	}
	return nil
}

// Deliver marks the professional's ACTIVE assignment of a case DELIVERED:
// the opinion is in, the deadline no longer applies.
func (s *Store) Deliver(ctx context.Context, tx *sql.Tx, caseID, professionalID string) (bool, error) {
	if !isID(caseID) || !isID(professionalID) {
		return false, nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE assignments SET status = $1 WHERE case_id = $2 AND professional_id = $3 AND status = $4`,
		Delivered, caseID, professionalID, Active)
	if err != nil {
		return false, fmt.Errorf("deliver case %s: %w", caseID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

const entryColumns = `case_id, patient_id, case_number, specialty, urgency, language, age_band, required_level, status, stay,
	opened_at, escalated_at, ` + consented

type scanner interface{ Scan(dest ...any) error }

// scanEntry reads entryColumns, then into extra any further columns.
func scanEntry(r scanner, extra ...any) (Entry, error) {
	var e Entry
	var patient sql.NullString
	var escalated sql.NullTime
	err := r.Scan(append([]any{&e.CaseID, &patient, &e.CaseNumber, &e.Specialty, &e.Urgency, &e.Language, &e.AgeBand, &e.RequiredLevel,
		&e.Status, &e.Stay, &e.OpenedAt, &escalated, &e.Consented}, extra...)...)
	e.PatientID, e.OpenedAt, e.EscalatedAt = patient.String, e.OpenedAt.UTC(), escalated.Time.UTC()
	if !escalated.Valid {
		e.EscalatedAt = time.Time{}
	}
	return e, err
}

// Entry returns a case's pool entry; a case never in the pool is not
// found.
func (s *Store) Entry(ctx context.Context, caseID string) (Entry, error) {
	return entry(ctx, s.db, caseID)
}

func entry(ctx context.Context, q queryer, caseID string) (Entry, error) {
	if !isID(caseID) {
		return Entry{}, fault.NotFound("case")
	}
	e, err := scanEntry(q.QueryRowContext(ctx, `SELECT `+entryColumns+` FROM pool WHERE case_id = $1`, caseID))
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fault.NotFound("case")
	}
	if err != nil {
		return Entry{}, fmt.Errorf("pool entry of %s: %w", caseID, err)
	}
	return e, nil
}

// EntryFor returns a case's pool entry and whether professionalID is
// excluded from it, in one query: the claim's hot path.
func (s *Store) EntryFor(ctx context.Context, caseID, professionalID string) (Entry, bool, error) {
	if !isID(caseID) || !isID(professionalID) {
		return Entry{}, false, fault.NotFound("case")
	}
	var ex bool
	e, err := scanEntry(s.db.QueryRowContext(ctx, `SELECT `+entryColumns+`,
		EXISTS (SELECT 1 FROM pool_exclusions x WHERE x.case_id = pool.case_id AND x.professional_id = $2)
		FROM pool WHERE case_id = $1`, caseID, professionalID), &ex)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, false, fault.NotFound("case")
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("pool entry of %s: %w", caseID, err)
	}
	return e, ex, nil
}

func excluded(ctx context.Context, q queryer, caseID, professionalID string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM pool_exclusions WHERE case_id = $1 AND professional_id = $2`,
		caseID, professionalID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("exclusions of %s: %w", caseID, err)
	}
	return n > 0, nil
}

// OpenEntries returns up to limit OPEN entries, held ones left out, that
// professionalID is not excluded from, in the order they entered the
// pool, after the cursor; the caller filters them by matching.
func (s *Store) OpenEntries(ctx context.Context, professionalID string, after page.Cursor, limit int) ([]Entry, error) {
	if !isID(professionalID) {
		return nil, nil
	}
	q := `SELECT ` + entryColumns + ` FROM pool WHERE status = $1 AND ` + consented + `
		AND NOT EXISTS (SELECT 1 FROM pool_exclusions x WHERE x.case_id = pool.case_id AND x.professional_id = $2)`
	args := []any{Open, professionalID}
	if after.ID != "" {
		if !isID(after.ID) {
			return nil, fault.Invalid(page.Field, "not a cursor returned by this API")
		}
		q += ` AND (opened_at > $3 OR (opened_at = $3 AND case_id > $4))`
		args = append(args, ts(after.Time), after.ID)
	}
	q += fmt.Sprintf(` ORDER BY opened_at, case_id LIMIT %d`, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("open pool entries: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("open pool entries: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("open pool entries: %w", err)
	}
	return out, nil
}

// --- claims ---------------------------------------------------------------

// Claim is a professional's attempt to take a case in the stay they saw.
type Claim struct {
	AssignmentID   string
	CaseID         string
	ProfessionalID string
	Stay           int
	At             time.Time
	Deadline       time.Time
	RemindAt       time.Time // when the first reminder is due (domain.NextReminder)
}

// Claim decides a claim in one statement: the pool entry moves from OPEN
// to CLAIMED for exactly one caller, and only one not excluded from the
// case, while its patient's consent to share is in force. The winner's
// assignment and events are written in the same transaction; the unique
// index on ACTIVE assignments backs the decision. Losers get ErrTaken, an
// excluded professional ErrExcluded, a case that closed or was held
// meanwhile a 404.
func (s *Store) Claim(ctx context.Context, c Claim, events Events) (Assignment, error) {
	at := ts(c.At)
	a := Assignment{ID: c.AssignmentID, CaseID: c.CaseID, ProfessionalID: c.ProfessionalID, Status: Active,
		ClaimedAt: at, Deadline: ts(c.Deadline)}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE pool SET status = $1, updated_at = $2
			WHERE case_id = $3 AND status = $4 AND stay = $5 AND `+consented+`
			AND NOT EXISTS (SELECT 1 FROM pool_exclusions x WHERE x.case_id = pool.case_id AND x.professional_id = $6)`,
			Claimed, at, c.CaseID, Open, c.Stay, c.ProfessionalID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(err, lost(ctx, tx, c))
		}
		if err := tx.QueryRowContext(ctx, `SELECT case_number FROM pool WHERE case_id = $1`, c.CaseID).Scan(&a.CaseNumber); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO assignments (id, case_id, case_number, professional_id, status, claimed_at, deadline, remind_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, a.ID, a.CaseID, a.CaseNumber, a.ProfessionalID, a.Status, a.ClaimedAt, a.Deadline,
			ts(c.RemindAt)); err != nil {
			if sqldb.IsUniqueViolation(err) {
				return ErrTaken
			}
			return err
		}
		return addEvents(ctx, tx, a, events)
	})
	if err != nil {
		return Assignment{}, fmt.Errorf("claim case %s: %w", c.CaseID, err)
	}
	return a, nil
}

// lost says why a claim's update changed nothing: the case closed or is
// held, the professional is excluded, or — in every other case — someone
// else was first (possibly in a stay that has ended since).
func lost(ctx context.Context, tx *sql.Tx, c Claim) error {
	e, err := entry(ctx, tx, c.CaseID)
	if err != nil {
		return err
	}
	if e.Status == Closed || e.Held() {
		return fault.NotFound("case")
	}
	ex, err := excluded(ctx, tx, c.CaseID, c.ProfessionalID)
	switch {
	case err != nil:
		return err
	case ex:
		return ErrExcluded
	}
	return ErrTaken
}

func addEvents(ctx context.Context, tx *sql.Tx, a Assignment, events Events) error {
	evs, err := events(a)
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, evs...)
}

// end moves an ACTIVE assignment to status and reopens its case for a
// new stay, in tx; the extra condition narrows which assignments qualify
// (the deadline for an expiry). A case whose patient withdrew their
// consent while it was claimed reopens held. It reports whether this call
// ended it; the caller offers the case once what else it changes (an
// exclusion) is written.
func end(ctx context.Context, tx *sql.Tx, a *Assignment, status string, at time.Time, cond string, args ...any) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE assignments SET status = $1, ended_at = $2 WHERE id = $3 AND status = $4`+cond,
		append([]any{status, at, a.ID, Active}, args...)...)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE pool SET status = $1, stay = stay + 1, opened_at = $2, escalated_at = NULL, updated_at = $2
		WHERE case_id = $3 AND status = $4`, Open, at, a.CaseID, Claimed); err != nil {
		return false, err
	}
	a.Status, a.EndedAt = status, at
	return true, nil
}

// Release gives an ACTIVE assignment back: the case reopens at once, and
// is offered unless held. ErrNotActive when it has already ended.
func (s *Store) Release(ctx context.Context, id string, at time.Time, events Events) (Assignment, error) {
	var a Assignment
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if a, err = get(ctx, tx, id); err != nil {
			return err
		}
		ok, err := end(ctx, tx, &a, Released, ts(at), "")
		switch {
		case err != nil:
			return err
		case !ok:
			return ErrNotActive
		}
		if err := addEvents(ctx, tx, a, events); err != nil {
			return err
		}
		return s.offer(ctx, tx, a.CaseID)
	})
	if err != nil {
		return Assignment{}, fmt.Errorf("release assignment %s: %w", id, err)
	}
	return a, nil
}

// Expire ends an ACTIVE assignment past its deadline at now, reopens its
// case, excludes the professional from it and offers it to the others
// unless held. It reports false when the
// assignment was no longer due — delivered, released, or expired by
// another replica, which then published the event.
func (s *Store) Expire(ctx context.Context, id string, now time.Time, events Events) (bool, error) {
	var done bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		a, err := get(ctx, tx, id)
		if err != nil {
			return err
		}
		at := ts(now)
		if done, err = end(ctx, tx, &a, Expired, at, ` AND deadline <= $5`, at); err != nil || !done {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pool_exclusions (case_id, professional_id, excluded_at) VALUES ($1, $2, $3)
			ON CONFLICT (case_id, professional_id) DO NOTHING`, a.CaseID, a.ProfessionalID, at); err != nil {
			return err
		}
		if err := addEvents(ctx, tx, a, events); err != nil {
			return err
		}
		return s.offer(ctx, tx, a.CaseID)
	})
	if err != nil {
		return false, fmt.Errorf("expire assignment %s: %w", id, err)
	}
	return done, nil
}

// Due lists up to limit ACTIVE assignments whose deadline is at or before
// now, oldest deadline first.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return ids(ctx, s.db, fmt.Sprintf(`SELECT id FROM assignments WHERE status = $1 AND deadline <= $2 ORDER BY deadline LIMIT %d`, limit),
		Active, ts(now))
}

// Reminding lists up to limit ACTIVE assignments whose next reminder
// time is at or before now, earliest first.
func (s *Store) Reminding(ctx context.Context, now time.Time, limit int) ([]Assignment, error) {
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf(`SELECT `+assignmentColumns+` FROM assignments
		WHERE status = $1 AND remind_at <= $2 ORDER BY remind_at LIMIT %d`, limit), Active, ts(now))
	if err != nil {
		return nil, fmt.Errorf("assignments to remind: %w", err)
	}
	defer rows.Close()
	var out []Assignment
	for rows.Next() {
		a, err := scanAssignment(rows)
		if err != nil {
			return nil, fmt.Errorf("assignments to remind: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Remind records that the professional of a, as read, was told percent
// of its time had passed, with its events, and when to look at it next
// (next; zero for never). A percent no higher than a.Reminded only moves
// the next time, with no event. It reports whether this call told it:
// false when the assignment ended or another replica changed it since it
// was read.
func (s *Store) Remind(ctx context.Context, a Assignment, percent int, next time.Time, events Events) (bool, error) {
	told := percent > a.Reminded
	var done bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var remindAt any
		if !next.IsZero() {
			remindAt = ts(next)
		}
		res, err := tx.ExecContext(ctx, `UPDATE assignments SET reminded_percent = $1, remind_at = $2
			WHERE id = $3 AND status = $4 AND reminded_percent = $5`, max(percent, a.Reminded), remindAt, a.ID, Active, a.Reminded)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 || !told {
			return err
		}
		a.Reminded = percent
		if err := addEvents(ctx, tx, a, events); err != nil {
			return err
		}
		done = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("remind assignment %s: %w", a.ID, err)
	}
	return done, nil
}

// Overdue lists up to limit OPEN entries, held ones left out, that
// entered the pool at or before cutoff and were not escalated in this
// stay.
func (s *Store) Overdue(ctx context.Context, cutoff time.Time, limit int) ([]Entry, error) {
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf(`SELECT `+entryColumns+` FROM pool
		WHERE status = $1 AND opened_at <= $2 AND escalated_at IS NULL AND `+consented+` ORDER BY opened_at LIMIT %d`, limit), Open, ts(cutoff))
	if err != nil {
		return nil, fmt.Errorf("overdue pool entries: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("overdue pool entries: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Escalate marks an entry escalated in its stay, with its events, unless
// it was claimed, closed, reopened, held or escalated meanwhile. It
// reports whether this call escalated it.
func (s *Store) Escalate(ctx context.Context, e Entry, at time.Time, events func(Entry) ([]bus.Event, error)) (bool, error) {
	var done bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE pool SET escalated_at = $1
			WHERE case_id = $2 AND status = $3 AND stay = $4 AND escalated_at IS NULL AND `+consented,
			ts(at), e.CaseID, Open, e.Stay)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return err
		}
		evs, err := events(e)
		if err != nil {
			return err
		}
		done = true
		return outbox.Add(ctx, tx, evs...)
	})
	if err != nil {
		return false, fmt.Errorf("escalate case %s: %w", e.CaseID, err)
	}
	return done, nil
}

// IsBusy reports whether err means the store could not take the work in
// time: SQLite's lock wait ran out (SQLITE_BUSY, SQLITE_LOCKED) or
// PostgreSQL refused for lack of connections or a lock timeout.
func IsBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "53300", "55P03", "40001", "40P01": // too many connections, lock not available, serialization, deadlock
			return true
		}
	}
	return false
}

func ids(ctx context.Context, db queryer, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query ids: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("query ids: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// --- erasure ----------------------------------------------------------------

// erased reports whether a case was erased.
func erased(ctx context.Context, q queryer, caseID string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM erased_cases WHERE case_id = $1`, caseID).Scan(&n); err != nil {
		return false, fmt.Errorf("erasure of case %s: %w", caseID, err)
	}
	return n > 0, nil
}

// ForgetPatient drops an erased patient's consent to share, within tx,
// and returns the cases of theirs the pool holds, for the caller to erase
// (EraseCase) without waiting for their case.erased.
func (s *Store) ForgetPatient(ctx context.Context, tx *sql.Tx, patientID string) ([]string, error) {
	if !isID(patientID) {
		return nil, fmt.Errorf("forget patient: patient id %q is not a UUID", patientID)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM consents WHERE patient_id = $1`, patientID); err != nil {
		return nil, fmt.Errorf("forget consent of %s: %w", patientID, err)
	}
	cases, err := ids(ctx, tx, `SELECT case_id FROM pool WHERE patient_id = $1`, patientID)
	if err != nil {
		return nil, fmt.Errorf("cases of %s: %w", patientID, err)
	}
	return cases, nil
}

// EraseCase forgets a case of an erased patient within tx, whatever state
// it is in: its pool entry and exclusions go; its ACTIVE assignment ends
// CLOSED, as when a case is cancelled but with no event, since
// case-management has no case left to act on; and its assignments lose
// the case number, keeping ids, status and times — the professional's
// record of their work. The case id is kept in erased_cases, so that no
// later event about the case enters it again. It returns the ids of the
// case's assignments.
func (s *Store) EraseCase(ctx context.Context, tx *sql.Tx, caseID string, at time.Time) ([]string, error) {
	if !isID(caseID) {
		return nil, fmt.Errorf("erase case: case id %q is not a UUID", caseID)
	}
	at = ts(at)
	// The entry goes before the assignments are touched: a claim racing
	// the erasure holds the entry until it commits, so the assignment it
	// made is there for the updates below.
	for _, st := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO erased_cases (case_id, erased_at) VALUES ($1, $2) ON CONFLICT (case_id) DO NOTHING`, []any{caseID, at}},
		{`DELETE FROM pool WHERE case_id = $1`, []any{caseID}},
		{`DELETE FROM pool_exclusions WHERE case_id = $1`, []any{caseID}},
		{`UPDATE assignments SET status = $2, ended_at = $3 WHERE case_id = $1 AND status = $4`, []any{caseID, Ended, at, Active}},
		{`UPDATE assignments SET case_number = '' WHERE case_id = $1`, []any{caseID}},
	} {
		if _, err := tx.ExecContext(ctx, st.query, st.args...); err != nil {
			return nil, fmt.Errorf("erase case %s: %w", caseID, err)
		}
	}
	assignments, err := ids(ctx, tx, `SELECT id FROM assignments WHERE case_id = $1`, caseID)
	if err != nil {
		return nil, fmt.Errorf("erase case %s: %w", caseID, err)
	}
	return assignments, nil
}

// --- assignments ------------------------------------------------------------

const assignmentColumns = `id, case_id, case_number, professional_id, status, claimed_at, deadline, ended_at, reminded_percent`

func scanAssignment(r scanner) (Assignment, error) {
	var a Assignment
	var ended sql.NullTime
	err := r.Scan(&a.ID, &a.CaseID, &a.CaseNumber, &a.ProfessionalID, &a.Status, &a.ClaimedAt, &a.Deadline, &ended, &a.Reminded)
	a.ClaimedAt, a.Deadline = a.ClaimedAt.UTC(), a.Deadline.UTC()
	if ended.Valid {
		a.EndedAt = ended.Time.UTC()
	}
	return a, err
}

// Assignment returns an assignment by id.
func (s *Store) Assignment(ctx context.Context, id string) (Assignment, error) {
	return get(ctx, s.db, id)
}

func get(ctx context.Context, q queryer, id string) (Assignment, error) {
	if !isID(id) {
		return Assignment{}, fault.NotFound("assignment")
	}
	a, err := scanAssignment(q.QueryRowContext(ctx, `SELECT `+assignmentColumns+` FROM assignments WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Assignment{}, fault.NotFound("assignment")
	}
	if err != nil {
		return Assignment{}, fmt.Errorf("assignment %s: %w", id, err)
	}
	return a, nil
}

// Active returns a case's ACTIVE assignment in one query; a case without
// one, unknown or malformed, is not found. The status is a literal so
// that even a generic plan uses the partial unique index
// assignments_one_active.
func (s *Store) Active(ctx context.Context, caseID string) (Assignment, error) {
	if !isID(caseID) {
		return Assignment{}, fault.NotFound("assignment")
	}
	a, err := scanAssignment(s.db.QueryRowContext(ctx, `SELECT `+assignmentColumns+` FROM assignments
		WHERE case_id = $1 AND status = '`+Active+`'`, caseID))
	if errors.Is(err, sql.ErrNoRows) {
		return Assignment{}, fault.NotFound("assignment")
	}
	if err != nil {
		return Assignment{}, fmt.Errorf("active assignment of %s: %w", caseID, err)
	}
	return a, nil
}

// List returns up to limit assignments, newest claim first, of one
// professional ("" for all), after the cursor, with the next page's
// cursor ("" on the last page).
func (s *Store) List(ctx context.Context, professionalID string, after page.Cursor, limit int) ([]Assignment, string, error) {
	q := `SELECT ` + assignmentColumns + ` FROM assignments WHERE 1 = 1`
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if professionalID != "" {
		if !isID(professionalID) {
			return nil, "", nil
		}
		q += ` AND professional_id = ` + arg(professionalID)
	}
	if after.ID != "" {
		if !isID(after.ID) {
			return nil, "", fault.Invalid(page.Field, "not a cursor returned by this API")
		}
		t := arg(ts(after.Time))
		q += ` AND (claimed_at < ` + t + ` OR (claimed_at = ` + t + ` AND id < ` + arg(after.ID) + `))`
	}
	q += fmt.Sprintf(` ORDER BY claimed_at DESC, id DESC LIMIT %d`, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list assignments: %w", err)
	}
	defer rows.Close()
	var out []Assignment
	for rows.Next() {
		a, err := scanAssignment(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list assignments: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list assignments: %w", err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	last := out[limit-1]
	return out[:limit], page.Cursor{Time: last.ClaimedAt, ID: last.ID}.Encode(), nil
}
