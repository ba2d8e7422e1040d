package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/platform/search/domain"
)

// This file is where the engines differ: the full-text query of each.
// Both answer the same rows, in the same order, for the same Query:
//
//   - a case is matched against its words alone (de-identified access) or
//     against its words, title and question (full access), by every term;
//   - the match ranks by ts_rank (PostgreSQL, english configuration,
//     title weighed above question above words) or bm25 (SQLite FTS5,
//     porter stemmer, the same weights in kind); ties, and lists without
//     terms, go newest first, then by case id;
//   - a typo still finds a case's text on PostgreSQL through pg_trgm's
//     word_similarity, ranked below every exact match, when some term
//     matches no text the viewer sees in full. SQLite has no
//     similarity: a word of five letters or more also matches as a prefix
//     of itself less its last two letters ("diabetis" finds "diabetes",
//     "pian" does not find "pain"), which catches slips at a word's end
//     only;
//   - a snippet (full access only) is the matched text with its matches
//     marked by domain.MarkStart and domain.MarkStop. For a typo's match
//     PostgreSQL's snippet is the text's start, unmarked.

// Query is one search, as the service admitted it.
type Query struct {
	Viewer    domain.Viewer
	Terms     []string // domain.Terms; none lists the viewer's cases
	Status    vocab.CaseStatus
	Specialty vocab.Specialty
	Urgency   vocab.Urgency
	From, To  time.Time // creation, from inclusive, to exclusive; zero for none
	After     Cursor
	Limit     int
}

// Hit is a case found, with what the viewer may see of it.
type Hit struct {
	domain.Case
	Access  domain.Access // Full or DeIdentified
	Title   string        // Full only
	Snippet string        // Full only, with the engine's marks
	Score   float64
}

// Cursor is a position in a list of hits: ordered by score, descending,
// then creation, newest first, then case id.
type Cursor struct {
	Score float64   `json:"s"`
	Time  time.Time `json:"t"`
	ID    string    `json:"i"`
}

// Encode is c's opaque form.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses an opaque cursor; "" is the start of the list.
func DecodeCursor(s string) (Cursor, error) {
	var c Cursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID == "" {
		return Cursor{}, fault.Invalid(page.Field, "not a cursor returned by this API")
	}
	return c, nil
}

// args numbers a query's parameters as they are added.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// scope is the SQL of who sees what: full is true of the rows the viewer
// sees in full, pool of those they see de-identified (domain.Access, which
// the store tests hold these to).
func scope(v domain.Viewer, a *args) (full, pool string) {
	switch v.Role {
	case domain.Admin:
		return "TRUE", "FALSE"
	case domain.Patient:
		return "c.patient_id = " + a.add(v.ID), "FALSE"
	case domain.Professional:
		reads := make([]string, len(domain.AssigneeReads))
		for i, s := range domain.AssigneeReads {
			reads[i] = "'" + string(s) + "'"
		}
		return "(c.assignee_id = " + a.add(v.ID) + " AND c.status IN (" + strings.Join(reads, ", ") + "))",
			"(c.status = '" + string(vocab.AwaitingAssignment) + "' AND c.pooled_at IS NOT NULL AND c.shared)"
	}
	return "FALSE", "FALSE"
}

// filters is the SQL of q's filters, "" for none.
func filters(q Query, a *args) string {
	var out []string
	if q.Status != "" {
		out = append(out, "c.status = "+a.add(string(q.Status)))
	}
	if q.Specialty != "" {
		out = append(out, "c.specialty = "+a.add(string(q.Specialty)))
	}
	if q.Urgency != "" {
		out = append(out, "c.urgency = "+a.add(string(q.Urgency)))
	}
	if !q.From.IsZero() {
		out = append(out, "c.created_at >= "+a.add(utc(q.From)))
	}
	if !q.To.IsZero() {
		out = append(out, "c.created_at < "+a.add(utc(q.To)))
	}
	if len(out) == 0 {
		return ""
	}
	return " AND " + strings.Join(out, " AND ")
}

// after is the SQL that starts a page after cursor c, over h's score,
// created_at and case_id; "" at the start.
func after(c Cursor, a *args) string {
	if c.ID == "" {
		return ""
	}
	s, t, id := a.add(c.Score), a.add(utc(c.Time)), a.add(c.ID)
	return fmt.Sprintf(" WHERE (h.score < %[1]s OR (h.score = %[1]s AND (h.created_at < %[2]s OR (h.created_at = %[2]s AND h.case_id > %[3]s))))", s, t, id)
}

// hitColumns are the columns every hit's query answers, in scanHits'
// order; the title only of a row seen in full.
var hitColumns = fmt.Sprintf(`h.case_id, h.patient_id, h.case_number, h.specialty, h.urgency, h.language, h.age_band, h.pooled_at,
	h.status, h.status_at, h.assignee_id, h.assignment_id, h.assignment_at, h.shared, h.created_at, h.updated_at,
	h.access, CASE WHEN h.access = %d THEN h.title END, h.score`, domain.Full)

const order = ` ORDER BY h.score DESC, h.created_at DESC, h.case_id`

// Search finds q's page of hits, and the cursor of the next page ("" on
// the last).
func (s *Store) Search(ctx context.Context, q Query) ([]Hit, string, error) {
	if q.Limit <= 0 {
		q.Limit = 20
	}
	var hits []Hit
	var err error
	if s.db.Engine == sqldb.Postgres {
		hits, err = s.searchPostgres(ctx, q)
	} else {
		hits, err = s.searchSQLite(ctx, q)
	}
	if err != nil {
		return nil, "", fmt.Errorf("search cases: %w", err)
	}
	next := ""
	if len(hits) > q.Limit {
		hits = hits[:q.Limit]
		last := hits[len(hits)-1]
		next = Cursor{Score: last.Score, Time: last.CreatedAt, ID: last.ID}.Encode()
	}
	return hits, next, nil
}

// scanHits reads hitColumns, and the snippet when withSnippet.
func scanHits(rows *sql.Rows, withSnippet bool) ([]Hit, error) {
	defer rows.Close()
	var out []Hit
	for rows.Next() {
		var h Hit
		var title, snippet sql.NullString
		extra := []any{&h.Access, &title, &h.Score}
		if withSnippet {
			extra = append(extra, &snippet)
		}
		c, err := scanCase(rows, extra...)
		if err != nil {
			return nil, err
		}
		h.Case, h.Title, h.Snippet = c, title.String, snippet.String
		out = append(out, h)
	}
	return out, rows.Err()
}

// headline is how ts_headline marks and cuts a snippet.
var headline = fmt.Sprintf(`StartSel="%s", StopSel="%s", MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "`,
	domain.MarkStart, domain.MarkStop)

// searchPostgres answers q with one statement: the inner query matches
// and ranks, the middle one pages, the outer one makes the snippets of
// that page only (ts_headline reads the whole text). Typos are looked
// for only when a term matches no text the viewer sees in full: a
// trigram search of common words would weigh most of the index for
// nothing, and asking only within the viewer's cases tells them nothing
// of anyone else's.
func (s *Store) searchPostgres(ctx context.Context, q Query) ([]Hit, error) {
	trgm, err := s.trgmSchema(ctx)
	if err != nil {
		return nil, err
	}
	var hits []Hit
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		fuzzy := false
		if len(q.Terms) > 0 {
			var a args
			full, _ := scope(q.Viewer, &a)
			var unknown int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM unnest(`+a.add(q.Terms)+`::text[]) AS t(term)
				WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE `+full+` AND c.full_doc @@ plainto_tsquery('english', t.term))`,
				a...).Scan(&unknown); err != nil {
				return err
			}
			if fuzzy = unknown > 0; fuzzy {
				if _, err := tx.ExecContext(ctx, `SELECT set_config('pg_trgm.word_similarity_threshold', $1, true)`, typoThreshold); err != nil {
					return err
				}
			}
		}
		stmt, a := postgresQuery(q, trgm, fuzzy)
		rows, err := tx.QueryContext(ctx, stmt, a...)
		if err != nil {
			return err
		}
		hits, err = scanHits(rows, true)
		return err
	})
	return hits, err
}

// postgresQuery is the statement of q, with typos or without.
func postgresQuery(q Query, trgm string, fuzzy bool) (string, args) {
	var a args
	full, pool := scope(q.Viewer, &a)
	body := `(coalesce(c.title, '') || ' ' || coalesce(c.question, ''))`
	var match, fullScore, deidScore, tsq string
	if len(q.Terms) > 0 {
		plain := a.add(strings.Join(q.Terms, " "))
		tsq = "plainto_tsquery('english', " + plain + ")"
		text := "c.full_doc @@ " + tsq
		fullScore = "1 + ts_rank(c.full_doc, " + tsq + ")"
		if fuzzy {
			text = fmt.Sprintf("(%s OR %s OPERATOR(%s.%%>) %s)", text, body, trgm, plain)
			fullScore = fmt.Sprintf("CASE WHEN c.full_doc @@ %s THEN 1 + ts_rank(c.full_doc, %[1]s) ELSE %s.word_similarity(%s, %s) END",
				tsq, trgm, plain, body)
		}
		match = fmt.Sprintf("((%[1]s AND %[3]s) OR (%[2]s AND NOT %[1]s AND c.deid_doc @@ %[4]s))", full, pool, text, tsq)
		deidScore = "1 + ts_rank(c.deid_doc, " + tsq + ")"
	} else {
		match, fullScore, deidScore = "("+full+" OR "+pool+")", "0", "0"
	}
	inner := fmt.Sprintf(`SELECT %[7]s, c.title, c.question, CASE WHEN %[1]s THEN %[2]d ELSE %[3]d END AS access,
			(CASE WHEN %[1]s THEN %[4]s ELSE %[5]s END)::float8 AS score
		FROM cases c WHERE %[6]s`, full, domain.Full, domain.DeIdentified, fullScore, deidScore, match+filters(q, &a), qualified("c"))
	paged := `SELECT * FROM (` + inner + `) h` + after(q.After, &a) + order + ` LIMIT ` + a.add(q.Limit+1)
	snippet := "NULL"
	if len(q.Terms) > 0 {
		snippet = fmt.Sprintf(`CASE WHEN h.access = %d THEN ts_headline('english', coalesce(h.title, '') || ' — ' || coalesce(h.question, ''), %s, %s) END`,
			domain.Full, tsq, a.add(headline))
	}
	return `SELECT ` + hitColumns + `, ` + snippet + ` FROM (` + paged + `) h` + order, a
}

// qualified is caseColumns of table alias.
func qualified(alias string) string {
	cols := strings.Split(caseColumns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// typoThreshold is the word_similarity from which a text matches a query
// on PostgreSQL: pg_trgm's default, 0.6, misses a swap of two letters in
// a long word ("hypretension" is 0.53 of "hypertension").
const typoThreshold = "0.5"

// trgmSchema is the schema pg_trgm was installed in, quoted.
func (s *Store) trgmSchema(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trgm != "" {
		return s.trgm, nil
	}
	err := s.db.QueryRowContext(ctx, `SELECT quote_ident(n.nspname) FROM pg_extension e
		JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'`).Scan(&s.trgm)
	if err != nil {
		return "", fmt.Errorf("find pg_trgm: %w", err)
	}
	return s.trgm, nil
}

// ftsQuery is the FTS5 query of terms: every term, each quoted (so no
// word is an operator) and, for a word of five letters or more, or else
// as the prefix that forgives a slip in its last two. Numbers and codes
// (any term with a digit) match exactly.
func ftsQuery(terms []string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = `"` + t + `"`
		if r := []rune(t); len(r) >= 5 && !strings.ContainsFunc(t, unicode.IsDigit) {
			parts[i] = `("` + t + `" OR "` + string(r[:len(r)-2]) + `"*)`
		}
	}
	return strings.Join(parts, " AND ")
}

// bm25 weighs title over question over words; FTS5's rank is lower for
// better matches, so the score is its negation.
const bm25 = `-bm25(case_fts, 10.0, 4.0, 1.0)`

// searchSQLite answers q with a statement of up to two branches over
// FTS5, the rows seen in full matched by every column and, for a viewer
// with a pool, the rows seen de-identified matched by their words alone,
// then makes the page's snippets.
func (s *Store) searchSQLite(ctx context.Context, q Query) ([]Hit, error) {
	var a args
	full, pool := scope(q.Viewer, &a)
	cols := qualified("c") + ", c.title"
	var inner, fullMatch string
	if len(q.Terms) > 0 {
		fullMatch = ftsQuery(q.Terms)
		f := filters(q, &a)
		branch := func(match, where string, access domain.Access) string {
			return fmt.Sprintf(`SELECT %s, %d AS access, %s AS score FROM case_fts JOIN cases c ON c.doc_id = case_fts.rowid
				WHERE case_fts MATCH %s AND %s%s`, cols, access, bm25, a.add(match), where, f)
		}
		inner = branch(fullMatch, full, domain.Full)
		if pool != "FALSE" {
			inner += " UNION ALL " + branch("words : ("+fullMatch+")", pool+" AND NOT "+full, domain.DeIdentified)
		}
	} else {
		inner = fmt.Sprintf(`SELECT %[6]s, CASE WHEN %[1]s THEN %[2]d ELSE %[3]d END AS access, 0.0 AS score
			FROM cases c WHERE (%[1]s OR %[4]s)%[5]s`, full, domain.Full, domain.DeIdentified, pool, filters(q, &a), cols)
	}
	stmt := `SELECT ` + hitColumns + ` FROM (` + inner + `) h` + after(q.After, &a) + order + ` LIMIT ` + a.add(q.Limit+1)
	rows, err := s.db.QueryContext(ctx, stmt, a...)
	if err != nil {
		return nil, err
	}
	hits, err := scanHits(rows, false)
	if err != nil || fullMatch == "" {
		return hits, err
	}
	return hits, s.snippets(ctx, hits, fullMatch)
}

// snippets fills in the snippets of the hits seen in full, from the
// columns that matched best.
func (s *Store) snippets(ctx context.Context, hits []Hit, match string) error {
	at := map[string]int{}
	a := args{match, domain.MarkStart, domain.MarkStop}
	var ids []string
	for i, h := range hits {
		if h.Access == domain.Full {
			at[h.ID] = i
			ids = append(ids, a.add(h.ID))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT c.case_id, snippet(case_fts, -1, $2, $3, ' … ', 24)
		FROM case_fts JOIN cases c ON c.doc_id = case_fts.rowid
		WHERE case_fts MATCH $1 AND c.case_id IN (`+strings.Join(ids, ", ")+`)`, a...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var snippet sql.NullString
		if err := rows.Scan(&id, &snippet); err != nil {
			return err
		}
		hits[at[id]].Snippet = snippet.String
	}
	return rows.Err()
}
