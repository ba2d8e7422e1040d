package provider_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/providertest"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/sandbox"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/stripe"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/stripefake"
)

func TestSandbox(t *testing.T) {
	testkit.ForEachEngine(t, "payments", func(t *testing.T, db *sqldb.DB) {
		if err := sandbox.Migrate(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		p := sandbox.New(db, nil)
		providertest.Run(t, p, func() int {
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM sandbox_intents`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		})
		// A restart keeps the intents.
		var n int
		_ = db.QueryRow(`SELECT COUNT(*) FROM sandbox_intents`).Scan(&n)
		list, err := sandbox.New(db, nil).List(t.Context(), sandboxEpoch)
		if err != nil || len(list) != n || n == 0 {
			t.Errorf("after a restart: %d of %d (%v)", len(list), n, err)
		}
	})
}

func TestStripe(t *testing.T) {
	fake := stripefake.New()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	providertest.Run(t, stripe.New(stripe.Options{SecretKey: stripefake.Key, APIBase: srv.URL}), fake.Creates)

	bad := stripe.New(stripe.Options{SecretKey: "sk_test_wrong", APIBase: srv.URL})
	if _, err := bad.Get(t.Context(), "pi_x"); err == nil {
		t.Error("a wrong key was accepted")
	}
}

var sandboxEpoch = time.Unix(0, 0)
