package payouts_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payouts"
)

// Every approved opinion has exactly one earning, priced by its author's
// level from the rates in force at approval, and its peer reviewer one fee;
// redelivery or a replay under another event id changes nothing.
func TestEarningsAccrue(t *testing.T) {
	testkit.ForEachEngine(t, payouts.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		senior, junior, reviewer := uuid.NewString(), uuid.NewString(), uuid.NewString()
		h.approve(senior, vocab.Senior, "", may(3))
		reviewed := uuid.NewString()
		e := approval(reviewed, junior, vocab.Junior, reviewer, may(4))
		h.consume(e)
		h.consume(e)                                                          // redelivered
		h.consume(approval(reviewed, junior, vocab.Junior, reviewer, may(4))) // replayed under another event id
		if n := h.count(`SELECT COUNT(*) FROM earnings WHERE opinion_id = $1`, reviewed); n != 2 {
			t.Fatalf("%d earnings of the reviewed opinion, want the author's and the reviewer's", n)
		}

		// The default rates: SENIOR 120.00, JUNIOR 60.00 and a 15.00 fee.
		got := func(pro string) []string {
			r := h.want(h.do("pro:"+pro, "GET", "/api/v1/professionals/"+pro+"/earnings", nil), 200, "earnings")
			var out []string
			for _, e := range decode[page.Page[payouts.Earning]](t, r).Items {
				out = append(out, string(e.Kind)+" "+string(e.Level)+" "+itoa(e.Amount)+" "+e.Currency+" "+string(e.Status))
			}
			return out
		}
		for pro, want := range map[string][]string{
			senior:   {"OPINION SENIOR 12000 EUR UNPAID"},
			junior:   {"OPINION JUNIOR 6000 EUR UNPAID"},
			reviewer: {"REVIEW JUNIOR 1500 EUR UNPAID"},
		} {
			if g := got(pro); !slices.Equal(g, want) {
				t.Errorf("earnings %v, want %v", g, want)
			}
		}

		// New rates from now (June 10) on; an approval of May 20 that
		// arrives afterwards keeps May's rates, one of June 11 gets the new.
		rates := map[string]any{"currency": "EUR", "rates": []map[string]any{
			{"level": "JUNIOR", "opinion": 7000, "reviewerFee": 0}, {"level": "SENIOR", "opinion": 13000, "reviewerFee": 2000},
			{"level": "EXPERT", "opinion": 21000, "reviewerFee": 2500}, {"level": "DISTINGUISHED", "opinion": 31000, "reviewerFee": 3000}}}
		r := h.want(h.do("admin", "PUT", "/api/v1/payouts/rates", rates), 200, "set rates")
		if rt := decode[payouts.RateTable](t, r); !rt.EffectiveFrom.Equal(june10) || rt.Rates[0].Opinion != 7000 {
			t.Errorf("rates in force: %+v", rt)
		}
		h.approve(senior, vocab.Senior, "", may(20))
		h.clock.set(june10.Add(24 * time.Hour))
		h.approve(senior, vocab.Senior, "", june10.Add(time.Hour))
		h.approve(junior, vocab.Junior, reviewer, june10.Add(2*time.Hour)) // no fee any more: none accrued
		if g := got(senior); !slices.Equal(g, []string{"OPINION SENIOR 13000 EUR UNPAID", "OPINION SENIOR 12000 EUR UNPAID",
			"OPINION SENIOR 12000 EUR UNPAID"}) {
			t.Errorf("senior's earnings across the change of rates: %v", g)
		}
		if g := got(reviewer); len(g) != 1 {
			t.Errorf("a fee of nothing was accrued: %v", g)
		}

		// Filters and pages.
		path := "/api/v1/professionals/" + senior + "/earnings"
		r = h.want(h.do("pro:"+senior, "GET", path+"?from=2031-05-01&to=2031-05-31", nil), 200, "May")
		if n := len(decode[page.Page[payouts.Earning]](t, r).Items); n != 2 {
			t.Errorf("%d earnings in May, want 2", n)
		}
		r = h.want(h.do("pro:"+senior, "GET", path+"?from=2031-05-04&to=2031-05-20", nil), 200, "May 4 to 20")
		if n := len(decode[page.Page[payouts.Earning]](t, r).Items); n != 1 {
			t.Errorf("%d earnings from May 4 to 20 (the last day included), want 1", n)
		}
		var walked []string
		for cursor := ""; ; {
			r := h.want(h.do("admin", "GET", path+"?limit=1&cursor="+cursor, nil), 200, "a page")
			p := decode[page.Page[payouts.Earning]](t, r)
			for _, e := range p.Items {
				walked = append(walked, e.AccruedAt.Format("01-02"))
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if !slices.Equal(walked, []string{"06-10", "05-20", "05-03"}) {
			t.Errorf("pages walked %v, want newest first", walked)
		}
		for _, q := range []string{"?from=May", "?to=2031-13-01", "?from=2031-06-01&to=2031-05-01", "?cursor=nope"} {
			h.want(h.do("pro:"+senior, "GET", path+q, nil), http.StatusUnprocessableEntity, "bad filter "+q)
		}

		// The statement of May.
		r = h.want(h.do("pro:"+senior, "GET", "/api/v1/professionals/"+senior+"/statements/2031-05", nil), 200, "statement")
		st := decode[payouts.Statement](t, r)
		if len(st.Earnings) != 2 || len(st.Totals) != 1 || st.Totals[0].Earned != 24000 || st.Totals[0].Unpaid != 24000 ||
			st.Totals[0].Paid != 0 || len(st.Batches) != 0 || st.Month != "2031-05" {
			t.Errorf("May's statement: %+v", st)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Earnings are the professional's own; an admin reads anyone's.
func TestEarningsAccess(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, payouts.Name))
	pro, other := uuid.NewString(), uuid.NewString()
	h.approve(pro, vocab.Expert, "", may(2))
	for _, path := range []string{"/api/v1/professionals/" + pro + "/earnings", "/api/v1/professionals/" + pro + "/statements/2031-05"} {
		for token, want := range map[string]int{"": 401, "patient": 403, "pro:" + other: 404, "pro:" + pro: 200, "admin": 200} {
			h.want(h.do(token, "GET", path, nil), want, token+" reads "+path)
		}
	}
	h.want(h.do("pro:"+pro, "GET", "/api/v1/professionals/"+pro+"/statements/2031-13", nil), 422, "a month that is not")
	for _, token := range []string{"pro:" + pro, "patient"} {
		h.want(h.do(token, "GET", "/api/v1/payouts/rates", nil), 403, "rates")
		h.want(h.do(token, "PUT", "/api/v1/payouts/rates", map[string]any{"currency": "EUR", "rates": []any{}}), 403, "set rates")
	}
}

// A rate table names every level once, and pays every opinion something.
func TestRatesValidated(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, payouts.Name))
	full := func() []map[string]any {
		return []map[string]any{{"level": "JUNIOR", "opinion": 1, "reviewerFee": 0}, {"level": "SENIOR", "opinion": 1, "reviewerFee": 0},
			{"level": "EXPERT", "opinion": 1, "reviewerFee": 0}, {"level": "DISTINGUISHED", "opinion": 1, "reviewerFee": 0}}
	}
	missing := full()[:3]
	twice := append(full(), map[string]any{"level": "JUNIOR", "opinion": 5, "reviewerFee": 0})
	free := full()
	free[1]["opinion"] = 0
	for what, rates := range map[string][]map[string]any{"a level missing": missing, "a level twice": twice, "a free opinion": free} {
		h.want(h.do("admin", "PUT", "/api/v1/payouts/rates", map[string]any{"currency": "EUR", "rates": rates}), 422, what)
	}
	h.want(h.do("admin", "PUT", "/api/v1/payouts/rates", map[string]any{"currency": "eur", "rates": full()}), 422, "currency")
	r := h.want(h.do("admin", "GET", "/api/v1/payouts/rates", nil), 200, "rates")
	if rt := decode[payouts.RateTable](t, r); rt.Currency != "EUR" || len(rt.Rates) != 4 || rt.Rates[0].Level != vocab.Junior ||
		rt.Rates[0].Opinion != 6000 || rt.Rates[0].ReviewerFee != 1500 {
		t.Errorf("the defaults are still in force: %+v", rt)
	}
}

// An approval that cannot be priced (no level, a reviewer who is the
// author) accrues nothing and fails, for the dead letters.
func TestUnpriceableApproval(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, payouts.Name))
	pro := uuid.NewString()
	for _, e := range []struct {
		level    vocab.Level
		reviewer string
	}{{"", ""}, {"BOSS", ""}, {vocab.Junior, pro}} {
		h.consume(approval(uuid.NewString(), pro, e.level, e.reviewer, may(1)))
	}
	if n := h.count(`SELECT COUNT(*) FROM earnings`); n != 0 {
		t.Errorf("%d earnings from unpriceable approvals", n)
	}
	// Parked for retry, then the dead letters.
	if n := h.count(`SELECT COUNT(*) FROM inbox WHERE status <> 'done'`); n != 3 {
		t.Errorf("%d failed approvals parked, want 3", n)
	}
}
