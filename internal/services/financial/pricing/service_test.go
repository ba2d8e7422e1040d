package pricing

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	pricingclient "github.com/secondopinion/platform/internal/clients/pricing"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/pricing/domain"
)

func TestModule(t *testing.T) {
	if !slices.Equal(Module.Consumes, []string{"case.erased", "patient.erased"}) || !slices.Equal(Module.Requires, []string{"case-management"}) {
		t.Errorf("consumes %v, requires %v", Module.Consumes, Module.Requires)
	}
	if Module.Name != "pricing" {
		t.Errorf("module %+v", Module)
	}
	spec := Module.Spec()
	if missing := authz.Missing(spec); len(missing) != 0 {
		t.Errorf("operations without a policy: %v", missing)
	}
	if n := len(spec.Paths); n != 4 {
		t.Errorf("%d paths, want 4", n)
	}
}

func TestPricing(t *testing.T) {
	for _, engine := range testkit.Engines(t) {
		for name, test := range map[string]func(*testing.T, *harness){
			"catalogue": testCatalogue,
			"quotes":    testQuotes,
			"access":    testAccess,
			"discounts": testDiscounts,
			"redeem":    testRedeem,
			"race":      testRedeemRace,
			"erasure":   testErasure,
		} {
			t.Run(string(engine)+"/"+name, func(t *testing.T) { test(t, newHarness(t, testkit.OpenDB(t, engine, Name))) })
		}
	}
}

func testCatalogue(t *testing.T, h *harness) {
	var all Catalogue
	h.into(h.do("pro", "GET", "/api/v1/pricing/catalog", nil), 200, &all)
	if want := 3 * len(vocab.Specialties) * len(vocab.Urgencies); len(all.Items) != want {
		t.Fatalf("%d prices, want %d", len(all.Items), want)
	}
	var uk Catalogue
	h.into(h.do("a", "GET", "/api/v1/pricing/catalog?region=UK", nil), 200, &uk)
	if len(uk.Items) != 2*len(vocab.Specialties) {
		t.Errorf("%d UK prices", len(uk.Items))
	}
	for _, p := range uk.Items {
		if p.Region != "UK" || p.Currency != "GBP" || p.TaxRate != 2000 || p.TotalAmount != p.NetAmount+p.TaxAmount ||
			p.TaxAmount != p.NetAmount/5 {
			t.Errorf("UK price %+v", p)
		}
	}
	if r := h.do("", "GET", "/api/v1/pricing/catalog", nil); r.status != 401 {
		t.Errorf("anonymous: %d", r.status)
	}
	if r := h.do("a", "GET", "/api/v1/pricing/catalog?region=uk", nil); r.status != 422 {
		t.Errorf("a malformed region: %d", r.status)
	}

	// Admins set prices; others may not. A region keeps one currency.
	path := "/api/v1/pricing/catalog/EU/ONCOLOGY/URGENT"
	change := map[string]any{"netAmount": 90000, "currency": "EUR", "taxRate": 1900}
	for tok, want := range map[string]int{"": 401, "a": 403, "pro": 403, "service:payments": 403} {
		if r := h.do(tok, "PUT", path, change); r.status != want {
			t.Errorf("set a price as %q: %d, want %d", tok, r.status, want)
		}
	}
	var set CataloguePrice
	h.into(h.do("admin", "PUT", path, change), 200, &set)
	if set.NetAmount != 90000 || set.TaxRate != 1900 || set.TaxAmount != 17100 || set.TotalAmount != 107100 || !set.UpdatedAt.Equal(start) {
		t.Errorf("set %+v", set)
	}
	r := h.do("admin", "PUT", path, map[string]any{"netAmount": 90000, "currency": "USD", "taxRate": 0})
	if loc, _ := errorAt(r); r.status != 422 || loc != "body.currency" {
		t.Errorf("another currency in EU: %d %s", r.status, r.raw)
	}
	for _, bad := range []string{"/api/v1/pricing/catalog/EU/ASTROLOGY/URGENT", "/api/v1/pricing/catalog/EU/ONCOLOGY/SOON",
		"/api/v1/pricing/catalog/europe/ONCOLOGY/URGENT"} {
		if r := h.do("admin", "PUT", bad, change); r.status != 422 {
			t.Errorf("%s: %d", bad, r.status)
		}
	}
	if r := h.do("admin", "PUT", path, map[string]any{"netAmount": -1, "currency": "EUR", "taxRate": 0}); r.status != 422 {
		t.Errorf("a negative price: %d", r.status)
	}
	// A new region takes any currency.
	h.into(h.do("admin", "PUT", "/api/v1/pricing/catalog/CH/ONCOLOGY/URGENT", map[string]any{"netAmount": 95000, "currency": "CHF", "taxRate": 810}), 200, &set)
	var eu Catalogue
	h.into(h.do("a", "GET", "/api/v1/pricing/catalog?region=EU", nil), 200, &eu)
	for _, p := range eu.Items {
		if p.Specialty == "ONCOLOGY" && p.Urgency == "URGENT" && p.NetAmount != 90000 {
			t.Errorf("the catalogue kept %+v", p)
		}
	}
	var audited []string
	for _, e := range h.audits() {
		if e.Actor != adminID || e.Purpose != "administration" || e.Outcome != "allowed" {
			t.Errorf("entry %+v", e)
		}
		audited = append(audited, e.Action+" "+e.ResourceID)
	}
	if want := []string{"pricing.price.set EU/ONCOLOGY/URGENT", "pricing.price.set CH/ONCOLOGY/URGENT"}; !slices.Equal(audited, want) {
		t.Errorf("audited %v, want %v", audited, want)
	}
}

func testQuotes(t *testing.T, h *harness) {
	for _, c := range []struct {
		number, specialty, urgency, status string
		want                               Quote
	}{
		{"EU-2030-7KQ2ZD", "ONCOLOGY", "URGENT", "DRAFT",
			Quote{Region: "EU", Currency: "EUR", NetAmount: 88500, TaxRate: 2000, TaxAmount: 17700, TotalAmount: 106200}},
		{"UK-2030-000001", "CARDIOLOGY", "STANDARD", "AWAITING_PAYMENT",
			Quote{Region: "UK", Currency: "GBP", NetAmount: 51000, TaxRate: 2000, TaxAmount: 10200, TotalAmount: 61200}},
		{"US-2030-000002", "DERMATOLOGY", "URGENT", "DRAFT",
			Quote{Region: "US", Currency: "USD", NetAmount: 74250, TotalAmount: 74250}},
		// A number without a region is the deployment's.
		{"2030-000003", "DERMATOLOGY", "STANDARD", "DRAFT",
			Quote{Region: "EU", Currency: "EUR", NetAmount: 45000, TaxRate: 2000, TaxAmount: 9000, TotalAmount: 54000}},
	} {
		id := h.newCase(patientA, c.number, c.specialty, c.urgency, c.status)
		q, r := h.quote("a", id, "")
		if r.status != 201 {
			t.Fatalf("%s: %d %s", c.number, r.status, r.raw)
		}
		want := c.want
		want.ID, want.CaseID, want.Specialty, want.Urgency, want.ExpiresAt, want.Token = q.ID, id,
			vocab.Specialty(c.specialty), vocab.Urgency(c.urgency), start.Add(30*time.Minute), q.Token
		if q != want {
			t.Errorf("%s: %+v, want %+v", c.number, q, want)
		}
		claims, err := domain.Verify(h.svc.key, q.Token)
		if err != nil || claims.QuoteID != q.ID || claims.CaseID != id || claims.PatientID != patientA || claims.Total != q.TotalAmount {
			t.Errorf("%s: token %+v, %v", c.number, claims, err)
		}
		if strings.Contains(string(r.raw), "health data") {
			t.Error("the quote shows the case's title")
		}
	}
	if slices.ContainsFunc(h.cases.reads, func(p string) bool { return p != "pricing.quote" }) {
		t.Errorf("case reads for %v", h.cases.reads)
	}
	entries := h.audits()
	if len(entries) != 4 {
		t.Fatalf("%d audit entries, want one per quote", len(entries))
	}
	for _, e := range entries {
		if e.Action != "quote.create" || e.Actor != patientA || e.PatientID != patientA || e.Purpose != "self-service" {
			t.Errorf("entry %+v", e)
		}
	}

	// Only a case that can still be paid for, and one that is priced.
	submitted := h.newCase(patientA, "EU-2030-000004", "ONCOLOGY", "URGENT", "SUBMITTED")
	if _, r := h.quote("a", submitted, ""); r.status != 409 {
		t.Errorf("a submitted case: %d", r.status)
	}
	japan := h.newCase(patientA, "JP-2030-000005", "ONCOLOGY", "URGENT", "DRAFT")
	if _, r := h.quote("a", japan, ""); r.status != 409 {
		t.Errorf("an unpriced region: %d", r.status)
	}
}

func testAccess(t *testing.T, h *harness) {
	mine := h.newCase(patientA, "EU-2030-000001", "NEUROLOGY", "STANDARD", "DRAFT")
	for tok, want := range map[string]int{"": 401, "pro": 403, "admin": 403, "service:payments": 403, "b": 404, "a": 201} {
		if _, r := h.quote(tok, mine, ""); r.status != want {
			t.Errorf("a quote of A's case as %q: %d, want %d", tok, r.status, want)
		}
	}
	if _, r := h.quote("a", uuid.NewString(), ""); r.status != 404 {
		t.Errorf("an unknown case: %d", r.status)
	}
	if _, r := h.quote("a", "42", ""); r.status != 422 {
		t.Errorf("a malformed case id: %d", r.status)
	}
	for tok, want := range map[string]int{"": 401, "a": 403, "pro": 403, "admin": 200} {
		if r := h.do(tok, "GET", "/api/v1/pricing/discounts", nil); r.status != want {
			t.Errorf("list discount codes as %q: %d, want %d", tok, r.status, want)
		}
		if want == 200 {
			want = 201
		}
		if r := h.do(tok, "POST", "/api/v1/pricing/discounts", map[string]any{"code": "X-" + tok + "-1", "kind": "PERCENT", "percent": 100}); r.status != want {
			t.Errorf("create a discount code as %q: %d, want %d", tok, r.status, want)
		}
	}
}

// code issues a discount code as an admin.
func (h *harness) code(body map[string]any) Discount {
	h.t.Helper()
	var d Discount
	h.into(h.do("admin", "POST", "/api/v1/pricing/discounts", body), 201, &d)
	return d
}

// refused checks that r is a 422 at body.discountCode, with a message
// containing why.
func refused(t *testing.T, what string, r response, why string) {
	t.Helper()
	loc, msg := errorAt(r)
	if r.status != 422 || loc != "body.discountCode" || !strings.Contains(msg, why) {
		t.Errorf("%s: %d at %q: %s", what, r.status, loc, r.raw)
	}
}

func testDiscounts(t *testing.T, h *harness) {
	tenPct := h.code(map[string]any{"code": "spring-10", "kind": "PERCENT", "percent": 1000,
		"validUntil": start.Add(48 * time.Hour), "maxUses": 5, "maxUsesPerPatient": 1})
	if tenPct.Code != "SPRING-10" || tenPct.Uses != 0 || !tenPct.ValidFrom.Equal(start) || tenPct.ValidUntil == nil {
		t.Errorf("created %+v", tenPct)
	}
	if r := h.do("admin", "POST", "/api/v1/pricing/discounts", map[string]any{"code": "Spring-10", "kind": "FIXED", "amount": 100, "currency": "EUR"}); r.status != 409 {
		t.Errorf("a taken code, in other case: %d", r.status)
	}
	for name, body := range map[string]map[string]any{
		"percent over 100 %":         {"code": "BAD1", "kind": "PERCENT", "percent": 10001},
		"fixed without currency":     {"code": "BAD2", "kind": "FIXED", "amount": 100},
		"fixed with percent":         {"code": "BAD3", "kind": "FIXED", "amount": 100, "currency": "EUR", "percent": 5},
		"unknown kind":               {"code": "BAD4", "kind": "BOGO"},
		"window ending before start": {"code": "BAD5", "kind": "PERCENT", "percent": 5, "validFrom": start, "validUntil": start},
		"code with spaces":           {"code": "NO SPACE", "kind": "PERCENT", "percent": 5},
		"per patient above total":    {"code": "BAD6", "kind": "PERCENT", "percent": 5, "maxUses": 1, "maxUsesPerPatient": 2},
	} {
		if r := h.do("admin", "POST", "/api/v1/pricing/discounts", body); r.status != 422 {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	h.code(map[string]any{"code": "FIVER", "kind": "FIXED", "amount": 500, "currency": "GBP"})
	h.code(map[string]any{"code": "HUGE", "kind": "FIXED", "amount": 1_000_000, "currency": "EUR"})
	h.code(map[string]any{"code": "LATER", "kind": "PERCENT", "percent": 500, "validFrom": start.Add(time.Hour)})
	h.code(map[string]any{"code": "ONCE", "kind": "PERCENT", "percent": 500, "maxUses": 1})

	var list struct {
		Items      []Discount `json:"items"`
		NextCursor string     `json:"nextCursor"`
	}
	h.into(h.do("admin", "GET", "/api/v1/pricing/discounts?limit=3", nil), 200, &list)
	if len(list.Items) != 3 || list.Items[0].Code != "SPRING-10" || list.NextCursor == "" {
		t.Fatalf("first page %+v", list)
	}
	cursor := list.NextCursor
	list.Items, list.NextCursor = nil, ""
	h.into(h.do("admin", "GET", "/api/v1/pricing/discounts?limit=3&cursor="+cursor, nil), 200, &list)
	if len(list.Items) != 2 || list.Items[1].Code != "ONCE" || list.NextCursor != "" {
		t.Errorf("second page %+v", list)
	}

	eu := h.newCase(patientA, "EU-2030-000001", "DERMATOLOGY", "STANDARD", "DRAFT")
	q, r := h.quote("a", eu, "  Spring-10 ")
	if r.status != 201 || q.DiscountCode != "SPRING-10" || q.NetAmount != 45000 || q.DiscountAmount != 4500 ||
		q.TaxAmount != 8100 || q.TotalAmount != 48600 {
		t.Errorf("10 %% off: %d %+v", r.status, q)
	}
	if q, _ := h.quote("a", eu, "HUGE"); q.DiscountAmount != 45000 || q.TotalAmount != 0 || q.TaxAmount != 0 {
		t.Errorf("a discount above the price: %+v", q)
	}
	_, r = h.quote("a", eu, "NOPE")
	refused(t, "unknown code", r, "no such")
	_, r = h.quote("a", eu, "FIVER")
	refused(t, "a GBP code on a EUR price", r, "currency")
	_, r = h.quote("a", eu, "LATER")
	refused(t, "a code not valid yet", r, "not valid yet")
	uk := h.newCase(patientA, "UK-2030-000002", "DERMATOLOGY", "STANDARD", "DRAFT")
	if q, r := h.quote("a", uk, "fiver"); r.status != 201 || q.DiscountAmount != 500 || q.TotalAmount != (39000-500)*12/10 {
		t.Errorf("a GBP code on a GBP price: %d %+v", r.status, q)
	}

	// Uses count when payments redeems a quote; then the limits hold.
	payments := h.pricing("service:payments")
	ctx := context.Background()
	once, _ := h.quote("a", eu, "once")
	if _, err := payments.Redeem(ctx, once.Token, eu, patientA); err != nil {
		t.Fatal(err)
	}
	_, r = h.quote("b", h.newCase(patientB, "EU-2030-000003", "ONCOLOGY", "STANDARD", "DRAFT"), "ONCE")
	refused(t, "a used-up code", r, "used up")
	spring, _ := h.quote("a", eu, "spring-10")
	if _, err := payments.Redeem(ctx, spring.Token, eu, patientA); err != nil {
		t.Fatal(err)
	}
	_, r = h.quote("a", eu, "SPRING-10")
	refused(t, "a code the patient used as often as allowed", r, "as often")
	if _, r := h.quote("b", h.newCase(patientB, "EU-2030-000004", "ONCOLOGY", "STANDARD", "DRAFT"), "SPRING-10"); r.status != 201 {
		t.Errorf("another patient: %d", r.status)
	}
	list.Items = nil
	h.into(h.do("admin", "GET", "/api/v1/pricing/discounts", nil), 200, &list)
	uses := map[string]int{}
	for _, d := range list.Items {
		uses[d.Code] = d.Uses
	}
	if uses["SPRING-10"] != 1 || uses["ONCE"] != 1 || uses["HUGE"] != 0 {
		t.Errorf("uses %v", uses)
	}
	h.advance(48 * time.Hour)
	_, r = h.quote("b", h.newCase(patientB, "EU-2030-000005", "ONCOLOGY", "STANDARD", "DRAFT"), "SPRING-10")
	refused(t, "an expired code", r, "expired")
}

// invalid checks that err is the fault payments answers with 422, with
// a detail containing why.
func invalid(t *testing.T, what string, err error, why string) {
	t.Helper()
	f, ok := fault.As(err)
	if !ok || f.Kind != fault.KindInvalid || f.Field != pricingclient.QuoteField || !strings.Contains(f.Detail, why) {
		t.Errorf("%s: %v, want an invalid quote (%s)", what, err, why)
	}
}

func testRedeem(t *testing.T, h *harness) {
	ctx := context.Background()
	payments := h.pricing("service:payments")
	if err := payments.Ready(ctx); err != nil {
		t.Errorf("ready: %v", err)
	}
	h.code(map[string]any{"code": "TEN", "kind": "PERCENT", "percent": 1000})
	caseA := h.newCase(patientA, "UK-2030-000001", "ONCOLOGY", "URGENT", "AWAITING_PAYMENT")
	q, _ := h.quote("a", caseA, "ten")
	want := pricingclient.Quote{ID: q.ID, CaseID: caseA, PatientID: patientA, Region: "UK", Specialty: "ONCOLOGY",
		Urgency: "URGENT", Currency: "GBP", DiscountCode: "TEN", Net: 76500, Discount: 7650, Tax: 13770, Total: 82620,
		TaxRate: 2000, ExpiresAt: start.Add(30 * time.Minute)}
	if q.TotalAmount != want.Total {
		t.Fatalf("quote %+v", q)
	}

	// Refused: nothing is redeemed, nothing counted.
	body, sig, _ := strings.Cut(q.Token, ".")
	altered := "A" + sig[1:]
	if sig[0] == 'A' {
		altered = "B" + sig[1:]
	}
	other := h.newCase(patientA, "UK-2030-000002", "ONCOLOGY", "URGENT", "DRAFT")
	otherQuote, _ := h.quote("a", other, "")
	otherBody, _, _ := strings.Cut(otherQuote.Token, ".")
	for name, c := range map[string]struct{ token, caseID, patient, why string }{
		"altered signature": {body + "." + altered, caseA, patientA, "not a quote"},
		"swapped payload":   {otherBody + "." + sig, other, patientA, "not a quote"},
		"no token":          {"", caseA, patientA, "not a quote"},
		"another key":       {domain.Sign([]byte(strings.Repeat("k", 32)), domain.Claims{QuoteID: q.ID, CaseID: caseA, PatientID: patientA, Total: 1, Currency: "GBP", ExpiresAt: q.ExpiresAt}), caseA, patientA, "not a quote"},
		"another case":      {q.Token, other, patientA, "another case"},
		"another patient":   {q.Token, caseA, patientB, "another patient"},
		"a forged claim":    {domain.Sign(h.svc.key, domain.Claims{QuoteID: q.ID, CaseID: caseA, PatientID: patientA, Total: 1, Currency: "GBP", ExpiresAt: q.ExpiresAt}), caseA, patientA, "not a quote"},
		"a forged expiry":   {domain.Sign(h.svc.key, domain.Claims{QuoteID: q.ID, CaseID: caseA, PatientID: patientA, Total: q.TotalAmount, Currency: "GBP", ExpiresAt: q.ExpiresAt.Add(time.Hour)}), caseA, patientA, "not a quote"},
		"an unknown quote":  {domain.Sign(h.svc.key, domain.Claims{QuoteID: uuid.NewString(), CaseID: caseA, PatientID: patientA, Total: 1, Currency: "GBP", ExpiresAt: q.ExpiresAt}), caseA, patientA, "withdrawn"},
	} {
		_, err := payments.Redeem(ctx, c.token, c.caseID, c.patient)
		invalid(t, name, err, c.why)
	}
	_, err := payments.Redeem(ctx, q.Token, "42", patientA)
	invalid(t, "a malformed case id", err, "UUID")
	for tok, code := range map[string]connect.Code{"": connect.CodeUnauthenticated, "service:notification": connect.CodePermissionDenied,
		"a": connect.CodePermissionDenied} {
		_, err := h.pricing(tok).Redeem(ctx, q.Token, caseA, patientA)
		if connect.CodeOf(errorsCause(err)) != code {
			t.Errorf("redeem as %q: %v, want %v", tok, err, code)
		}
	}
	if n := testkit.CountContaining(t, h.db, "discount_redemptions", q.ID); n != 0 {
		t.Fatalf("a refused redemption counted the code")
	}

	var got pricingclient.Quote
	got, err = payments.Redeem(ctx, q.Token, caseA, patientA)
	if err != nil || got != want {
		t.Fatalf("redeem: %+v, %v; want %+v", got, err, want)
	}
	// Again, even once expired: the same answer, counted once.
	h.advance(time.Hour)
	again, err := payments.Redeem(ctx, q.Token, caseA, patientA)
	if err != nil || again != want {
		t.Errorf("redeem again: %+v, %v", again, err)
	}
	var list struct{ Items []Discount }
	h.into(h.do("admin", "GET", "/api/v1/pricing/discounts", nil), 200, &list)
	if len(list.Items) != 1 || list.Items[0].Uses != 1 {
		t.Errorf("uses after redeeming twice: %+v", list.Items)
	}
	redeems := 0
	for _, e := range h.audits() {
		if e.Action == "quote.redeem" {
			redeems++
			if e.Actor != "payments" || e.PatientID != patientA || e.ResourceID != q.ID || e.Purpose != "payment" {
				t.Errorf("entry %+v", e)
			}
		}
	}
	if redeems != 1 {
		t.Errorf("%d redemptions audited, want 1", redeems)
	}

	// An unredeemed quote expires with its time.
	_, err = payments.Redeem(ctx, otherQuote.Token, other, patientA)
	invalid(t, "an expired quote", err, "expired")
	h.advance(-time.Hour - 30*time.Minute + time.Second)
	fresh, _ := h.quote("a", other, "")
	h.advance(30*time.Minute - time.Second)
	if _, err := payments.Redeem(ctx, fresh.Token, other, patientA); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
}

// errorsCause is err's connect error, under the client's wrapping.
func errorsCause(err error) error {
	if f, ok := fault.As(err); ok && f.Err != nil {
		return f.Err
	}
	return err
}

// testRedeemRace: of quotes for a code with one use redeemed at once,
// exactly one wins; the others are refused, unredeemed.
func testRedeemRace(t *testing.T, h *harness) {
	ctx := context.Background()
	h.code(map[string]any{"code": "ONLY-ONE", "kind": "FIXED", "amount": 1000, "currency": "EUR", "maxUses": 1})
	type attempt struct{ token, caseID, patient string }
	var attempts []attempt
	for i := range 6 {
		patient, tok := patientA, "a"
		if i%2 == 1 {
			patient, tok = patientB, "b"
		}
		c := h.newCase(patient, "EU-2030-00000"+string(rune('1'+i)), "PEDIATRICS", "STANDARD", "DRAFT")
		q, r := h.quote(tok, c, "only-one")
		if r.status != 201 {
			t.Fatalf("quote %d: %d %s", i, r.status, r.raw)
		}
		attempts = append(attempts, attempt{q.Token, c, patient})
	}
	payments := h.pricing("service:payments")
	errs := make([]error, len(attempts))
	var wg sync.WaitGroup
	for i, a := range attempts {
		wg.Go(func() { _, errs[i] = payments.Redeem(ctx, a.token, a.caseID, a.patient) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		invalid(t, "a losing redemption", err, "used up")
	}
	if won != 1 {
		t.Errorf("%d redemptions won, want 1: %v", won, errs)
	}
	var redeemed int
	if err := h.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM quotes WHERE redeemed_at IS NOT NULL`).Scan(&redeemed); err != nil || redeemed != 1 {
		t.Errorf("%d quotes redeemed, %v", redeemed, err)
	}

	// One quote redeemed many times at once (payments retrying): every
	// call gets it, and its code counts once.
	h.code(map[string]any{"code": "TWICE", "kind": "PERCENT", "percent": 2500, "maxUses": 2})
	c := h.newCase(patientA, "EU-2030-000010", "PEDIATRICS", "STANDARD", "DRAFT")
	q, _ := h.quote("a", c, "twice")
	got := make([]pricingclient.Quote, 6)
	for i := range got {
		wg.Go(func() { got[i], errs[i] = payments.Redeem(ctx, q.Token, c, patientA) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i].ID != q.ID || got[i].Total != q.TotalAmount {
			t.Errorf("redemption %d of one quote: %+v, %v", i, got[i], errs[i])
		}
	}
	var uses int
	if err := h.db.QueryRowContext(ctx, `SELECT uses FROM discount_codes WHERE code = 'TWICE'`).Scan(&uses); err != nil || uses != 1 {
		t.Errorf("one quote counted %d uses, %v", uses, err)
	}
}

func testErasure(t *testing.T, h *harness) {
	ctx := context.Background()
	h.code(map[string]any{"code": "ERASE", "kind": "PERCENT", "percent": 1000, "maxUses": 2, "maxUsesPerPatient": 2})
	caseA := h.newCase(patientA, "EU-2030-000001", "UROLOGY", "STANDARD", "DRAFT")
	caseA2 := h.newCase(patientA, "EU-2030-000002", "UROLOGY", "STANDARD", "DRAFT")
	caseB := h.newCase(patientB, "EU-2030-000003", "UROLOGY", "STANDARD", "DRAFT")
	qa, _ := h.quote("a", caseA, "ERASE")
	h.quote("a", caseA2, "")
	qb, _ := h.quote("b", caseB, "")
	if _, err := h.pricing("service:payments").Redeem(ctx, qa.Token, caseA, patientA); err != nil {
		t.Fatal(err)
	}
	// Keyed requests, whose records the erasures forget.
	for tok, c := range map[string]string{"a": caseA2, "b": caseB} {
		if r := h.send(tok, "quote-1", "POST", "/api/v1/pricing/quotes", map[string]any{"caseId": c}); r.status != 201 {
			t.Fatalf("keyed quote: %d %s", r.status, r.raw)
		}
	}
	if before := testkit.Search(t, h.db, patientA); before["idempotency_keys"] != 1 || before["quotes"] != 3 {
		t.Fatalf("before the erasure: %v", before)
	}

	h.consume(events.CaseErasedV1.New("case-management", caseA2, events.CaseErased{CaseID: caseA2, Timestamp: start}))
	if n := testkit.CountContaining(t, h.db, "quotes", caseA2); n != 0 {
		t.Errorf("%d quotes name the erased case", n)
	}
	if n := testkit.CountContaining(t, h.db, "quotes", patientA); n != 1 {
		t.Errorf("%d quotes of A left, want the other case's", n)
	}
	h.consume(events.PatientErasedV1.New("patient-identity", patientA, events.PatientErased{PatientID: patientA, Timestamp: start}))
	for _, table := range []string{"quotes", "discount_redemptions"} {
		if n := testkit.CountContaining(t, h.db, table, patientA); n != 0 {
			t.Errorf("%d rows of %s name the erased patient", n, table)
		}
	}
	// Nothing names A but the audit entries queued before, which are
	// the platform's to relay.
	if left := testkit.Search(t, h.db, patientA); len(left) != 1 || left["outbox"] == 0 {
		t.Errorf("after the erasure, rows name A: %v", left)
	}
	if n := testkit.CountContaining(t, h.db, "quotes", qb.ID); n != 1 {
		t.Errorf("B's quote went with A")
	}
	if n := testkit.CountContaining(t, h.db, "idempotency_keys", patientB); n != 1 {
		t.Errorf("B's keyed request went with A")
	}
	// The code's total still counts A's use.
	var list struct{ Items []Discount }
	h.into(h.do("admin", "GET", "/api/v1/pricing/discounts", nil), 200, &list)
	if list.Items[0].Uses != 1 {
		t.Errorf("uses after the erasure: %d, want 1", list.Items[0].Uses)
	}
	// A's quote is gone: payments cannot redeem it any more.
	_, err := h.pricing("service:payments").Redeem(ctx, qa.Token, caseA, patientA)
	invalid(t, "an erased patient's quote", err, "withdrawn")
	// Redelivered: nothing more happens.
	h.consume(events.PatientErasedV1.New("patient-identity", patientA, events.PatientErased{PatientID: patientA, Timestamp: start}))
}
