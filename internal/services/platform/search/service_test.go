package search

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/search/domain"
	"github.com/secondopinion/platform/internal/services/platform/search/store"
)

func TestModule(t *testing.T) {
	if Module.Name != "search" || Module.Domain != service.Platform || !slices.Equal(Module.Requires, []string{"case-management"}) {
		t.Errorf("module %+v", Module)
	}
	if !slices.Equal(Module.Consumes, subscriptions.Types()) {
		t.Errorf("module declares %v", Module.Consumes)
	}
	if missing := authz.Missing(Module.Spec()); len(missing) != 0 {
		t.Errorf("operations without a policy: %v", missing)
	}
	cfg := Config{TextInterval: time.Millisecond}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "SEARCH_TEXT_INTERVAL") {
		t.Errorf("validate: %v", err)
	}
}

// world is a few cases in every state that matters to who sees what.
type world struct {
	draftA, pooledA, pooledB, assignedX, releasedA, otherY string
}

// Texts are health data, each with a word of its own to look for.
const (
	draftTitle    = "Draft about migraine"
	pooledTitle   = "Pooled case: persistent chest pain"
	pooledQ       = "Is this angina pectoris, doctor? I am worried"
	assignedTitle = "Assigned: chest pain after running"
	assignedQ     = "Should I stop jogging <script>alert(1)</script>"
	releasedTitle = "Released: chest pain at night"
	otherTitle    = "Another professional's chest pain case"
)

func build(h *harness) world {
	var w world
	h.consent(patientA, true, 1)
	w.draftA, _ = h.newCase(patientA, draftTitle, "Since May")
	w.pooledA, _ = h.newCase(patientA, pooledTitle, pooledQ)
	h.pool(w.pooledA, patientA, vocab.Specialty("CARDIOLOGY"))
	// Patient B does not consent to share: their pooled case is held.
	w.pooledB, _ = h.newCase(patientB, "Held: chest pain of B", "B's question")
	h.pool(w.pooledB, patientB, vocab.Specialty("CARDIOLOGY"))
	w.assignedX, _ = h.newCase(patientB, assignedTitle, assignedQ)
	h.pool(w.assignedX, patientB, vocab.Specialty("CARDIOLOGY"))
	h.assign(w.assignedX, proX)
	w.releasedA, _ = h.newCase(patientA, releasedTitle, "At night")
	h.pool(w.releasedA, patientA, vocab.Specialty("CARDIOLOGY"))
	as := h.assign(w.releasedA, proX)
	h.release(w.releasedA, proX, as)
	w.otherY, _ = h.newCase(patientA, otherTitle, "Y's")
	h.pool(w.otherY, patientA, vocab.Specialty("ONCOLOGY"))
	h.assign(w.otherY, proY)
	h.texts()
	return w
}

func TestSearchAccess(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		w := build(h)

		for token, want := range map[string]int{"": 401, "service:reporting": 403} {
			if r := h.get(token, "/api/v1/search/cases?q=chest"); r.status != want {
				t.Errorf("as %q: %d, want %d", token, r.status, want)
			}
		}

		// Patients: their own cases, in full.
		for token, want := range map[string][]string{
			"a": {w.otherY, w.releasedA, w.pooledA},
			"b": {w.assignedX, w.pooledB},
		} {
			got := h.search(token, "q", "chest pain")
			if ids := hitIDs(got); !sameSet(ids, want) {
				t.Errorf("patient %s finds %v, want %v", token, ids, want)
			}
			for _, it := range got.Items {
				if it.Access != AccessFull || it.Title == "" || !strings.Contains(it.Snippet, "<mark>") {
					t.Errorf("patient %s: %+v", token, it)
				}
			}
		}

		// Professional X: the case assigned to them in full; the pool
		// (patient A's shared cases) de-identified, matched by its codes
		// only; never patient B's held case nor Y's, nor the one they
		// released.
		r := h.get("x", "/api/v1/search/cases?q=chest+pain")
		var got results
		if err := jsonOf(r, &got); err != nil {
			t.Fatal(err)
		}
		if ids := hitIDs(got); !slices.Equal(ids, []string{w.assignedX}) {
			t.Errorf("professional X finds %v by text, want only their case %v", ids, w.assignedX)
		}
		if len(got.Items) == 1 {
			it := got.Items[0]
			if it.Access != AccessFull || it.Title != assignedTitle || !strings.Contains(it.Snippet, "<mark>chest</mark>") {
				t.Errorf("their case: %+v", it)
			}
			if strings.Contains(it.Snippet, "<script>") {
				t.Errorf("snippet not escaped: %q", it.Snippet)
			}
		}
		got = h.search("x", "q", "cardiology")
		if ids := hitIDs(got); !sameSet(ids, []string{w.assignedX, w.pooledA, w.releasedA}) {
			t.Errorf("professional X finds %v by specialty", ids)
		}
		for _, it := range got.Items {
			if it.ID != w.assignedX && (it.Access != AccessDeIdentified || it.Title != "" || it.Snippet != "" ||
				it.AgeBand != "30-39" || it.Language != "en" || it.Status != vocab.AwaitingAssignment) {
				t.Errorf("pool case %+v", it)
			}
		}
		// Nothing of a pool case's text, nor of anyone else's case,
		// reaches a professional, whatever they ask.
		for _, q := range []string{"", "chest", "angina", "pectoris", "worried", "cardiology", "oncology", "migraine", "night", "EU-2030-000002"} {
			for _, token := range []string{"x", "y"} {
				raw := string(h.get(token, "/api/v1/search/cases?limit=100&q="+q).raw)
				for _, secret := range []string{pooledTitle, "angina", "worried", "Held", "migraine", releasedTitle, patientA, patientB} {
					if strings.Contains(raw, secret) {
						t.Errorf("professional %s searching %q got %q: %s", token, q, secret, raw)
					}
				}
				if token == "x" && strings.Contains(raw, otherTitle) || token == "y" && strings.Contains(raw, assignedTitle) {
					t.Errorf("professional %s searching %q got another's case: %s", token, q, raw)
				}
			}
		}
		// The case number is a code: it finds the pool case.
		got = h.search("y", "q", "EU-2030-000002")
		if ids := hitIDs(got); !slices.Equal(ids, []string{w.pooledA}) {
			t.Errorf("case number finds %v", ids)
		}

		// Admins: everything, in full.
		got = h.search("admin", "q", "chest", "limit", "100")
		if ids := hitIDs(got); !sameSet(ids, []string{w.pooledA, w.pooledB, w.assignedX, w.releasedA, w.otherY}) {
			t.Errorf("admin finds %v", ids)
		}
	})
}

func jsonOf(r response, v any) error {
	if r.status != http.StatusOK {
		return fmt.Errorf("status %d: %s", r.status, r.raw)
	}
	return json.Unmarshal(r.raw, v)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Each hit answered in full is an audit entry naming its case and
// patient; de-identified hits and empty answers are not recorded.
func TestSearchAudit(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		w := build(h)
		before := len(h.audits())
		h.search("x", "q", "cardiology")
		entries := h.audits()[before:]
		if len(entries) != 1 || entries[0].ResourceID != w.assignedX || entries[0].PatientID != patientB ||
			entries[0].Actor != proX || entries[0].Action != "case.search" || entries[0].Purpose != "assigned second opinion" {
			t.Errorf("professional's search recorded %+v", entries)
		}
		before = len(h.audits())
		h.search("y", "q", "angina")
		h.search("a", "q", "nothing-matches-this")
		if n := len(h.audits()) - before; n != 0 {
			t.Errorf("%d entries for searches that answered no text", n)
		}
		h.search("a", "q", "chest")
		entries = h.audits()[before:]
		got := map[string]string{}
		for _, e := range entries {
			got[e.ResourceID] = e.PatientID
			if e.Actor != patientA || e.Outcome != "allowed" {
				t.Errorf("entry %+v", e)
			}
		}
		if want := map[string]string{w.pooledA: patientA, w.releasedA: patientA, w.otherY: patientA}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("patient's search recorded %v, want %v", got, want)
		}
	})
}

func TestSearchFiltersAndPages(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		w := build(h)
		for _, c := range []struct {
			kv   []string
			want []string
		}{
			{[]string{"specialty", "ONCOLOGY"}, []string{w.otherY}},
			{[]string{"status", "DRAFT"}, []string{w.draftA}},
			{[]string{"urgency", "STANDARD", "q", "night"}, []string{w.releasedA}},
			{[]string{"from", start.Add(time.Hour).Format(time.RFC3339)}, nil},
			{[]string{"to", start.Add(3 * time.Second).Format(time.RFC3339)}, []string{w.draftA}},
		} {
			if got := hitIDs(h.search("admin", c.kv...)); !sameSet(got, c.want) {
				t.Errorf("%v: %v, want %v", c.kv, got, c.want)
			}
		}
		for _, bad := range []string{"status=LOST", "specialty=ASTROLOGY", "limit=0", "limit=101", "cursor=nope",
			"from=2030-06-03T10:00:00Z&to=2030-06-03T09:00:00Z", "q=" + strings.Repeat("a", 201)} {
			if r := h.get("admin", "/api/v1/search/cases?"+bad); r.status != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d %s", bad, r.status, r.raw)
			}
		}
		all := hitIDs(h.search("admin", "limit", "100"))
		var paged []string
		cursor := ""
		for range 10 {
			page := h.search("admin", "limit", "2", "cursor", cursor)
			paged = append(paged, hitIDs(page)...)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if len(all) != 6 || !slices.Equal(paged, all) {
			t.Errorf("pages %v, want %v", paged, all)
		}
	})
}

// The index answers the same whatever order the events come in, and
// however often: applying them again, shuffled, past the inbox, changes
// nothing. Rebuilding from the journal gives the live index back, and an
// erasure stays erased through a rebuild and a late event.
func TestRebuild(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		var log []bus.Event
		rec := func(e bus.Event, err error) { log = append(log, h.consume(e, err)) }
		w := build(h)
		rec(events.CaseCancelledV1.New("case-management", w.draftA, events.CaseClosed{CaseID: w.draftA, Timestamp: h.tick()}))
		rec(events.ConsentWithdrawnV1.New("patient-consent", patientA, events.ConsentChanged{PatientID: patientA,
			Purpose: vocab.ConsentShareWithProfessionals, Version: "1", Revision: 2, Timestamp: h.tick()}))
		live := h.snapshot()

		// Every journaled event again, shuffled.
		var journal []bus.Event
		rows, err := db.QueryContext(context.Background(), `SELECT envelope FROM journal ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var env string
			if err := rows.Scan(&env); err != nil {
				t.Fatal(err)
			}
			var e bus.Event
			if err := json.Unmarshal([]byte(env), &e); err != nil {
				t.Fatal(err)
			}
			journal = append(journal, e)
		}
		rows.Close()
		if len(journal) < 30 {
			t.Fatalf("journal holds %d events", len(journal))
		}
		rng := rand.New(rand.NewPCG(7, 7))
		for range 2 {
			rng.Shuffle(len(journal), func(i, j int) { journal[i], journal[j] = journal[j], journal[i] })
			for _, e := range journal {
				h.applyDirect(e)
			}
			if got := h.snapshot(); got != live {
				t.Fatalf("shuffled replay changed the index:\n%s\nwant\n%s", got, live)
			}
		}

		// A text whose case the journal no longer has goes with a rebuild.
		if _, err := db.ExecContext(context.Background(), `INSERT INTO case_texts (case_id, title, question, fetched_at)
			VALUES ($1, 'Orphan', 'Orphan', $2)`, uuid.NewString(), start); err != nil {
			t.Fatal(err)
		}
		var reports []int64
		if err := Rebuild(context.Background(), db, func(done, total int64) { reports = append(reports, done, total) }); err != nil {
			t.Fatal(err)
		}
		if got := h.snapshot(); got != live {
			t.Errorf("rebuilt index differs:\n%s\nwant\n%s", got, live)
		}
		if n := len(reports); n == 0 || reports[n-2] != int64(len(journal)) || reports[n-1] != int64(len(journal)) {
			t.Errorf("progress %v, want it to end at %d of %d", reports, len(journal), len(journal))
		}
		if reads := len(h.cases.reads); reads != 6 {
			t.Errorf("case-management read %d times, want once per case", reads)
		}

		// Patient B is erased: their cases leave the index, its texts and
		// the journal; a rebuild does not bring them back, nor does an
		// event about them that comes late.
		rec(events.PatientErasedV1.New("patient-identity", patientB, events.PatientErased{PatientID: patientB, Timestamp: h.tick()}))
		for _, id := range []string{w.pooledB, w.assignedX, patientB} {
			if n := h.journal(id); n != 0 {
				t.Errorf("journal still names %s %d times", id, n)
			}
		}
		h.consume(events.CaseStatusChangedV1.New("case-management", w.assignedX, events.CaseStatusChanged{CaseID: w.assignedX,
			To: vocab.UnderReview, Timestamp: h.tick()}))
		h.applyDirect(journalOf(t, journal, w.pooledB))
		erased := h.snapshot()
		for _, s := range []string{w.pooledB, w.assignedX, patientB, assignedTitle, "Held"} {
			if strings.Contains(erased, s) {
				t.Errorf("index still holds %q after the erasure", s)
			}
		}
		if err := Rebuild(context.Background(), db, nil); err != nil {
			t.Fatal(err)
		}
		if got := h.snapshot(); got != erased {
			t.Errorf("rebuilt after erasure:\n%s\nwant\n%s", got, erased)
		}
		if got := hitIDs(h.search("admin", "q", "chest", "limit", "100")); !sameSet(got, []string{w.pooledA, w.releasedA, w.otherY}) {
			t.Errorf("after erasure admin finds %v", got)
		}
		if n := h.journal(w.assignedX); n != 0 {
			t.Errorf("the late event's journal row stayed")
		}

		// A case erased alone.
		rec(events.CaseErasedV1.New("case-management", w.otherY, events.CaseErased{CaseID: w.otherY, Timestamp: h.tick()}))
		if got := hitIDs(h.search("admin", "q", "chest")); !sameSet(got, []string{w.pooledA, w.releasedA}) {
			t.Errorf("after case erasure admin finds %v", got)
		}
		if n := h.journal(w.otherY); n != 0 {
			t.Errorf("journal still names the erased case %d times", n)
		}
	})
}

// journalOf is an event of the journal about case id.
func journalOf(t *testing.T, journal []bus.Event, id string) bus.Event {
	t.Helper()
	for _, e := range journal {
		if e.AggregateID == id {
			return e
		}
	}
	t.Fatalf("no event about %s", id)
	return bus.Event{}
}

// Texts come from case-management once per case; without it, search
// answers by codes and fetches later; a case it no longer knows gets no
// text and is not asked for again.
func TestTexts(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		h.cases.down = true
		id, number := h.newCase(patientA, "Swollen ankle", "After a fall")
		if _, err := h.svc.fillTexts(context.Background()); err == nil {
			t.Error("no error with case-management down")
		}
		if got := hitIDs(h.search("a", "q", number)); !slices.Equal(got, []string{id}) {
			t.Errorf("by number without text: %v", got)
		}
		if got := h.search("a", "q", "ankle"); len(got.Items) != 0 {
			t.Errorf("text found before it was fetched: %v", hitIDs(got))
		}
		h.cases.down = false
		h.texts()
		if got := h.search("a", "q", "ankle"); len(got.Items) != 1 || got.Items[0].Title != "Swollen ankle" {
			t.Errorf("after fetching: %+v", got)
		}
		gone, _ := h.newCase(patientA, "", "")
		delete(h.cases.cases, gone)
		h.texts()
		reads := len(h.cases.reads)
		h.texts()
		if len(h.cases.reads) != reads {
			t.Errorf("a case case-management does not know was asked for again")
		}
	})
}

// admit holds the store's answer to domain.Access whatever it says: a
// case the viewer may not see is dropped, a de-identified one loses its
// text, and access is never raised.
func TestAdmit(t *testing.T) {
	s := &Service{Base: &service.Base{Log: slog.New(slog.DiscardHandler)}}
	pool := domain.Case{ID: "pool", PatientID: patientA, Status: vocab.AwaitingAssignment, PooledAt: start, Shared: true}
	mine := domain.Case{ID: "mine", PatientID: patientA, Status: vocab.Assigned, AssigneeID: proX}
	other := domain.Case{ID: "other", PatientID: patientA, Status: vocab.Assigned, AssigneeID: proY}
	hits := s.admit(context.Background(), domain.Viewer{Role: domain.Professional, ID: proX}, []store.Hit{
		{Case: pool, Access: domain.Full, Title: "t", Snippet: "s"},
		{Case: mine, Access: domain.DeIdentified},
		{Case: other, Access: domain.Full, Title: "t", Snippet: "s"},
	})
	if len(hits) != 2 || hits[0].ID != "pool" || hits[0].Access != domain.DeIdentified || hits[0].Title != "" || hits[0].Snippet != "" ||
		hits[1].ID != "mine" || hits[1].Access != domain.DeIdentified {
		t.Errorf("admitted %+v", hits)
	}
}
