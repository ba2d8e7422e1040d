package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/app/apptest"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/test/journey"
)

// TestMoney walks the journey with payment on both engines: a quote, a
// declined card, 3-D Secure, the invoice and its PDF, the approved
// opinion's earning and the payout batch; then a randomised run of
// payments, failures, refunds and cancellations after which not one cent
// is lost or counted twice.
func TestMoney(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir(), "REGION": "EU", "SHUTDOWN_TIMEOUT": "20s",
				"ADMIN_EMAIL": adminEmail, "ADMIN_PASSWORD": adminPassword}
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = apptest.Database(t)
			}
			p := boot(t, env)
			admin := p.j.Login(t, adminEmail, adminPassword)
			pro := paidJourney(t, p.j, admin)
			conservation(t, p.j, admin, pro)
		})
	}
}

var (
	invoiceNumber = regexp.MustCompile(`^INV-EU-20\d\d-\d{6}$`)
	creditNumber  = regexp.MustCompile(`^CN-EU-20\d\d-\d{6}$`)
)

// paidJourney returns the SENIOR professional who wrote its opinion.
func paidJourney(t *testing.T, j journey.Platform, admin string) journey.Account {
	pro := j.RegisterProfessional(t)
	j.Credential(t, admin, pro, "SENIOR")
	patient := j.RegisterPatient(t)

	j.Do(t, patient.Token, http.MethodGet, "/api/v1/pricing/catalog", nil).Want(t, http.StatusOK)
	c := j.OpenCase(t, patient, false)
	if m := j.Do(t, patient.Token, http.MethodPost, "/api/v1/cases/"+c.ID+"/submit",
		map[string]bool{"confirmIncomplete": true}).Want(t, http.StatusOK); m["status"] != "AWAITING_PAYMENT" {
		t.Fatalf("submitted, the case is %v", m["status"])
	}
	for pm, code := range map[string]string{"pm_card_chargeDeclined": "card_declined",
		"pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds"} {
		r := j.Pay(t, patient, c, pm)
		if r.Status != http.StatusPaymentRequired || !strings.Contains(string(r.Body), code) {
			t.Fatalf("paid with %s: %d %s", pm, r.Status, r.Body)
		}
	}
	m := j.Pay(t, patient, c, "pm_card_threeDSecure2Required").Want(t, http.StatusCreated)
	if m["status"] != "REQUIRES_ACTION" {
		t.Fatalf("3-D Secure: %v", m)
	}
	paymentID := journey.Str(t, m, "id")
	if st := caseStatus(t, j, patient, c); st != "AWAITING_PAYMENT" {
		t.Fatalf("before the 3-D Secure step the case is %s", st)
	}
	m = j.Do(t, patient.Token, http.MethodPost, "/api/v1/payments/"+paymentID+"/confirm", nil).Want(t, http.StatusOK)
	if m["status"] != "SUCCEEDED" {
		t.Fatalf("confirmed: %v", m)
	}
	amount := m["amount"].(float64)
	journey.Eventually(t, "the paid case in the pool", func() (bool, string) {
		st := caseStatus(t, j, patient, c)
		return st == "AWAITING_ASSIGNMENT", st
	})

	inv := eventuallyOne(t, j, patient.Token, "/api/v1/invoices?caseId="+c.ID)
	if !invoiceNumber.MatchString(journey.Str(t, inv, "number")) || inv["total"].(float64) != amount {
		t.Fatalf("invoice %v for a payment of %v", inv, amount)
	}
	pdf := j.Do(t, patient.Token, http.MethodGet, "/api/v1/invoices/"+journey.Str(t, inv, "id")+"/pdf", nil)
	if pdf.Status != http.StatusOK || !strings.HasPrefix(string(pdf.Body), "%PDF-") {
		t.Fatalf("invoice PDF: %d %.40s", pdf.Status, pdf.Body)
	}
	stranger := j.RegisterPatient(t)
	for _, path := range []string{"/api/v1/payments/" + paymentID, "/api/v1/invoices/" + journey.Str(t, inv, "id")} {
		j.Do(t, stranger.Token, http.MethodGet, path, nil).Want(t, http.StatusNotFound)
	}

	opinionID := j.Approved(t, pro, c)
	earning := eventuallyOne(t, j, pro.Token, "/api/v1/professionals/"+pro.ID+"/earnings")
	if earning["opinionId"] != opinionID {
		t.Fatalf("earning %v for opinion %s", earning, opinionID)
	}
	j.Do(t, pro.Token, http.MethodPut, "/api/v1/professionals/"+pro.ID+"/payout-account",
		map[string]string{"holder": "Grace Neurologist", "iban": "DE89370400440532013000"}).Want(t, http.StatusOK)
	today := time.Now().UTC()
	batch := j.Do(t, admin, http.MethodPost, "/api/v1/payouts", map[string]string{
		"periodStart": today.AddDate(0, 0, -1).Format(time.DateOnly), "periodEnd": today.Format(time.DateOnly),
	}).Want(t, http.StatusCreated)
	batchID := journey.Str(t, batch, "id")
	if sepa := j.Do(t, admin, http.MethodGet, "/api/v1/payouts/"+batchID+"/sepa", nil); sepa.Status != http.StatusOK ||
		!strings.Contains(string(sepa.Body), "pain.001.001.09") || !strings.Contains(string(sepa.Body), "DE89370400440532013000") {
		t.Fatalf("SEPA file: %d %s", sepa.Status, sepa.Body)
	}
	if csv := j.Do(t, admin, http.MethodGet, "/api/v1/payouts/"+batchID+"/csv", nil); csv.Status != http.StatusOK ||
		!strings.Contains(string(csv.Body), pro.ID) {
		t.Fatalf("CSV: %d %s", csv.Status, csv.Body)
	}
	if m := j.Do(t, admin, http.MethodPost, "/api/v1/payouts/"+batchID+"/paid", nil).Want(t, http.StatusOK); m["status"] != "PAID" {
		t.Fatalf("marked paid: %v", m)
	}
	return pro
}

// conservation runs cases through random payments, declines, refunds,
// cancellations and approved opinions by pro, then checks that the
// successful payments less the refunds equal the invoices less the credit
// notes, and that every approved opinion has exactly one earning.
func conservation(t *testing.T, j journey.Platform, admin string, pro journey.Account) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	patient := j.RegisterPatient(t)
	const cases = 6
	opinions := map[string]bool{j.Approved(t, pro, paidCase(t, j, patient)): true}
	for range cases {
		c := j.OpenCase(t, patient, false)
		j.Do(t, patient.Token, http.MethodPost, "/api/v1/cases/"+c.ID+"/submit", map[string]bool{"confirmIncomplete": true}).
			Want(t, http.StatusOK)
		if rnd.IntN(3) == 0 {
			j.Pay(t, patient, c, "pm_card_chargeDeclined").Want(t, http.StatusPaymentRequired)
		}
		if rnd.IntN(5) == 0 {
			continue // never paid
		}
		paid := j.Pay(t, patient, c, "pm_card_visa").Want(t, http.StatusCreated)
		id := journey.Str(t, paid, "id")
		switch rnd.IntN(5) {
		case 0: // cancelled before assignment: refunded by itself
			j.Do(t, patient.Token, http.MethodPost, "/api/v1/cases/"+c.ID+"/cancel", nil).Want(t, http.StatusOK)
		case 1: // a goodwill gesture, then the rest
			part := int64(paid["amount"].(float64)) / 3
			j.Do(t, admin, http.MethodPost, "/api/v1/payments/"+id+"/refund", map[string]any{"amount": part, "reason": "goodwill"}).
				Want(t, http.StatusOK)
			j.Do(t, admin, http.MethodPost, "/api/v1/payments/"+id+"/refund", map[string]any{"reason": "case withdrawn"}).
				Want(t, http.StatusOK)
		case 2: // refunded by an admin in full
			j.Do(t, admin, http.MethodPost, "/api/v1/payments/"+id+"/refund", map[string]any{"reason": "duplicate"}).
				Want(t, http.StatusOK)
		case 3: // answered
			opinions[j.Approved(t, pro, c)] = true
		}
	}
	journey.Eventually(t, "payments and invoices agree", func() (bool, string) {
		paid, refunded := sums(t, j, patient.Token, "/api/v1/payments", "amount", "refundedAmount")
		invoiced, credited := invoiceSums(t, j, admin, patient.ID)
		return paid-refunded == invoiced-credited && paid > 0,
			fmt.Sprintf("paid %d − refunded %d ≠ invoiced %d − credited %d", paid, refunded, invoiced, credited)
	})
	// The journey's opinion earned once too.
	journey.Eventually(t, "one earning per approved opinion", func() (bool, string) {
		earned := map[string]int{}
		for _, e := range items(t, j, admin, "/api/v1/professionals/"+pro.ID+"/earnings") {
			earned[e["opinionId"].(string)]++
		}
		for id := range opinions {
			if earned[id] != 1 {
				return false, fmt.Sprintf("opinion %s has %d earnings: %v", id, earned[id], earned)
			}
		}
		return len(earned) == len(opinions)+1, fmt.Sprintf("%d opinions approved here and one in the journey, earnings for %d",
			len(opinions), len(earned))
	})
}

// paidCase is a new case of patient's, paid for.
func paidCase(t *testing.T, j journey.Platform, patient journey.Account) journey.Case {
	t.Helper()
	c := j.OpenCase(t, patient, false)
	j.Submit(t, patient, c, map[string]bool{"confirmIncomplete": true})
	return c
}

// sums adds up field a and field b of the payments listed at path that
// took money: SUCCEEDED, or refunded since.
func sums(t *testing.T, j journey.Platform, token, path, a, b string) (int64, int64) {
	t.Helper()
	var sa, sb int64
	for _, it := range items(t, j, token, path) {
		if st := it["status"]; st != "SUCCEEDED" && st != "REFUNDED" && st != "PARTIALLY_REFUNDED" {
			continue
		}
		sa += int64(it[a].(float64))
		sb += int64(it[b].(float64))
	}
	return sa, sb
}

// invoiceSums totals patient's invoices and credit notes.
func invoiceSums(t *testing.T, j journey.Platform, admin, patientID string) (invoiced, credited int64) {
	t.Helper()
	for _, it := range items(t, j, admin, "/api/v1/invoices?customerId="+patientID) {
		total := int64(it["total"].(float64))
		switch it["kind"] {
		case "INVOICE":
			if !invoiceNumber.MatchString(it["number"].(string)) {
				t.Fatalf("invoice number %v", it["number"])
			}
			invoiced += total
		case "CREDIT_NOTE":
			if !creditNumber.MatchString(it["number"].(string)) {
				t.Fatalf("credit note number %v", it["number"])
			}
			credited -= total // a credit note's total is negative
		}
	}
	return invoiced, credited
}

// items is every item of the pages listed at path.
func items(t *testing.T, j journey.Platform, token, path string) []map[string]any {
	t.Helper()
	var all []map[string]any
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for cursor := ""; ; {
		url := path + sep + "limit=100"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		r := j.Do(t, token, http.MethodGet, url, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, r.Status, r.Body)
		}
		var page struct {
			Items      []map[string]any `json:"items"`
			NextCursor string           `json:"nextCursor"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		all = append(all, page.Items...)
		if cursor = page.NextCursor; cursor == "" {
			return all
		}
	}
}

// eventuallyOne waits until the list at path has exactly one item and
// returns it.
func eventuallyOne(t *testing.T, j journey.Platform, token, path string) map[string]any {
	t.Helper()
	var it []map[string]any
	journey.Eventually(t, "one item at "+path, func() (bool, string) {
		it = items(t, j, token, path)
		return len(it) == 1, fmt.Sprint(it)
	})
	return it[0]
}

func caseStatus(t *testing.T, j journey.Platform, patient journey.Account, c journey.Case) string {
	t.Helper()
	return journey.Str(t, j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.ID, nil).Want(t, http.StatusOK), "status")
}
