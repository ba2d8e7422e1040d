package payments_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payments"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/sandbox"
)

func TestReconciliation(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		h, fake := withStripe(t, db)
		if a := h.do(http.MethodGet, "/api/v1/payments/reconciliation", "admin", "", nil); a.status != http.StatusNotFound {
			t.Errorf("before any run: %d", a.status)
		}
		_, agreed := h.paid(sandbox.Visa)
		_, refunded := h.paid(sandbox.Visa)
		_, statused := h.paid(sandbox.Visa)
		var refundedIntent, statusedIntent string
		_ = db.QueryRow(`SELECT intent_id FROM payments WHERE id = $1`, refunded.ID).Scan(&refundedIntent)
		_ = db.QueryRow(`SELECT intent_id FROM payments WHERE id = $1`, statused.ID).Scan(&statusedIntent)
		fake.RefundOutside(refundedIntent, 700)
		fake.SetStatus(statusedIntent, "canceled")

		for token, want := range map[string]int{"patient": 403, "": 401} {
			if a := h.do(http.MethodPost, "/api/v1/payments/reconciliation", token, "", nil); a.status != want {
				t.Errorf("run as %q: %d, want %d", token, a.status, want)
			}
		}
		a := h.do(http.MethodPost, "/api/v1/payments/reconciliation", "admin", "", nil)
		var rep payments.Reconciliation
		mustJSON(t, a.body, &rep)
		if a.status != http.StatusOK || rep.Checked != 3 {
			t.Fatalf("run: %d %s", a.status, a.body)
		}
		var got []string
		for _, d := range rep.Differences {
			got = append(got, d.PaymentID+" "+d.Kind)
		}
		slices.Sort(got)
		want := []string{refunded.ID + " REFUNDED", statused.ID + " STATUS"}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("differences %v, want %v (agreed %s)", got, want, agreed.ID)
		}
		for _, d := range rep.Differences {
			if d.PaymentID == refunded.ID && (d.Ours.RefundedAmount != 0 || d.Theirs.RefundedAmount != 700) {
				t.Errorf("refund difference %+v %+v", d.Ours, d.Theirs)
			}
		}
		var latest payments.Reconciliation
		mustJSON(t, h.do(http.MethodGet, "/api/v1/payments/reconciliation", "admin", "", nil).body, &latest)
		if latest.ID != rep.ID || len(latest.Differences) != 2 {
			t.Errorf("latest %+v", latest)
		}
	})
}

// Reconciliation also recovers: a payment whose answer was lost is
// completed before the comparison, which then finds nothing amiss.
func TestReconciliationRecovers(t *testing.T) {
	db := testkit.OpenDB(t, sqldb.SQLite, payments.Name)
	l := &lossy{Provider: sandbox.New(db, nil)}
	h := newHarness(t, db, payments.Config{Providers: []provider.Provider{l}})
	caseID := h.newCase(patient, "AWAITING_PAYMENT")
	l.lose.Store(1)
	h.pay("patient", "lost", caseID, sandbox.Visa)
	h.clock.Add(5 * time.Minute)
	rep, err := h.svc.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Recovered != 1 || len(rep.Differences) != 0 {
		t.Errorf("report %+v", rep)
	}
	if n := h.count("payments", "status = 'SUCCEEDED'"); n != 1 {
		t.Errorf("not recovered")
	}
}

func TestModule(t *testing.T) {
	spec := payments.Module.Spec()
	if missing := authz.Missing(spec); len(missing) != 0 {
		t.Errorf("operations without a policy: %v", missing)
	}
	policies := map[string]string{}
	for path, item := range spec.Paths {
		if item.Post != nil {
			policies["POST "+path] = item.Post.Extensions[authz.Extension].(string)
		}
		if item.Get != nil {
			policies["GET "+path] = item.Get.Extensions[authz.Extension].(string)
		}
	}
	want := map[string]string{
		"POST /api/v1/payments":                "authenticated:patient;owner",
		"GET /api/v1/payments":                 "authenticated:patient,admin;owner",
		"GET /api/v1/payments/{id}":            "authenticated:patient,admin;owner",
		"POST /api/v1/payments/{id}/confirm":   "authenticated:patient;owner",
		"POST /api/v1/payments/{id}/refund":    "authenticated:admin",
		"POST /api/v1/payments/reconciliation": "authenticated:admin",
		"GET /api/v1/payments/reconciliation":  "authenticated:admin",
		"POST /api/v1/webhooks/{provider}":     "public",
	}
	b, _ := json.Marshal(policies)
	w, _ := json.Marshal(want)
	if string(b) != string(w) {
		t.Errorf("policies %s, want %s", b, w)
	}
	if !slices.Equal(payments.Module.Requires, []string{"pricing", "case-management"}) {
		t.Errorf("requires %v", payments.Module.Requires)
	}
	for _, typ := range []string{"case.assigned", "case.cancelled", "case.orphaned", "case.erased", "patient.erased"} {
		if !slices.Contains(payments.Module.Consumes, typ) {
			t.Errorf("does not consume %s", typ)
		}
	}

	// Built by the binary: the peers are reached and make readiness checks.
	db := testkit.OpenDB(t, sqldb.SQLite, payments.Name)
	if err := payments.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	cfg, err := payments.Module.LoadConfig(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	svc, err := payments.Module.New(cfg, service.Deps{DB: db, Bus: inproc.New(), Log: slog.New(slog.DiscardHandler),
		Peer: func(string) (service.Peer, error) {
			return service.Peer{HTTP: http.DefaultClient, URL: "http://127.0.0.1:1"}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	checks := svc.Checks()
	if checks["pricing"] == nil || checks["case-management"] == nil {
		t.Errorf("checks %v", checks)
	}
	for _, bad := range []map[string]string{{"PAYMENTS_PROVIDER": "paypal"}, {"PAYMENTS_PROVIDER": "stripe"}} {
		_, err := payments.Module.LoadConfig(func(k string) (string, bool) { v, ok := bad[k]; return v, ok })
		if err == nil || !strings.Contains(err.Error(), "PAYMENTS_PROVIDER") && !strings.Contains(err.Error(), "STRIPE_SECRET_KEY") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
