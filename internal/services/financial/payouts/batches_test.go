package payouts_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payouts"
)

var mayPeriod = map[string]any{"periodStart": "2031-05-01", "periodEnd": "2031-05-31"}

// An admin gathers May's unpaid earnings into a batch, one item per
// professional; marks it paid once (payout.paid per professional), and the
// professionals' earnings and statements say which batch paid them.
func TestBatchLifecycle(t *testing.T) {
	testkit.ForEachEngine(t, payouts.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		a, b, r := uuid.NewString(), uuid.NewString(), uuid.NewString()
		h.approve(a, vocab.Senior, "", may(1))
		h.approve(a, vocab.Senior, "", may(31))
		h.approve(b, vocab.Junior, r, may(15))
		h.approve(b, vocab.Junior, "", june10.AddDate(0, 0, -5)) // June: not in May's batch

		res := h.want(h.do("admin", "POST", "/api/v1/payouts", mayPeriod), http.StatusCreated, "create")
		batch := decode[payouts.Batch](t, res)
		if res.header.Get("Location") != "/api/v1/payouts/"+batch.ID {
			t.Errorf("location %q", res.header.Get("Location"))
		}
		items := map[string]string{}
		for _, it := range batch.Items {
			items[it.ProfessionalID] = fmt.Sprint(it.Earnings, " ", it.Amount)
		}
		if batch.Total != 24000+6000+1500 || batch.Professionals != 3 || batch.Earnings != 4 || batch.Status != "CREATED" ||
			batch.Currency != "EUR" || items[a] != "2 24000" || items[b] != "1 6000" || items[r] != "1 1500" || batch.CreatedBy != adminID {
			t.Fatalf("batch %+v", batch)
		}
		created := h.outbox(events.PayoutBatchCreatedV1.Type)
		if len(created) != 1 {
			t.Fatalf("%d payout.batch_created", len(created))
		}
		if p, _ := events.PayoutBatchCreatedV1.Decode(created[0]); p.BatchID != batch.ID || p.Total != 31500 || p.Professionals != 3 ||
			p.PeriodStart != "2031-05-01" || p.PeriodEnd != "2031-05-31" || p.Currency != "EUR" {
			t.Errorf("payout.batch_created %+v", p)
		}
		// Nothing of May is left to gather.
		h.want(h.do("admin", "POST", "/api/v1/payouts", mayPeriod), http.StatusConflict, "May again")
		if n := h.count(`SELECT COUNT(*) FROM batches`); n != 1 {
			t.Errorf("%d batches after a refused one", n)
		}

		st := decode[payouts.Statement](t, h.want(h.do("pro:"+a, "GET", "/api/v1/professionals/"+a+"/statements/2031-05", nil), 200, "statement"))
		if st.Totals[0].InBatch != 24000 || st.Totals[0].Unpaid != 0 || len(st.Batches) != 1 || st.Batches[0].BatchID != batch.ID ||
			st.Batches[0].Status != "CREATED" || st.Batches[0].Amount != 24000 {
			t.Errorf("statement while in a batch: %+v", st)
		}

		path := "/api/v1/payouts/" + batch.ID
		paid := decode[payouts.Batch](t, h.want(h.do("admin", "POST", path+"/paid", nil), 200, "paid"))
		if paid.Status != "PAID" || paid.PaidAt == nil || !paid.PaidAt.Equal(june10) || paid.PaidBy != adminID {
			t.Errorf("paid batch %+v", paid)
		}
		again := decode[payouts.Batch](t, h.want(h.do("admin", "POST", path+"/paid", nil), 200, "paid again"))
		if again.Status != "PAID" || !again.PaidAt.Equal(*paid.PaidAt) {
			t.Errorf("paid again %+v", again)
		}
		paidEvents := h.outbox(events.PayoutPaidV1.Type)
		if len(paidEvents) != 3 {
			t.Fatalf("%d payout.paid after marking twice, want one per professional", len(paidEvents))
		}
		got := map[string]int64{}
		for _, e := range paidEvents {
			p, err := events.PayoutPaidV1.Decode(e)
			if err != nil || p.BatchID != batch.ID || p.Currency != "EUR" || e.AggregateID != p.ProfessionalID {
				t.Errorf("payout.paid %+v: %v", p, err)
			}
			got[p.ProfessionalID] = p.Amount
		}
		if got[a] != 24000 || got[b] != 6000 || got[r] != 1500 {
			t.Errorf("paid %v", got)
		}

		st = decode[payouts.Statement](t, h.want(h.do("admin", "GET", "/api/v1/professionals/"+a+"/statements/2031-05", nil), 200, "statement"))
		if st.Totals[0].Paid != 24000 || st.Batches[0].Status != "PAID" || st.Batches[0].PaidAt == nil || st.Earnings[0].BatchID != batch.ID {
			t.Errorf("statement once paid: %+v", st)
		}
		es := decode[page.Page[payouts.Earning]](t, h.want(h.do("pro:"+b, "GET", "/api/v1/professionals/"+b+"/earnings", nil), 200, "earnings"))
		if len(es.Items) != 2 || es.Items[0].Status != payouts.Unpaid || es.Items[1].Status != payouts.PaidOut {
			t.Errorf("b's earnings: %+v", es.Items)
		}

		// The list, the batch, its CSV.
		list := decode[page.Page[payouts.Batch]](t, h.want(h.do("admin", "GET", "/api/v1/payouts", nil), 200, "list"))
		if len(list.Items) != 1 || list.Items[0].ID != batch.ID || list.Items[0].Status != "PAID" {
			t.Errorf("list %+v", list)
		}
		one := decode[payouts.Batch](t, h.want(h.do("admin", "GET", path, nil), 200, "get"))
		if len(one.Items) != 3 || one.Total != 31500 {
			t.Errorf("get %+v", one)
		}
		csv := h.want(h.do("admin", "GET", path+"/csv", nil), 200, "csv")
		if ct := csv.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("CSV content type %q", ct)
		}
		lines := strings.Split(strings.TrimSpace(string(csv.raw)), "\n")
		if len(lines) != 4 || lines[0] != "batchId,periodStart,periodEnd,professionalId,earnings,amount,currency,status" ||
			!strings.Contains(string(csv.raw), batch.ID+",2031-05-01,2031-05-31,"+a+",2,240.00,EUR,PAID") {
			t.Errorf("CSV:\n%s", csv.raw)
		}
		h.want(h.do("admin", "GET", "/api/v1/payouts/"+uuid.NewString(), nil), 404, "no such batch")
		h.want(h.do("admin", "POST", "/api/v1/payouts/"+uuid.NewString()+"/paid", nil), 404, "pay no such batch")
	})
}

// Batches are for admins, for periods that are over.
func TestBatchRules(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, payouts.Name))
	h.approve(uuid.NewString(), vocab.Expert, "", may(5))
	for _, token := range []string{"patient", "pro:" + uuid.NewString()} {
		h.want(h.do(token, "POST", "/api/v1/payouts", mayPeriod), 403, "create as "+token)
		h.want(h.do(token, "GET", "/api/v1/payouts", nil), 403, "list as "+token)
	}
	for what, body := range map[string]map[string]any{
		"a period ending after today": {"periodStart": "2031-06-01", "periodEnd": "2031-06-11"},
		"backwards":                   {"periodStart": "2031-05-31", "periodEnd": "2031-05-01"},
		"not a date":                  {"periodStart": "May", "periodEnd": "2031-05-31"},
	} {
		h.want(h.do("admin", "POST", "/api/v1/payouts", body), 422, what)
	}
	h.want(h.do("admin", "POST", "/api/v1/payouts", map[string]any{"periodStart": "2031-04-01", "periodEnd": "2031-04-30"}), 409, "April: nothing")
	h.want(h.do("admin", "POST", "/api/v1/payouts", map[string]any{"periodStart": "2031-05-01", "periodEnd": "2031-05-31",
		"currency": "USD"}), 409, "May in dollars: nothing")
	h.want(h.do("admin", "POST", "/api/v1/payouts", mayPeriod), 201, "May")
}

// Batches created at the same time never share an earning: together they
// pay each earning exactly once.
func TestConcurrentBatches(t *testing.T) {
	testkit.ForEachEngine(t, payouts.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		pros := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
		var want int64
		for day := 1; day <= 30; day++ {
			h.approve(pros[day%3], vocab.Senior, pros[(day+1)%3], may(day)) // a SENIOR: 120.00, and SENIOR's fee of 20.00
			want += 12000 + 2000
		}
		const creators = 6
		var wg sync.WaitGroup
		codes := make([]int, creators)
		for i := range creators {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = h.do("admin", "POST", "/api/v1/payouts", mayPeriod).code
			}()
		}
		wg.Wait()
		created := 0
		for _, c := range codes {
			switch c {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
			default:
				t.Fatalf("concurrent creations answered %v", codes)
			}
		}
		var total int64
		perPro := map[string]int64{}
		list := decode[page.Page[payouts.Batch]](t, h.want(h.do("admin", "GET", "/api/v1/payouts?limit=100", nil), 200, "list"))
		if len(list.Items) != created || created == 0 {
			t.Fatalf("%d batches listed, %d created: %v", len(list.Items), created, codes)
		}
		for _, b := range list.Items {
			full := decode[payouts.Batch](t, h.want(h.do("admin", "GET", "/api/v1/payouts/"+b.ID, nil), 200, "batch"))
			for _, it := range full.Items {
				perPro[it.ProfessionalID] += it.Amount
				total += it.Amount
			}
		}
		if total != want {
			t.Errorf("the batches pay %d in all, the earnings are %d", total, want)
		}
		if n := h.count(`SELECT COUNT(*) FROM earnings WHERE batch_id IS NULL`); n != 0 {
			t.Errorf("%d earnings left out", n)
		}
		for _, p := range pros {
			var earned int64
			if err := h.db.QueryRow(`SELECT SUM(amount) FROM earnings WHERE professional_id = $1`, p).Scan(&earned); err != nil {
				t.Fatal(err)
			}
			if perPro[p] != earned {
				t.Errorf("professional paid %d for %d earned", perPro[p], earned)
			}
		}
	})
}
