package patientconsent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	contracts "github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/clients/patientdata"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/domain"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/store"
)

// erasedEvent is patient-identity's patient.erased of patient.
func erasedEvent(t testing.TB, patient string) bus.Event {
	t.Helper()
	e, err := contracts.PatientErasedV1.New(contracts.PatientIdentity, patient,
		contracts.PatientErased{PatientID: patient, Timestamp: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// deliver hands e to the service's consumer as the bus would, and says
// what became of it in the inbox: done, or retry when the handler failed.
func (h *harness) deliver(e bus.Event) string {
	h.t.Helper()
	if err := h.svc.Consume(context.Background(), e); err != nil {
		h.t.Fatal(err)
	}
	var status string
	if err := h.db.QueryRowContext(context.Background(), `SELECT status FROM inbox WHERE consumer = $1 AND event_id = $2`,
		Name, e.ID).Scan(&status); err != nil {
		h.t.Fatal(err)
	}
	return status
}

// count is the single number query answers.
func (h *harness) count(query string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// requests counts the Idempotency-Key records patient id made.
func (h *harness) requests(id string) int {
	h.t.Helper()
	return h.count(`SELECT count(*) FROM idempotency_keys WHERE key LIKE $1`, "%:"+id+":%")
}

// outboxIDs are the ids of the events in the outbox, in order.
func (h *harness) outboxIDs() []string {
	h.t.Helper()
	var out []string
	for _, e := range h.outbox("") {
		out = append(out, e.ID)
	}
	return out
}

// TestErasure: patient.erased deletes every consent and every change of
// the patient, with the client addresses it kept, and forgets the
// Idempotency-Key records of their requests, in the inbox's transaction,
// and publishes nothing; only the tombstone is left in the service's
// tables (and the outbox's copies of the events published before, see
// below). Another patient is untouched, a second erasure does nothing,
// and a change after it is refused, a keyed retry too.
func TestErasure(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		// a granted RESEARCH (keyed) and SHARE_WITH_PROFESSIONALS, granted
		// and withdrew AI_PROCESSING; an admin read a's consents. b
		// granted RESEARCH (keyed).
		research := map[string]any{"purpose": vocab.ConsentResearch, "version": current(vocab.ConsentResearch)}
		if res := h.send("a", "grant-1", "POST", "/api/v1/consents", research); res.status != http.StatusOK {
			t.Fatalf("keyed grant: %d %v", res.status, res.body)
		}
		h.grant("a", vocab.ConsentAIProcessing)
		h.do("a", "DELETE", "/api/v1/consents/AI_PROCESSING", nil)
		h.grant("a", vocab.ConsentShareWithProfessionals)
		if res := h.do("admin", "GET", "/api/v1/consents?patientId="+h.a, nil); res.status != http.StatusOK {
			t.Fatalf("admin's read: %d %v", res.status, res.body)
		}
		if res := h.send("b", "grant-1", "POST", "/api/v1/consents", research); res.status != http.StatusOK {
			t.Fatalf("b's keyed grant: %d %v", res.status, res.body)
		}
		if n := len(h.history(h.a)); n != 4 {
			t.Fatalf("a's history holds %d changes, want 4", n)
		}
		if n := h.requests(h.a); n != 1 {
			t.Fatalf("%d Idempotency-Key records of a, want 1", n)
		}
		// What holds a's id before: the search sees it where it is.
		before := testkit.Search(t, h.db, h.a)
		for _, table := range []string{"consent_changes", "idempotency_keys", "outbox"} {
			if before[table] == 0 {
				t.Fatalf("before the erasure, no row of %s names a: %v", table, before)
			}
		}
		bHistory, bRequests := h.history(h.b), h.requests(h.b)
		_, bConsents := h.consents("b", "")
		queued := h.outboxIDs()

		erase := erasedEvent(t, h.a)
		if status := h.deliver(erase); status != "done" {
			t.Fatalf("erasure: %s", status)
		}

		// Nothing of a is left but the tombstone. The outbox still holds
		// the events queued before the erasure (consent.* and the admin's
		// audit.recorded naming a): they are the platform's to relay and
		// to prune after its retention, not this service's to drop, and
		// the erasure added none — no consent.withdrawn for a patient
		// forgotten.
		after := testkit.Search(t, h.db, h.a)
		if want := map[string]int{"erased_patients": 1, "outbox": before["outbox"]}; !maps.Equal(after, want) {
			t.Errorf("rows naming the erased patient, by table: %v; want %v", after, want)
		}
		if got := h.outboxIDs(); !slices.Equal(got, queued) {
			t.Errorf("the erasure queued events: %d in the outbox, %d before", len(got), len(queued))
		}
		if n := h.count(`SELECT count(*) FROM erased_patients WHERE patient_id = $1`, h.a); n != 1 {
			t.Errorf("%d tombstones of a, want 1", n)
		}
		if got := h.history(h.a); len(got) != 0 {
			t.Errorf("a's history after the erasure: %v", got)
		}
		if n := h.requests(h.a); n != 0 {
			t.Errorf("%d Idempotency-Key records of a kept", n)
		}
		// The patient's own read (an admin's would be audited, naming
		// them in a new event).
		if status, got := h.consents("a", ""); status != http.StatusOK || len(got) != len(vocab.ConsentPurposes) {
			t.Errorf("a's consents after the erasure: %d %v", status, got)
		} else {
			for p, c := range got {
				if c["status"] != string(domain.StatusNotGranted) || c["version"] != nil || c["grantedAt"] != nil {
					t.Errorf("a's %s after the erasure: %v", p, c)
				}
			}
		}

		// b is untouched.
		checkB := func(when string) {
			t.Helper()
			if got := h.history(h.b); !slices.Equal(got, bHistory) {
				t.Errorf("%s, b's history is %v, was %v", when, got, bHistory)
			}
			if n := h.requests(h.b); n != bRequests {
				t.Errorf("%s, b has %d Idempotency-Key records, had %d", when, n, bRequests)
			}
			if _, got := h.consents("b", ""); jsonOf(got) != jsonOf(bConsents) {
				t.Errorf("%s, b's consents are %v, were %v", when, got, bConsents)
			}
		}
		checkB("after the erasure")

		// Redelivered, and erased again by a repeated request: nothing
		// more happens.
		for _, e := range []bus.Event{erase, erasedEvent(t, h.a)} {
			if status := h.deliver(e); status != "done" {
				t.Errorf("erasing again: %s", status)
			}
		}
		if got := testkit.Search(t, h.db, h.a); !maps.Equal(got, after) {
			t.Errorf("erasing again left %v, want %v", got, after)
		}
		checkB("after erasing a again")

		// A change after the erasure (the token outlives it a little) is
		// refused, and nothing is recorded; the retry of the keyed grant
		// is run again, not answered from its forgotten record.
		for _, c := range []struct {
			name, key, method, path string
			body                    any
		}{
			{"grant", "", "POST", "/api/v1/consents", research},
			{"keyed grant's retry", "grant-1", "POST", "/api/v1/consents", research},
			{"withdrawal", "", "DELETE", "/api/v1/consents/RESEARCH", nil},
		} {
			if res := h.send("a", c.key, c.method, c.path, c.body); res.status != http.StatusNotFound || res.body["purpose"] != nil {
				t.Errorf("%s after the erasure: %d %v, want 404", c.name, res.status, res.body)
			}
		}
		// What is left is what was, and the record of the keyed retry's
		// refusal (the platform's Idempotency-Key middleware keeps a 4xx
		// answer for its TTL, under a key that names the caller): no
		// consent of theirs.
		want := maps.Clone(after)
		want["idempotency_keys"] = 1
		if got := testkit.Search(t, h.db, h.a); !maps.Equal(got, want) {
			t.Errorf("changes after the erasure left %v, want %v", got, want)
		}
		if n := h.count(`SELECT count(*) FROM idempotency_keys WHERE key LIKE $1 AND status = 404`, "%:"+h.a+":grant-1"); n != 1 {
			t.Errorf("the record of the keyed retry is not its refusal")
		}
		if got := h.outboxIDs(); !slices.Equal(got, queued) {
			t.Errorf("changes after the erasure queued %d events", len(got)-len(queued))
		}
		// The internal check answers not granted, as for a stranger.
		if st, err := h.svc.check(context.Background(), h.a, vocab.ConsentResearch); err != nil || st.Status != domain.StatusNotGranted {
			t.Errorf("check after the erasure: %+v, %v", st, err)
		}

		// An erasure that names no patient is not acknowledged: retried,
		// then a dead letter for an admin.
		bad, err := contracts.PatientErasedV1.New(contracts.PatientIdentity, "x", contracts.PatientErased{PatientID: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if status := h.deliver(bad); status != "retry" {
			t.Errorf("an erasure naming no patient: %s", status)
		}
		checkB("at the end")

		logs := h.logs.String()
		if !strings.Contains(logs, `"msg":"patient's consents erased"`) {
			t.Errorf("the erasure is not logged: %s", logs)
		}
		if strings.Contains(logs, "127.0.0.1") {
			t.Errorf("a client address in the logs: %s", logs)
		}
	})
}

// With REDIS_URL the Idempotency-Key records are in Redis: the erasure
// forgets the patient's there, and another patient's stay.
func TestErasureForgetsRequestsInRedis(t *testing.T) {
	opt, err := redis.ParseURL(testkit.Env(t, "TEST_REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	t.Cleanup(func() { rc.Close() })
	h := newHarnessWith(t, testkit.OpenDB(t, sqldb.SQLite, Name), rc)
	ctx := context.Background()
	research := map[string]any{"purpose": vocab.ConsentResearch, "version": current(vocab.ConsentResearch)}
	key := func(patient string) string { return "idem:" + Name + ":patient:" + patient + ":grant-1" }
	for _, tok := range []string{"a", "b"} {
		if res := h.send(tok, "grant-1", "POST", "/api/v1/consents", research); res.status != http.StatusOK {
			t.Fatalf("keyed grant: %d %v", res.status, res.body)
		}
	}
	t.Cleanup(func() { rc.Del(context.Background(), key(h.a), key(h.b)) })
	if n, err := rc.Exists(ctx, key(h.a), key(h.b)).Result(); err != nil || n != 2 {
		t.Fatalf("%d records in Redis, want 2: %v", n, err)
	}
	if status := h.deliver(erasedEvent(t, h.a)); status != "done" {
		t.Fatalf("erasure: %s", status)
	}
	if n, err := rc.Exists(ctx, key(h.a)).Result(); err != nil || n != 0 {
		t.Errorf("the erased patient's record is still in Redis: %v", err)
	}
	if n, err := rc.Exists(ctx, key(h.b)).Result(); err != nil || n != 1 {
		t.Errorf("another patient's record is gone from Redis: %v", err)
	}
	if got := testkit.Search(t, h.db, h.a); got["consent_changes"] != 0 || got["idempotency_keys"] != 0 || got["erased_patients"] != 1 {
		t.Errorf("rows naming the erased patient: %v", got)
	}
}

var errCrash = errors.New("the process died before the commit")

// An erasure is all or nothing: one that dies before its commit leaves
// everything as it was, for its retry, which erases it all.
func TestErasureRetried(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		ctx := context.Background()
		h.send("a", "k", "POST", "/api/v1/consents", map[string]any{"purpose": vocab.ConsentResearch, "version": current(vocab.ConsentResearch)})
		erase := func(tx *sql.Tx) error {
			return h.svc.onPatientErased(ctx, tx, erasedEvent(t, h.a), contracts.PatientErased{PatientID: h.a})
		}
		err := h.db.InTx(ctx, func(tx *sql.Tx) error {
			if err := erase(tx); err != nil {
				return err
			}
			return errCrash
		})
		if !errors.Is(err, errCrash) {
			t.Fatalf("the attempt: %v", err)
		}
		if got := testkit.Search(t, h.db, h.a); got["consent_changes"] != 1 || got["idempotency_keys"] != 1 || got["erased_patients"] != 0 {
			t.Errorf("after the attempt that died: %v, want everything as it was", got)
		}
		if err := h.db.InTx(ctx, erase); err != nil {
			t.Fatal(err)
		}
		if got := testkit.Search(t, h.db, h.a); got["consent_changes"] != 0 || got["idempotency_keys"] != 0 || got["erased_patients"] != 1 {
			t.Errorf("after the retry: %v", got)
		}
	})
}

// A change and an erasure of the same patient at the same time: a change
// that comes during the erasure waits for it and is refused; one under
// way when the erasure comes is waited for, and erased with the rest.
// Either way nothing of the patient outlives the erasure.
func TestErasureRace(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		ctx := context.Background()
		const pause = 300 * time.Millisecond // long enough for what does not wait

		// A grant during a's erasure.
		erasing, release, erased := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			erased <- h.db.InTx(ctx, func(tx *sql.Tx) error {
				if err := h.svc.erase(ctx, tx, h.a); err != nil {
					return err
				}
				close(erasing)
				<-release
				return nil
			})
		}()
		select {
		case <-erasing:
		case err := <-erased:
			t.Fatalf("the erasure: %v", err)
		}
		var released atomic.Bool
		type result struct {
			err   error
			early bool
		}
		granted := make(chan result, 1)
		go func() {
			_, err := h.svc.grant(ctx, authn.Principal{Subject: h.a, Role: authn.RolePatient}, vocab.ConsentResearch,
				current(vocab.ConsentResearch))
			granted <- result{err, !released.Load()}
		}()
		time.Sleep(pause)
		released.Store(true)
		close(release)
		if err := <-erased; err != nil {
			t.Fatal(err)
		}
		if got := <-granted; got.early || fault.KindOf(got.err) != fault.KindNotFound {
			t.Errorf("a grant during the erasure: %v (did not wait: %v), want not found after it", got.err, got.early)
		}
		if got := h.history(h.a); len(got) != 0 {
			t.Errorf("a's history after a grant during the erasure: %v", got)
		}

		// b's erasure while a change of b's is under way.
		changing, commit, changed := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			changed <- h.db.InTx(ctx, func(tx *sql.Tx) error {
				if err := h.svc.store.Admit(ctx, tx, h.b); err != nil {
					return err
				}
				if err := h.svc.store.Append(ctx, tx, store.Change{PatientID: h.b, Change: domain.Change{Purpose: vocab.ConsentResearch,
					Revision: 1, Kind: domain.Granted, Version: current(vocab.ConsentResearch), At: time.Now()}, ClientAddr: "192.0.2.1"}); err != nil {
					return err
				}
				close(changing)
				<-commit
				return nil
			})
		}()
		select {
		case <-changing:
		case err := <-changed:
			t.Fatalf("the change: %v", err)
		}
		var committed atomic.Bool
		erasedB := make(chan result, 1)
		go func() {
			err := h.db.InTx(ctx, func(tx *sql.Tx) error { return h.svc.erase(ctx, tx, h.b) })
			erasedB <- result{err, !committed.Load()}
		}()
		time.Sleep(pause)
		committed.Store(true)
		close(commit)
		if err := <-changed; err != nil {
			t.Fatal(err)
		}
		if got := <-erasedB; got.early || got.err != nil {
			t.Errorf("an erasure during a change: %v (did not wait: %v)", got.err, got.early)
		}
		if got := testkit.Search(t, h.db, h.b, "192.0.2.1"); !maps.Equal(got, map[string]int{"erased_patients": 1}) {
			t.Errorf("after b's erasure during a change: %v", got)
		}
	})
}

// exportOf reads patient id's part of the export as patient-identity
// does: its client, over HTTP/2 to the harness's port, presenting token.
// It answers the files by path, in order.
func (h *harness) exportOf(token, id string) ([]string, map[string][]byte, error) {
	h.t.Helper()
	c := rpc.RemoteClient()
	if token != "" {
		c = rpc.WithIdentity(c, as(token))
	}
	client := patientdata.New(Name, service.Peer{HTTP: c, URL: h.base})
	ctx := context.Background()
	if err := client.Ready(ctx); err != nil {
		return nil, nil, err
	}
	next, err := client.Open(ctx, id, []string{uuid.NewString()})
	if err != nil {
		return nil, nil, err
	}
	var order []string
	files := map[string][]byte{}
	for {
		path, data, err := next()
		if errors.Is(err, io.EOF) {
			return order, files, nil
		}
		if err != nil {
			return order, files, err
		}
		if path != "" {
			order = append(order, path)
		}
		if len(order) == 0 {
			h.t.Fatal("a chunk continues no file")
		}
		last := order[len(order)-1]
		files[last] = append(files[last], data...)
	}
}

// TestExport: consents.json holds the patient's consents as they read
// them, every change, oldest first, with the client's address, and the
// texts named; another patient's are not in it. Only patient-identity
// may ask.
func TestExport(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		h.grant("a", vocab.ConsentResearch)
		h.grant("a", vocab.ConsentAIProcessing)
		h.do("a", "DELETE", "/api/v1/consents/AI_PROCESSING", nil)
		h.grant("a", vocab.ConsentShareWithProfessionals)
		h.grant("b", vocab.ConsentResearch)
		h.grant("b", vocab.ConsentAIProcessing)

		const identity = "service:patient-identity"
		order, files, err := h.exportOf(identity, h.a)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(order, []string{"consents.json"}) {
			t.Fatalf("exported %v", order)
		}
		raw := files["consents.json"]
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("consents.json: %v\n%s", err, raw)
		}
		history, texts := got["history"], got["texts"]
		delete(got, "history")
		delete(got, "texts")
		read := h.do("a", "GET", "/api/v1/consents", nil)
		if jsonOf(got) != jsonOf(read.body) {
			t.Errorf("exported consents\n%s\nare not what the patient reads\n%s", jsonOf(got), jsonOf(read.body))
		}
		var changes []exportedChange
		if err := json.Unmarshal([]byte(jsonOf(history)), &changes); err != nil {
			t.Fatal(err)
		}
		var lines []string
		for i, c := range changes {
			lines = append(lines, strings.Join([]string{string(c.Purpose), strconv.Itoa(c.Revision), string(c.Change), c.Version, c.ClientAddr}, " "))
			if c.ChangedAt.IsZero() || (i > 0 && !c.ChangedAt.After(changes[i-1].ChangedAt)) {
				t.Errorf("change %d at %s, after %v", i, c.ChangedAt, changes)
			}
		}
		v := func(p vocab.ConsentPurpose) string { return current(p) + " 127.0.0.1" }
		want := []string{"RESEARCH 1 GRANTED " + v(vocab.ConsentResearch), "AI_PROCESSING 1 GRANTED " + v(vocab.ConsentAIProcessing),
			"AI_PROCESSING 2 WITHDRAWN " + v(vocab.ConsentAIProcessing), "SHARE_WITH_PROFESSIONALS 1 GRANTED " + v(vocab.ConsentShareWithProfessionals)}
		if !slices.Equal(lines, want) {
			t.Errorf("history:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
		// Every purpose's text was named, each at its current version.
		if all := h.do("", "GET", "/api/v1/consents/texts", nil); jsonOf(texts) != jsonOf(all.body["items"]) {
			t.Errorf("texts %s, want %s", jsonOf(texts), jsonOf(all.body["items"]))
		}
		if strings.Contains(string(raw), h.b) {
			t.Error("b is in a's export")
		}

		// A patient without any change: every purpose not granted, no
		// history, no text.
		stranger := uuid.NewString()
		_, files, err = h.exportOf(identity, stranger)
		if err != nil {
			t.Fatal(err)
		}
		var none exportedConsents
		if err := json.Unmarshal(files["consents.json"], &none); err != nil {
			t.Fatal(err)
		}
		if none.PatientID != stranger || len(none.Consents) != len(vocab.ConsentPurposes) || none.History == nil ||
			len(none.History) != 0 || none.Texts == nil || len(none.Texts) != 0 {
			t.Errorf("a patient without consents: %s", files["consents.json"])
		}
		for _, c := range none.Consents {
			if c.Status != domain.StatusNotGranted {
				t.Errorf("a patient without consents: %+v", c)
			}
		}

		// After a's erasure, nothing of theirs.
		if status := h.deliver(erasedEvent(t, h.a)); status != "done" {
			t.Fatalf("erasure: %s", status)
		}
		_, files, err = h.exportOf(identity, h.a)
		var gone exportedConsents
		if err == nil {
			err = json.Unmarshal(files["consents.json"], &gone)
		}
		if err != nil || len(gone.History) != 0 || len(gone.Texts) != 0 || len(gone.Consents) != len(vocab.ConsentPurposes) {
			t.Errorf("the export of an erased patient: %v\n%s", err, files["consents.json"])
		}
		for _, c := range gone.Consents {
			if c.Status != domain.StatusNotGranted || c.GrantedAt != nil {
				t.Errorf("the export of an erased patient: %+v", c)
			}
		}

		for token, code := range map[string]connect.Code{
			"service:ai-providers":     connect.CodePermissionDenied, // a caller of ConsentService
			"service:ai-orchestration": connect.CodePermissionDenied,
			"b":                        connect.CodePermissionDenied,
			"admin":                    connect.CodePermissionDenied,
			"":                         connect.CodeUnauthenticated,
		} {
			if order, _, err := h.exportOf(token, h.b); connect.CodeOf(err) != code || len(order) != 0 {
				t.Errorf("export by %q: %v, files %v; want %s", token, err, order, code)
			}
		}
		if _, _, err := h.exportOf(identity, "not-a-uuid"); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("a patient id that is no UUID: %v", err)
		}
	})
}
