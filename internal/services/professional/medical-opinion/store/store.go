// Package store keeps medical opinions (with their author's review of the
// AI pre-analysis), their follow-up questions and the projection of case assignments (who may write which case's opinion) in
// the service's own SQL store, with one set of queries for SQLite and
// PostgreSQL. Every change of an opinion is a conditional update on its
// version, so two concurrent changes never both apply. The opinions of an
// erased case leave it for erased_opinions, as who wrote them and when.
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the opinion tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Querier is a *sql.Tx or the store's *sqldb.DB: reads work in and out of
// a transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ErrStale means the row changed after it was read: the change was not
// applied and must be decided again.
var ErrStale = errors.New("opinion changed concurrently")

// Opinion is a stored opinion.
type Opinion struct {
	ID             string
	CaseID         string
	AssignmentID   string
	ProfessionalID string // the author
	Status         domain.Status
	Specialty      string // the case's, recorded on submission; "" before
	domain.Content
	ReviewComments string // the last reviewer's request for changes
	ReviewerID     string // the last reviewer
	Version        int
	SubmittedAt    time.Time // zero until first submitted
	ApprovedAt     time.Time // zero until approved
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Question is a patient's follow-up question and the author's answer.
type Question struct {
	ID         string
	OpinionID  string
	Seq        int
	Question   string
	Answer     string // "" until answered
	AskedAt    time.Time
	AnsweredAt time.Time // zero until answered
}

// Store is the opinion store.
type Store struct {
	db *sqldb.DB
}

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// DB is the store's database, for reads outside a transaction.
func (s *Store) DB() Querier { return s.db }

func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: utc(t), Valid: !t.IsZero()} }

func valid(ids ...string) bool {
	for _, id := range ids {
		if _, err := uuid.Parse(id); err != nil {
			return false
		}
	}
	return true
}

// Assign records a new assignment as the case's active one and ends any
// other, within tx. An assignment already known (a redelivery, one that
// ended before its case.assigned arrived, or one read through from
// case-assignment before its event) keeps its state and ends nothing, so
// a late or replayed case.assigned cannot end a newer assignment. One of
// an erased case is not recorded: nobody writes its opinion again.
func (s *Store) Assign(ctx context.Context, tx *sql.Tx, a domain.Assignment, at time.Time) error {
	if gone, err := erased(ctx, tx, a.CaseID); err != nil || gone {
		return err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO opinion_assignments (assignment_id, case_id, professional_id, deadline)
		VALUES ($1, $2, $3, $4) ON CONFLICT (assignment_id) DO NOTHING`,
		a.ID, a.CaseID, a.ProfessionalID, utc(a.Deadline))
	if err != nil {
		return fmt.Errorf("assign case %s: %w", a.CaseID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("assign case %s: %w", a.CaseID, err)
	}
	if n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE opinion_assignments SET ended_at = $1
		WHERE case_id = $2 AND assignment_id <> $3 AND ended_at IS NULL`, utc(at), a.CaseID, a.ID); err != nil {
		return fmt.Errorf("assign case %s: %w", a.CaseID, err)
	}
	return nil
}

// End records that an assignment expired or was released, within tx. An
// assignment not seen yet is kept as ended, so its late case.assigned
// cannot make it active; one of an erased case is not kept at all.
func (s *Store) End(ctx context.Context, tx *sql.Tx, a domain.Assignment, at time.Time) error {
	if gone, err := erased(ctx, tx, a.CaseID); err != nil || gone {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO opinion_assignments (assignment_id, case_id, professional_id, ended_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (assignment_id) DO UPDATE SET ended_at = COALESCE(opinion_assignments.ended_at, excluded.ended_at)`,
		a.ID, a.CaseID, a.ProfessionalID, utc(at)); err != nil {
		return fmt.Errorf("end assignment %s: %w", a.ID, err)
	}
	return nil
}

// Active returns the active assignment of a case; without one, an
// inactive zero Assignment. Read in a transaction on PostgreSQL, the
// assignment stays locked until the transaction ends, so that an erasure
// of the case (Erase) waits for a write under it and then sees what it
// wrote; SQLite's immediate transactions already run one at a time.
func (s *Store) Active(ctx context.Context, q Querier, caseID string) (domain.Assignment, error) {
	if !valid(caseID) {
		return domain.Assignment{}, nil
	}
	lock := ""
	if s.db.Engine == sqldb.Postgres {
		lock = " FOR SHARE"
	}
	a := domain.Assignment{Active: true}
	var deadline sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT assignment_id, case_id, professional_id, deadline FROM opinion_assignments
		WHERE case_id = $1 AND ended_at IS NULL ORDER BY deadline DESC LIMIT 1`+lock, caseID).
		Scan(&a.ID, &a.CaseID, &a.ProfessionalID, &deadline)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Assignment{}, nil
	}
	if err != nil {
		return domain.Assignment{}, fmt.Errorf("active assignment of case %s: %w", caseID, err)
	}
	a.Deadline = deadline.Time.UTC()
	return a, nil
}

const opinionColumns = `id, case_id, assignment_id, professional_id, status, specialty, summary, diagnoses, recommendations,
	confidence, answer, refs, review_comments, reviewer_id, version, submitted_at, approved_at, created_at, updated_at, ai_findings`

type scanner interface{ Scan(dest ...any) error }

func scanOpinion(r scanner) (Opinion, error) {
	var o Opinion
	var diagnoses, recommendations, refs, findings string
	var submitted, approved sql.NullTime
	if err := r.Scan(&o.ID, &o.CaseID, &o.AssignmentID, &o.ProfessionalID, &o.Status, &o.Specialty, &o.Summary, &diagnoses,
		&recommendations, &o.Confidence, &o.Answer, &refs, &o.ReviewComments, &o.ReviewerID, &o.Version,
		&submitted, &approved, &o.CreatedAt, &o.UpdatedAt, &findings); err != nil {
		return Opinion{}, err
	}
	for _, f := range []struct {
		raw string
		to  any
	}{{diagnoses, &o.Diagnoses}, {recommendations, &o.Recommendations}, {refs, &o.References}, {findings, &o.AIFindings}} {
		if err := json.Unmarshal([]byte(f.raw), f.to); err != nil {
			return Opinion{}, fmt.Errorf("opinion %s: %w", o.ID, err)
		}
	}
	o.SubmittedAt, o.ApprovedAt = submitted.Time.UTC(), approved.Time.UTC()
	if !submitted.Valid {
		o.SubmittedAt = time.Time{}
	}
	if !approved.Valid {
		o.ApprovedAt = time.Time{}
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return o, nil
}

// one returns the first opinion a query finds, or the 404 of a missing
// opinion.
func one(ctx context.Context, q Querier, where string, args ...any) (Opinion, error) {
	o, err := scanOpinion(q.QueryRowContext(ctx, `SELECT `+opinionColumns+` FROM opinions WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return Opinion{}, fault.NotFound("opinion")
	}
	if err != nil {
		return Opinion{}, fmt.Errorf("get opinion: %w", err)
	}
	return o, nil
}

// Get returns the opinion with id; a malformed id is simply not found.
func (s *Store) Get(ctx context.Context, q Querier, id string) (Opinion, error) {
	if !valid(id) {
		return Opinion{}, fault.NotFound("opinion")
	}
	return one(ctx, q, `id = $1`, id)
}

// ForAssignment returns the opinion written under an assignment.
func (s *Store) ForAssignment(ctx context.Context, q Querier, assignmentID string) (Opinion, error) {
	if !valid(assignmentID) {
		return Opinion{}, fault.NotFound("opinion")
	}
	return one(ctx, q, `assignment_id = $1`, assignmentID)
}

// Latest returns the newest opinion of a case, by professionalID when it
// is not "".
func (s *Store) Latest(ctx context.Context, caseID, professionalID string) (Opinion, error) {
	if !valid(caseID) {
		return Opinion{}, fault.NotFound("opinion")
	}
	if professionalID == "" {
		return one(ctx, s.db, `case_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`, caseID)
	}
	if !valid(professionalID) {
		return Opinion{}, fault.NotFound("opinion")
	}
	return one(ctx, s.db, `case_id = $1 AND professional_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1`, caseID, professionalID)
}

// Approved returns the approved opinion of a case.
func (s *Store) Approved(ctx context.Context, caseID string) (Opinion, error) {
	if !valid(caseID) {
		return Opinion{}, fault.NotFound("opinion")
	}
	return one(ctx, s.db, `case_id = $1 AND status = $2 ORDER BY approved_at DESC, id DESC LIMIT 1`, caseID, domain.Approved)
}

func lists(o Opinion) (diagnoses, recommendations, refs, findings string, err error) {
	var b [4][]byte
	for i, v := range []any{nonNil(o.Diagnoses), nonNil(o.Recommendations), nonNil(o.References), nonNil(o.AIFindings)} {
		if b[i], err = json.Marshal(v); err != nil {
			return "", "", "", "", fmt.Errorf("opinion %s: %w", o.ID, err)
		}
	}
	return string(b[0]), string(b[1]), string(b[2]), string(b[3]), nil
}

// nonNil stores an empty list as [], never null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Insert stores o as a new opinion at version 1 within tx. A second
// opinion for the same assignment is ErrStale: another request created it
// first.
func (s *Store) Insert(ctx context.Context, tx *sql.Tx, o Opinion) (Opinion, error) {
	o.Version = 1
	o.CreatedAt, o.UpdatedAt = utc(o.CreatedAt), utc(o.CreatedAt)
	d, r, refs, findings, err := lists(o)
	if err != nil {
		return Opinion{}, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO opinions (`+opinionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		o.ID, o.CaseID, o.AssignmentID, o.ProfessionalID, o.Status, o.Specialty, o.Summary, d, r, o.Confidence, o.Answer, refs,
		o.ReviewComments, o.ReviewerID, o.Version, nullTime(o.SubmittedAt), nullTime(o.ApprovedAt), o.CreatedAt, o.UpdatedAt, findings)
	if sqldb.IsUniqueViolation(err) {
		return Opinion{}, fmt.Errorf("insert opinion for assignment %s: %w", o.AssignmentID, ErrStale)
	}
	if err != nil {
		return Opinion{}, fmt.Errorf("insert opinion %s: %w", o.ID, err)
	}
	return o, nil
}

// Update stores o's mutable fields within tx, provided the stored opinion
// is still at o.Version, and returns it at the next version with
// UpdatedAt at. Otherwise it returns ErrStale.
func (s *Store) Update(ctx context.Context, tx *sql.Tx, o Opinion, at time.Time) (Opinion, error) {
	d, r, refs, findings, err := lists(o)
	if err != nil {
		return Opinion{}, err
	}
	at = utc(at)
	res, err := tx.ExecContext(ctx, `UPDATE opinions SET status = $1, summary = $2, diagnoses = $3, recommendations = $4,
		confidence = $5, answer = $6, refs = $7, review_comments = $8, reviewer_id = $9, submitted_at = $10,
		approved_at = $11, updated_at = $12, specialty = $13, ai_findings = $14, version = version + 1
		WHERE id = $15 AND version = $16`,
		o.Status, o.Summary, d, r, o.Confidence, o.Answer, refs, o.ReviewComments, o.ReviewerID,
		nullTime(o.SubmittedAt), nullTime(o.ApprovedAt), at, o.Specialty, findings, o.ID, o.Version)
	if err != nil {
		return Opinion{}, fmt.Errorf("update opinion %s: %w", o.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return Opinion{}, fmt.Errorf("update opinion %s at version %d: %w", o.ID, o.Version, errors.Join(ErrStale, err))
	}
	o.Version++
	o.UpdatedAt = at
	o.SubmittedAt, o.ApprovedAt = nullTime(o.SubmittedAt).Time, nullTime(o.ApprovedAt).Time
	return o, nil
}

// Awaiting is a submitted opinion in the review queue: where it stands,
// never what it says.
type Awaiting struct {
	ID             string
	CaseID         string
	Specialty      string
	ProfessionalID string // the author
	SubmittedAt    time.Time
}

// QueueFilter selects the submitted opinions a reviewer sees: those of
// Specialties not written by NotBy, or every one with AllSpecialties (an
// admin's view). No specialties and not AllSpecialties select nothing.
type QueueFilter struct {
	Specialties    []string
	AllSpecialties bool
	NotBy          string
}

// AwaitingReview returns up to limit submitted opinions f selects, oldest
// submission first, after the cursor, with the next page's cursor (""
// on the last page).
func (s *Store) AwaitingReview(ctx context.Context, f QueueFilter, after page.Cursor, limit int) ([]Awaiting, string, error) {
	if !f.AllSpecialties && len(f.Specialties) == 0 {
		return nil, "", nil
	}
	args := []any{domain.Submitted}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	q := `SELECT id, case_id, specialty, professional_id, submitted_at FROM opinions WHERE status = $1`
	if !f.AllSpecialties {
		in := make([]string, len(f.Specialties))
		for i, sp := range f.Specialties {
			in[i] = arg(sp)
		}
		q += ` AND specialty IN (` + strings.Join(in, ", ") + `)`
	}
	// An id that is no uuid authored nothing (and PostgreSQL's uuid
	// column would reject it).
	if valid(f.NotBy) {
		q += ` AND professional_id <> ` + arg(f.NotBy)
	}
	if after.ID != "" {
		if !valid(after.ID) {
			return nil, "", fault.Invalid(page.Field, "not a cursor returned by this API")
		}
		t := arg(utc(after.Time))
		q += ` AND (submitted_at > ` + t + ` OR (submitted_at = ` + t + ` AND id > ` + arg(after.ID) + `))`
	}
	q += fmt.Sprintf(` ORDER BY submitted_at, id LIMIT %d`, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("review queue: %w", err)
	}
	defer rows.Close()
	var out []Awaiting
	for rows.Next() {
		var a Awaiting
		if err := rows.Scan(&a.ID, &a.CaseID, &a.Specialty, &a.ProfessionalID, &a.SubmittedAt); err != nil {
			return nil, "", fmt.Errorf("review queue: %w", err)
		}
		a.SubmittedAt = a.SubmittedAt.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("review queue: %w", err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	last := out[limit-1]
	return out[:limit], page.Cursor{Time: last.SubmittedAt, ID: last.ID}.Encode(), nil
}

const questionColumns = `id, opinion_id, seq, question, answer, asked_at, answered_at`

func scanQuestion(r scanner) (Question, error) {
	var q Question
	var answer sql.NullString
	var answered sql.NullTime
	if err := r.Scan(&q.ID, &q.OpinionID, &q.Seq, &q.Question, &answer, &q.AskedAt, &answered); err != nil {
		return Question{}, err
	}
	q.Answer, q.AskedAt = answer.String, q.AskedAt.UTC()
	if answered.Valid {
		q.AnsweredAt = answered.Time.UTC()
	}
	return q, nil
}

// Questions returns an opinion's follow-up questions in the order asked.
func (s *Store) Questions(ctx context.Context, q Querier, opinionID string) ([]Question, error) {
	if !valid(opinionID) {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT `+questionColumns+` FROM opinion_questions WHERE opinion_id = $1 ORDER BY seq`, opinionID)
	if err != nil {
		return nil, fmt.Errorf("questions of opinion %s: %w", opinionID, err)
	}
	defer rows.Close()
	var out []Question
	for rows.Next() {
		qu, err := scanQuestion(rows)
		if err != nil {
			return nil, fmt.Errorf("questions of opinion %s: %w", opinionID, err)
		}
		out = append(out, qu)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("questions of opinion %s: %w", opinionID, err)
	}
	return out, nil
}

// Question returns one follow-up question of an opinion.
func (s *Store) Question(ctx context.Context, q Querier, opinionID, id string) (Question, error) {
	if !valid(opinionID, id) {
		return Question{}, fault.NotFound("question")
	}
	qu, err := scanQuestion(q.QueryRowContext(ctx, `SELECT `+questionColumns+` FROM opinion_questions
		WHERE id = $1 AND opinion_id = $2`, id, opinionID))
	if errors.Is(err, sql.ErrNoRows) {
		return Question{}, fault.NotFound("question")
	}
	if err != nil {
		return Question{}, fmt.Errorf("question %s: %w", id, err)
	}
	return qu, nil
}

// Ask stores q within tx as the question numbered q.Seq of its opinion.
// The number is unique per opinion and at most 3, so of two concurrent
// asks for the same number one fails with ErrStale.
func (s *Store) Ask(ctx context.Context, tx *sql.Tx, q Question) (Question, error) {
	q.AskedAt = utc(q.AskedAt)
	_, err := tx.ExecContext(ctx, `INSERT INTO opinion_questions (id, opinion_id, seq, question, asked_at)
		VALUES ($1, $2, $3, $4, $5)`, q.ID, q.OpinionID, q.Seq, q.Question, q.AskedAt)
	if sqldb.IsUniqueViolation(err) {
		return Question{}, fmt.Errorf("ask question %d of opinion %s: %w", q.Seq, q.OpinionID, ErrStale)
	}
	if err != nil {
		return Question{}, fmt.Errorf("ask question of opinion %s: %w", q.OpinionID, err)
	}
	return q, nil
}

// Answer records the answer to a question not answered yet, within tx;
// ErrStale when it was answered meanwhile.
func (s *Store) Answer(ctx context.Context, tx *sql.Tx, q Question, answer string, at time.Time) (Question, error) {
	at = utc(at)
	res, err := tx.ExecContext(ctx, `UPDATE opinion_questions SET answer = $1, answered_at = $2
		WHERE id = $3 AND opinion_id = $4 AND answer IS NULL`, answer, at, q.ID, q.OpinionID)
	if err != nil {
		return Question{}, fmt.Errorf("answer question %s: %w", q.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return Question{}, fmt.Errorf("answer question %s: %w", q.ID, errors.Join(ErrStale, err))
	}
	q.Answer, q.AnsweredAt = answer, at
	return q, nil
}

// erased reports whether a case was erased.
func erased(ctx context.Context, q Querier, caseID string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM erased_cases WHERE case_id = $1`, caseID).Scan(&n); err != nil {
		return false, fmt.Errorf("erasure of case %s: %w", caseID, err)
	}
	return n > 0, nil
}

// Erase removes what the store holds of an erased case, within tx: its
// assignments leave the projection, its follow-up questions are deleted,
// and each of its opinions moves to erased_opinions as who wrote and last
// reviewed it, how far it got and when, without a word of it. The case is
// remembered as erased (see Assign). It returns the ids of the opinions
// and questions it removed.
func (s *Store) Erase(ctx context.Context, tx *sql.Tx, caseID string, at time.Time) ([]string, error) {
	if !valid(caseID) {
		return nil, fmt.Errorf("erase case: case id %q is not a UUID", caseID)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO erased_cases (case_id, erased_at) VALUES ($1, $2)
		ON CONFLICT (case_id) DO NOTHING`, caseID, utc(at)); err != nil {
		return nil, fmt.Errorf("erase case %s: %w", caseID, err)
	}
	// The assignments go first: a first save of the opinion holds the
	// active one (Active) until it commits, so the opinion it inserted is
	// there for the statements below.
	if _, err := tx.ExecContext(ctx, `DELETE FROM opinion_assignments WHERE case_id = $1`, caseID); err != nil {
		return nil, fmt.Errorf("erase assignments of case %s: %w", caseID, err)
	}
	questions, err := ids(ctx, tx, `DELETE FROM opinion_questions
		WHERE opinion_id IN (SELECT id FROM opinions WHERE case_id = $1) RETURNING id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("erase questions of case %s: %w", caseID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO erased_opinions
		(id, case_id, assignment_id, professional_id, reviewer_id, status, submitted_at, approved_at, created_at, updated_at)
		SELECT id, case_id, assignment_id, professional_id, reviewer_id, status, submitted_at, approved_at, created_at, updated_at
		FROM opinions WHERE case_id = $1
		ON CONFLICT (id) DO NOTHING`, caseID); err != nil {
		return nil, fmt.Errorf("keep the record of the opinions of case %s: %w", caseID, err)
	}
	opinions, err := ids(ctx, tx, `DELETE FROM opinions WHERE case_id = $1 RETURNING id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("erase opinions of case %s: %w", caseID, err)
	}
	return append(opinions, questions...), nil
}

// ids runs a query of ids.
func ids(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
