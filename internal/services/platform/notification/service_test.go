package notification

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/notification/channel"
)

// aCase opens and submits a case of patient in the read model, in the
// consultation's language lang, and returns its id and number.
func aCase(t *testing.T, f fixture, patient string, lang vocab.Language) (string, string) {
	t.Helper()
	id, number := uuid.NewString(), "EU-2026-"+strings.ToUpper(uuid.NewString()[:6])
	now := f.clock.Now()
	emit(t, f, events.CaseCreatedV1, id, events.CaseCreated{CaseID: id, CustomerID: patient, CaseNumber: number, Timestamp: now})
	emit(t, f, events.CaseAwaitingAssignmentV1, id, events.CaseAwaitingAssignment{CaseID: id, CustomerID: patient,
		CaseNumber: number, Specialty: "CARDIOLOGY", Urgency: "STANDARD", Language: lang, AgeBand: "40-49", Timestamp: now})
	return id, number
}

// A patient hears of their case by their preferred channel in the
// case's language, the professional by email in theirs, and each sees
// their own notices in-app, newest first, and marks them read; nobody
// reaches another's.
func TestNoticesReachTheirPeople(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		caseA, numberA := aCase(t, f, ada.ID, "de")
		emit(t, f, events.CaseSubmittedV1, caseA, events.CaseSubmitted{CaseID: caseA, CustomerID: ada.ID, CaseNumber: numberA,
			Specialty: "CARDIOLOGY", Urgency: "STANDARD", Timestamp: f.clock.Now()})
		f.clock.advance(time.Second)
		emit(t, f, events.CaseAssignedV1, caseA, events.CaseAssigned{CaseID: caseA, ProfessionalID: grace.ID,
			AssignmentID: uuid.NewString(), Deadline: f.clock.Now().Add(72 * time.Hour), Timestamp: f.clock.Now()})
		caseB, numberB := aCase(t, f, bob.ID, "en")
		emit(t, f, events.PaymentSucceededV1, caseB, events.Payment{PaymentID: uuid.NewString(), CaseID: caseB, CustomerID: bob.ID,
			QuoteID: uuid.NewString(), Region: "EU", Specialty: "CARDIOLOGY", Urgency: "STANDARD", NetAmount: 12050, Amount: 12050,
			Currency: "EUR", Provider: "sandbox", Timestamp: f.clock.Now()})
		f.clock.advance(time.Second)
		emit(t, f, events.OpinionQuestionAskedV1, caseA, events.OpinionQuestion{CaseID: caseA, OpinionID: uuid.NewString(),
			QuestionID: uuid.NewString(), Timestamp: f.clock.Now()})

		if n := f.deliver(t); n != 4 {
			t.Fatalf("attempted %d deliveries, want 4", n)
		}
		emails, texts := f.sink.sent()
		if len(emails) != 3 || len(texts) != 1 {
			t.Fatalf("%d emails, %d SMS; want 3 and 1", len(emails), len(texts))
		}
		// Ada prefers email, in German (her case's language).
		if e := emails[0]; !slices.Equal(e.To, []string{ada.Email}) || e.RecipientID != ada.ID ||
			!strings.Contains(e.Subject, "eingereicht") || !strings.Contains(e.Text, "Hallo Ada,") ||
			!strings.Contains(e.Text, "https://app.example.org/cases/"+caseA) || !strings.Contains(e.HTML, `lang="de"`) {
			t.Errorf("Ada's email: %+v", e)
		}
		// Bob prefers SMS.
		if s := texts[0]; s.To != bob.Phone || s.RecipientID != bob.ID || !strings.Contains(s.Body, numberB) ||
			!strings.Contains(s.Body, "https://app.example.org/cases/"+caseB) {
			t.Errorf("Bob's SMS: %+v", s)
		}
		// Grace hears of the question in her first language.
		if e := emails[2]; !slices.Equal(e.To, []string{grace.Email}) || !strings.Contains(e.Subject, "Rückfrage") ||
			!strings.Contains(e.Text, "Hallo Grace,") {
			t.Errorf("Grace's email: %+v", e)
		}

		mine := f.notices(t, "patient-a")
		if len(mine) != 2 || mine[0].Kind != "case_claimed" || mine[1].Kind != "case_submitted" || mine[0].ReadAt != nil ||
			!strings.Contains(mine[1].Title, numberA) || mine[1].Link != "https://app.example.org/cases/"+caseA {
			t.Fatalf("Ada's notices: %+v", mine)
		}
		var english notificationPage
		f.call(t, http.MethodGet, "/api/v1/notifications", "patient-a", "Accept-Language", "en-GB,en;q=0.8").decode(t, &english)
		if len(english.Items) != 2 || english.Items[1].Title != "Your case "+numberA+" was submitted" {
			t.Errorf("in English: %+v", english.Items)
		}
		if got := f.notices(t, "patient-b"); len(got) != 1 || got[0].Kind != "payment_received" || !strings.Contains(got[0].Body, "EUR 120.50") {
			t.Errorf("Bob's notices: %+v", got)
		}
		if got := f.notices(t, "pro"); len(got) != 1 || got[0].Kind != "question_asked" {
			t.Errorf("Grace's notices: %+v", got)
		}

		// Pages follow the cursor.
		var first, second notificationPage
		f.call(t, http.MethodGet, "/api/v1/notifications?limit=1", "patient-a").decode(t, &first)
		f.call(t, http.MethodGet, "/api/v1/notifications?limit=1&cursor="+first.NextCursor, "patient-a").decode(t, &second)
		if len(first.Items) != 1 || len(second.Items) != 1 || first.Items[0].ID != mine[0].ID || second.Items[0].ID != mine[1].ID || second.NextCursor != "" {
			t.Errorf("pages: %+v then %+v", first, second)
		}

		id := mine[1].ID
		for token, want := range map[string]int{"": 401, "patient-b": 404, "pro": 404, "admin": 404} {
			if r := f.call(t, http.MethodPost, "/api/v1/notifications/"+id+"/read", token); r.status != want {
				t.Errorf("%q marks Ada's notice read: %d, want %d", token, r.status, want)
			}
		}
		var read Notification
		r := f.call(t, http.MethodPost, "/api/v1/notifications/"+id+"/read", "patient-a")
		if r.status != 200 {
			t.Fatalf("mark read: %d %s", r.status, r.body)
		}
		r.decode(t, &read)
		if read.ReadAt == nil || !read.ReadAt.Equal(f.clock.Now()) {
			t.Errorf("read at %v", read.ReadAt)
		}
		if r := f.call(t, http.MethodPost, "/api/v1/notifications/"+uuid.NewString()+"/read", "patient-a"); r.status != 404 {
			t.Errorf("unknown notice: %d", r.status)
		}
		if r := f.call(t, http.MethodGet, "/api/v1/notifications?cursor=nonsense", "patient-a"); r.status != 422 {
			t.Errorf("bad cursor: %d", r.status)
		}
	})
}

// Admins' notices are addressed to the role: every admin sees them, and
// they go by email to NOTIFICATION_ADMIN_EMAILS in one message.
func TestAdminNotices(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		caseID := uuid.NewString()
		emit(t, f, events.AssignmentEscalatedV1, caseID, events.AssignmentEscalated{CaseID: caseID, CaseNumber: "EU-2026-ESC001",
			WaitingSince: f.clock.Now().Add(-48 * time.Hour), Timestamp: f.clock.Now()})
		emit(t, f, events.CredentialSubmittedV1, uuid.NewString(), events.CredentialSubmitted{CredentialID: uuid.NewString(),
			ProfessionalID: grace.ID, Specialty: "CARDIOLOGY", Country: "DE", ExpiresAt: f.clock.Now().Add(1000 * time.Hour),
			Timestamp: f.clock.Now()})
		f.deliver(t)
		emails, _ := f.sink.sent()
		if len(emails) != 2 || !slices.Equal(emails[0].To, []string{"ops@example.org", "oncall@example.org"}) ||
			emails[0].RecipientID != "admin" || !strings.Contains(emails[0].Subject, "EU-2026-ESC001") {
			t.Fatalf("admin emails: %+v", emails)
		}
		if got := f.notices(t, "admin"); len(got) != 2 || got[0].Kind != "credential_submitted" {
			t.Errorf("admin notices: %+v", got)
		}
		if got := f.notices(t, "patient-a"); len(got) != 0 {
			t.Errorf("a patient sees admins' notices: %+v", got)
		}
	})
}

// Preferences are read when a message is sent: an opted-out patient gets
// the in-app notice only (SKIPPED), one without email gets an SMS, and
// an erased one nothing at all.
func TestPreferencesAtDeliveryTime(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		caseA, _ := aCase(t, f, ada.ID, "en")
		caseB, _ := aCase(t, f, bob.ID, "en")
		f.people.mu.Lock()
		a := f.people.patients[ada.ID]
		a.EmailNotifications = false // prefers EMAIL, allows only SMS now
		f.people.patients[ada.ID] = a
		b := f.people.patients[bob.ID]
		b.EmailNotifications, b.SMSNotifications = false, false
		f.people.patients[bob.ID] = b
		f.people.mu.Unlock()
		done := events.AnalysisProgress{ProcessingID: uuid.NewString(), Outcome: "COMPLETED", Timestamp: f.clock.Now()}
		done.CaseID = caseA
		emit(t, f, events.AnalysisCompletedV1, caseA, done)
		done.CaseID = caseB
		emit(t, f, events.AnalysisCompletedV1, caseB, done)
		f.deliver(t)
		emails, texts := f.sink.sent()
		if len(emails) != 0 || len(texts) != 1 || texts[0].To != ada.Phone {
			t.Fatalf("sent %+v and %+v", emails, texts)
		}
		skipped := f.deliveries(t, "SKIPPED")
		if len(skipped) != 1 || skipped[0].RecipientID != bob.ID || skipped[0].Attempts != 0 || skipped[0].LastError == "" {
			t.Errorf("skipped: %+v", skipped)
		}
		if len(f.notices(t, "patient-b")) != 1 {
			t.Error("the opted-out patient lost the in-app notice")
		}

		f.people.forget(ada.ID)
		emit(t, f, events.OpinionApprovedV1, caseA, events.OpinionApproved{CaseID: caseA, OpinionID: uuid.NewString(),
			ProfessionalID: grace.ID, AuthorLevel: "SENIOR", Timestamp: f.clock.Now()})
		f.deliver(t)
		if _, texts := f.sink.sent(); len(texts) != 1 {
			t.Errorf("a patient gone from patient-identity was sent an SMS: %+v", texts)
		}
	})
}

// A provider outage loses nothing: the deliveries are in the store with
// the notices, retry with growing waits while the provider is down,
// and go out once it is back; past NOTIFICATION_RETRY_FOR one is DEAD, an
// admin lists it and replays it, and it goes out.
func TestOutageRetriesThenDeadAndReplay(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		caseA, _ := aCase(t, f, ada.ID, "en")
		f.sink.setFail(errors.New("smtp 127.0.0.1:2525: connect: connection refused"))
		emit(t, f, events.OpinionApprovedV1, caseA, events.OpinionApproved{CaseID: caseA, OpinionID: uuid.NewString(),
			ProfessionalID: grace.ID, AuthorLevel: "SENIOR", Timestamp: f.clock.Now()})
		f.deliver(t)
		failed := f.deliveries(t, "FAILED")
		if len(failed) != 2 || failed[0].Attempts != 1 || failed[0].NextAttemptAt == nil ||
			!failed[0].NextAttemptAt.Equal(f.clock.Now().Add(30*time.Second)) || !strings.Contains(failed[0].LastError, "refused") {
			t.Fatalf("failed: %+v", failed)
		}
		if n := f.deliver(t); n != 0 {
			t.Errorf("retried %d before their time", n)
		}
		f.clock.advance(30 * time.Second)
		f.deliver(t)
		if d := f.deliveries(t, "FAILED"); len(d) != 2 || d[0].Attempts != 2 || !d[0].NextAttemptAt.Equal(f.clock.Now().Add(time.Minute)) {
			t.Fatalf("second failure: %+v", d)
		}
		f.sink.setFail(nil)
		f.clock.advance(time.Minute)
		f.deliver(t)
		if emails, _ := f.sink.sent(); len(emails) != 2 {
			t.Fatalf("after the outage: %d emails, want 2", len(emails))
		}
		if sent := f.deliveries(t, "SENT"); len(sent) != 2 || sent[0].Attempts != 3 || sent[0].LastError != "" || sent[0].SentAt == nil {
			t.Errorf("sent: %+v", sent)
		}

		// A longer outage: retried for a day, then dead.
		f.sink.setFail(errors.New("smtp: connection refused"))
		emit(t, f, events.OpinionQuestionAnsweredV1, caseA, events.OpinionQuestion{CaseID: caseA, OpinionID: uuid.NewString(),
			QuestionID: uuid.NewString(), Timestamp: f.clock.Now()})
		for range 100 {
			f.deliver(t)
			f.clock.advance(30 * time.Minute)
		}
		dead := f.deliveries(t, "DEAD")
		if len(dead) != 1 || dead[0].Kind != "question_answered" || dead[0].Attempts < 10 {
			t.Fatalf("dead: %+v", dead)
		}
		for token, want := range map[string]int{"": 401, "patient-a": 403, "pro": 403} {
			if r := f.call(t, http.MethodGet, "/api/v1/notifications/deliveries?status=DEAD", token); r.status != want {
				t.Errorf("%q lists deliveries: %d, want %d", token, r.status, want)
			}
			if r := f.call(t, http.MethodPost, "/api/v1/notifications/deliveries/"+dead[0].ID+"/retry", token); r.status != want {
				t.Errorf("%q replays: %d, want %d", token, r.status, want)
			}
		}
		sentID := f.deliveries(t, "SENT")[0].ID
		if r := f.call(t, http.MethodPost, "/api/v1/notifications/deliveries/"+sentID+"/retry", "admin"); r.status != 409 {
			t.Errorf("replay of a sent delivery: %d", r.status)
		}
		if r := f.call(t, http.MethodPost, "/api/v1/notifications/deliveries/"+uuid.NewString()+"/retry", "admin"); r.status != 404 {
			t.Errorf("replay of an unknown delivery: %d", r.status)
		}
		f.sink.setFail(nil)
		var replayed Delivery
		r := f.call(t, http.MethodPost, "/api/v1/notifications/deliveries/"+dead[0].ID+"/retry", "admin")
		if r.status != 200 {
			t.Fatalf("replay: %d %s", r.status, r.body)
		}
		r.decode(t, &replayed)
		if replayed.Status != "QUEUED" {
			t.Errorf("replayed: %+v", replayed)
		}
		f.deliver(t)
		if emails, _ := f.sink.sent(); len(emails) != 3 || !strings.Contains(emails[2].Subject, "answered") {
			t.Errorf("after the replay: %+v", emails)
		}
		if len(f.deliveries(t, "DEAD")) != 0 {
			t.Error("the replayed delivery is still dead")
		}
	})
}

// A provider that refuses the addressee for good (a mailbox that does not
// exist) makes the delivery DEAD at its first attempt: a day of retries
// would not change the answer.
func TestRefusedForGoodIsDeadAtOnce(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		caseA, _ := aCase(t, f, ada.ID, "en")
		f.sink.setFail(fmt.Errorf("smtp 127.0.0.1:2525: a recipient was refused: %w: the server replied 550", channel.ErrRefused))
		emit(t, f, events.OpinionApprovedV1, caseA, events.OpinionApproved{CaseID: caseA, OpinionID: uuid.NewString(),
			ProfessionalID: grace.ID, AuthorLevel: "SENIOR", Timestamp: f.clock.Now()})
		f.deliver(t)
		dead := f.deliveries(t, "DEAD")
		if len(dead) != 2 || dead[0].Attempts != 1 || dead[0].NextAttemptAt != nil || !strings.Contains(dead[0].LastError, "550") {
			t.Fatalf("dead: %+v", dead)
		}
		if failed := f.deliveries(t, "FAILED"); len(failed) != 0 {
			t.Errorf("still retried: %+v", failed)
		}
	})
}

// Two replicas passing together send each delivery once: a claim is a
// lease only one of them wins.
func TestReplicasSendOnce(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		f, g := start(t, db, Config{}), start(t, db, Config{})
		for range 20 {
			caseID, _ := aCase(t, f, ada.ID, "en")
			emit(t, f, events.AnalysisCompletedV1, caseID, events.AnalysisProgress{CaseID: caseID, ProcessingID: uuid.NewString(),
				Outcome: "COMPLETED", Timestamp: f.clock.Now()})
		}
		done := make(chan int, 2)
		for _, x := range []fixture{f, g} {
			go func() {
				n, err := x.svc.DeliverDue(t.Context())
				if err != nil {
					t.Error(err)
				}
				done <- n
			}()
		}
		if n := <-done + <-done; n != 20 {
			t.Errorf("attempted %d, want 20", n)
		}
		a, _ := f.sink.sent()
		b, _ := g.sink.sent()
		if len(a)+len(b) != 20 {
			t.Errorf("sent %d + %d, want 20", len(a), len(b))
		}
	})
}

// patient.erased takes the patient's notices, deliveries, routing and
// folder messages; others' stay. case.erased takes a case's notices
// from professionals and admins.
func TestErasure(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		f := start(t, db, Config{}, true) // the embedded mode's DATA_DIR/mailbox and DATA_DIR/sms
		caseA, _ := aCase(t, f, ada.ID, "en")
		caseB, _ := aCase(t, f, bob.ID, "en")
		for _, c := range []string{caseA, caseB} {
			emit(t, f, events.CaseAssignedV1, c, events.CaseAssigned{CaseID: c, ProfessionalID: grace.ID,
				AssignmentID: uuid.NewString(), Deadline: f.clock.Now().Add(time.Hour), Timestamp: f.clock.Now()})
			emit(t, f, events.OpinionChangesRequestedV1, c, events.OpinionChangesRequested{CaseID: c, OpinionID: uuid.NewString(),
				ProfessionalID: grace.ID, ReviewerID: uuid.NewString(), Timestamp: f.clock.Now()})
		}
		f.deliver(t)
		mail, _ := filepath.Glob(filepath.Join(f.dir, "mailbox", "*.eml"))
		sms, _ := filepath.Glob(filepath.Join(f.dir, "sms", "*.txt"))
		if len(mail) != 3 || len(sms) != 1 {
			t.Fatalf("folders: %v %v", mail, sms)
		}
		e := emit(t, f, events.PatientErasedV1, ada.ID, events.PatientErased{PatientID: ada.ID, Timestamp: f.clock.Now()})
		if err := f.svc.Consume(t.Context(), e); err != nil { // a redelivery does nothing
			t.Fatal(err)
		}
		emit(t, f, events.CaseErasedV1, caseA, events.CaseErased{CaseID: caseA, Timestamp: f.clock.Now()})
		for _, table := range []string{"notifications", "deliveries", "notification_cases", "journal"} {
			if n := testkit.CountContaining(t, f.db, table, ada.ID, caseA); n != 0 {
				t.Errorf("%s keeps %d rows of the erased patient", table, n)
			}
		}
		if n := testkit.CountContaining(t, f.db, "notifications", bob.ID, caseB); n == 0 {
			t.Error("another patient's notices went too")
		}
		mail, _ = filepath.Glob(filepath.Join(f.dir, "mailbox", "*.eml"))
		sms, _ = filepath.Glob(filepath.Join(f.dir, "sms", "*.txt"))
		for _, m := range append(mail, sms...) {
			b, _ := os.ReadFile(m)
			if strings.Contains(string(b), ada.Email) || strings.Contains(m, ada.ID) {
				t.Errorf("a message to the erased patient is kept: %s", m)
			}
		}
		if len(mail) != 2 || len(sms) != 1 {
			t.Errorf("others' messages: %v %v", mail, sms)
		}
		if got := f.notices(t, "pro"); len(got) != 1 {
			t.Errorf("Grace's notices after the erasure of one case: %d, want 1", len(got))
		}
	})
}
