package notification

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// marker starts every text that must never reach a message.
const marker = "MARKER"

// marked fills a payload: ids with the test's ids (the case, the
// patient, the professional), every other text with a marker naming its
// field — a reason, a code, a specialty stand in for the free text and
// health data an event may carry — numbers with 75.
func marked[P any](caseID, patient, professional string, now time.Time) P {
	var p P
	v := reflect.ValueOf(&p).Elem()
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		switch {
		case sf.Name == "CaseID":
			f.SetString(caseID)
		case sf.Name == "CustomerID" || sf.Name == "PatientID":
			f.SetString(patient)
		case sf.Name == "ProfessionalID":
			f.SetString(professional)
		case sf.Name == "ProfessionalIDs":
			f.Set(reflect.ValueOf([]string{professional}))
		case sf.Name == "CaseNumber":
			f.SetString("EU-2026-NUMBER") // shown, as it should be
		case sf.Name == "Currency":
			f.SetString("EUR")
		case f.Kind() == reflect.String && sf.Tag.Get("format") == "uuid":
			f.SetString(uuid.NewString())
		case f.Kind() == reflect.String:
			f.SetString(marker + "-" + sf.Name)
		case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
			f.SetInt(75)
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(now))
		}
	}
	return p
}

// event makes c's event with a marked payload.
func event[P any](t *testing.T, c bus.Contract[P], caseID, patient, professional string, now time.Time) bus.Event {
	t.Helper()
	e, err := c.New(c.Producer, caseID, marked[P](caseID, patient, professional, now))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// No message — email subject, text or HTML, SMS, in-app title or body —
// in any language shows a diagnosis, question, title, free-text reason or
// anyone's name but the addressee's first name: every event the service
// tells people of is fed with markers in each of its texts, and to
// addressees whose other names are markers, and no marker comes out.
func TestMessagesCarryNoHealthDataOrOtherNames(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		f := start(t, db, Config{})
		f.people.mu.Lock()
		for id, p := range f.people.patients {
			p.MiddleName, p.LastName = marker+"-MIDDLE", marker+"-LAST"
			f.people.patients[id] = p
		}
		g := f.people.pros[grace.ID]
		g.LastName, g.ProNumber, g.Specialties = marker+"-PROLAST", marker+"-PRONUMBER", []string{marker + "-SPECIALTY"}
		f.people.pros[grace.ID] = g
		f.people.mu.Unlock()
		kinds := map[string]bool{}
		for _, lang := range []vocab.Language{"en", "de", "fr"} {
			for _, who := range []string{ada.ID, bob.ID} { // by email, by SMS
				f.people.mu.Lock()
				g := f.people.pros[grace.ID]
				g.Languages = []string{string(lang)}
				f.people.pros[grace.ID] = g
				f.people.mu.Unlock()
				caseID, _ := aCase(t, f, who, lang)
				now := f.clock.Now()
				for _, e := range []bus.Event{
					event(t, events.CaseSubmittedV1, caseID, who, grace.ID, now),
					event(t, events.AnalysisCompletedV1, caseID, who, grace.ID, now),
					event(t, events.CaseAssignedV1, caseID, who, grace.ID, now),
					event(t, events.CaseOfferedV1, caseID, who, grace.ID, now),
					event(t, events.DeadlineApproachingV1, caseID, who, grace.ID, now),
					event(t, events.OpinionSubmittedV1, caseID, who, grace.ID, now),
					event(t, events.OpinionChangesRequestedV1, caseID, who, grace.ID, now),
					event(t, events.OpinionQuestionAskedV1, caseID, who, grace.ID, now),
					event(t, events.OpinionApprovedV1, caseID, who, grace.ID, now),
					event(t, events.OpinionQuestionAnsweredV1, caseID, who, grace.ID, now),
					event(t, events.PaymentSucceededV1, caseID, who, grace.ID, now),
					event(t, events.PaymentFailedV1, caseID, who, grace.ID, now),
					event(t, events.PaymentRefundedV1, caseID, who, grace.ID, now),
					event(t, events.PayoutPaidV1, caseID, who, grace.ID, now),
					event(t, events.AssignmentEscalatedV1, caseID, who, grace.ID, now),
					event(t, events.CaseOrphanedV1, caseID, who, grace.ID, now),
					event(t, events.CredentialSubmittedV1, caseID, who, grace.ID, now),
					event(t, outbox.DeadLettered, caseID, who, grace.ID, now),
					event(t, events.AssignmentExpiredV1, caseID, who, grace.ID, now),
				} {
					if err := f.svc.Consume(context.Background(), e); err != nil {
						t.Fatalf("%s: %v", e.Type, err)
					}
				}
				f.deliver(t)
			}
		}
		emails, texts := f.sink.sent()
		var out []string
		for _, e := range emails {
			out = append(out, e.Subject, e.Text, e.HTML)
			if strings.Contains(e.Text, "Bob") && strings.Contains(e.Text, "Ada") {
				t.Errorf("a message names two people: %s", e.Text)
			}
		}
		for _, m := range texts {
			out = append(out, m.Body)
		}
		for _, token := range []string{"patient-a", "patient-b", "pro", "admin"} {
			for _, lang := range []string{"en", "de"} {
				r := f.call(t, http.MethodGet, "/api/v1/notifications?limit=100", token, "Accept-Language", lang)
				out = append(out, string(r.body))
				var p notificationPage
				r.decode(t, &p)
				for _, n := range p.Items {
					kinds[n.Kind] = true
				}
			}
		}
		for _, s := range out {
			if strings.Contains(s, marker) {
				t.Errorf("a message shows a marker:\n%s", s)
			}
		}
		if len(emails) == 0 || len(texts) == 0 {
			t.Fatalf("sent %d emails and %d SMS", len(emails), len(texts))
		}
		// Every kind but the secrets was rendered.
		if len(kinds) != 20 {
			t.Errorf("rendered %d kinds in-app, want 20: %v", len(kinds), kinds)
		}
	})
}
