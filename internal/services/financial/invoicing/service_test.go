package invoicing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/invoicing"
)

var may = time.Date(2031, 5, 20, 9, 0, 0, 0, time.UTC)

const (
	ada   = "0190a4b2-0000-7000-8000-00000000ada0"
	bob   = "0190a4b2-0000-7000-8000-00000000b0b0"
	admin = "0190a0a0-0000-7000-8000-0000000000ad"
)

var tokens = testkit.Tokens{
	"admin": {Subject: admin, Role: authn.RoleAdmin},
	"pro":   {Subject: "0190a0a0-0000-7000-8000-0000000000fe", Role: authn.RoleProfessional},
	"ada":   {Subject: ada, Role: authn.RolePatient},
	"bob":   {Subject: bob, Role: authn.RolePatient},
}

// patients stands in for patient-identity.
type patients struct {
	patientv1connect.UnimplementedPatientServiceHandler
	mu    sync.Mutex
	down  bool
	known map[string][2]string // id → name, email
}

func (p *patients) GetPatient(_ context.Context, req *connect.Request[patientv1.GetPatientRequest]) (*connect.Response[patientv1.PatientResponse], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}
	who, ok := p.known[req.Msg.Id]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such patient"))
	}
	first, last, _ := strings.Cut(who[0], " ")
	return connect.NewResponse(&patientv1.PatientResponse{Id: req.Msg.Id, FirstName: first, LastName: last,
		Email: who[1], DateOfBirth: "1815-12-10"}), nil
}

func (p *patients) set(fn func(*patients)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
}

type harness struct {
	t        *testing.T
	db       *sqldb.DB
	svc      *invoicing.Service
	patients *patients
	http     *http.Client
	clock    *time.Time
}

func start(t *testing.T, db *sqldb.DB) *harness {
	t.Helper()
	ctx := context.Background()
	if err := invoicing.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	ps := &patients{known: map[string][2]string{ada: {"Ada Lovelace", "ada@example.org"}, bob: {"Bob Babbage", "bob@example.org"}}}
	mux := http.NewServeMux()
	mux.Handle(patientv1connect.NewPatientServiceHandler(ps))
	mem := rpc.NewInProcess(mux)
	t.Cleanup(func() { mem.Close() })
	clock := may
	h := &harness{t: t, db: db, patients: ps, clock: &clock}
	var mu sync.Mutex
	cfg := invoicing.Config{SellerName: "Second Opinion SAS", SellerAddress: "1 Rue de la Paix, 75002 Paris, France",
		SellerTaxID: "FR12345678901", Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return *h.clock }}
	svc, err := invoicing.New(cfg, service.Deps{Region: "EU", Log: slog.New(slog.DiscardHandler), DB: db, Bus: inproc.New(),
		Peer: func(string) (service.Peer, error) { return service.Peer{HTTP: mem.Client(), URL: rpc.BaseURL}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	api := rpc.NewInProcess(httpapi.Wrap(svc.Handler(), httpapi.Options{Service: invoicing.Name, Verifier: tokens}))
	t.Cleanup(func() { api.Close() })
	h.http = api.Client()
	return h
}

// payment is a paid consultation of customer: 250.00 EUR less 25.00, 20 %
// tax on the rest, 270.00 EUR charged.
func payment(customer string) events.Payment {
	return events.Payment{PaymentID: uuid.NewString(), CaseID: uuid.NewString(), CustomerID: customer,
		QuoteID: uuid.NewString(), Region: "EU", Specialty: "CARDIOLOGY", Urgency: "URGENT", NetAmount: 25000,
		DiscountAmount: 2500, TaxRate: 2000, TaxAmount: 4500, Amount: 27000, Currency: "EUR", Provider: "sandbox",
		Timestamp: may}
}

func deliver[P any](t *testing.T, svc *invoicing.Service, c bus.Contract[P], producer, aggregate string, p P) bus.Event {
	t.Helper()
	e, err := c.New(producer, aggregate, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Consume(context.Background(), e); err != nil {
		t.Fatalf("consume %s: %v", c.Type, err)
	}
	return e
}

func (h *harness) pay(p events.Payment) bus.Event {
	return deliver(h.t, h.svc, events.PaymentSucceededV1, events.Payments, p.CaseID, p)
}

func (h *harness) refund(p events.Payment, refundID string, amount int64) bus.Event {
	return deliver(h.t, h.svc, events.PaymentRefundedV1, events.Payments, p.CaseID, events.PaymentRefunded{
		PaymentID: p.PaymentID, RefundID: refundID, CaseID: p.CaseID, CustomerID: p.CustomerID, Amount: amount,
		Currency: p.Currency, Reason: "ADMIN", Timestamp: may})
}

type response struct {
	code   int
	header http.Header
	raw    []byte
}

func (h *harness) get(token, path string) response {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rpc.BaseURL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := h.http.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK && res.Header.Get("Content-Type") != "application/problem+json" {
		h.t.Errorf("%s: %d is not a problem: %s", path, res.StatusCode, b)
	}
	return response{code: res.StatusCode, header: res.Header, raw: b}
}

func (h *harness) invoice(token, id string) (invoicing.Invoice, int) {
	h.t.Helper()
	r := h.get(token, "/api/v1/invoices/"+id)
	var inv invoicing.Invoice
	if r.code == http.StatusOK {
		if err := json.Unmarshal(r.raw, &inv); err != nil {
			h.t.Fatal(err)
		}
	}
	return inv, r.code
}

// list reads every page of a listing.
func (h *harness) list(token, query string) []invoicing.Invoice {
	h.t.Helper()
	var out []invoicing.Invoice
	cursor := ""
	for range 100 {
		q := query + "&limit=100"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := h.get(token, "/api/v1/invoices?"+q)
		if r.code != http.StatusOK {
			h.t.Fatalf("list %s as %s: %d %s", q, token, r.code, r.raw)
		}
		var p page.Page[invoicing.Invoice]
		if err := json.Unmarshal(r.raw, &p); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, p.Items...)
		if cursor = p.NextCursor; cursor == "" {
			return out
		}
	}
	h.t.Fatal("endless pages")
	return nil
}

// issued are the invoice.issued events queued, held to their contract.
func (h *harness) issued() []events.InvoiceIssued {
	h.t.Helper()
	var out []events.InvoiceIssued
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.Type != events.InvoiceIssuedV1.Type {
			continue
		}
		p, err := events.InvoiceIssuedV1.Decode(e)
		// Held to its contract itself: the catalogue (events.Check) does
		// not list invoice.issued yet.
		if cerr := events.InvoiceIssuedV1.Describe().Check(e); err != nil || cerr != nil {
			h.t.Fatalf("invoice.issued %s: %v %v", e.Payload, err, cerr)
		}
		out = append(out, p)
	}
	return out
}

// audits are the audit entries queued, as "action outcome patient".
func (h *harness) audits() []string {
	h.t.Helper()
	var out []string
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.Type != audit.Recorded.Type {
			continue
		}
		a, err := audit.Recorded.Decode(e)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, a.Action+" "+a.Outcome+" "+a.PatientID)
	}
	return out
}

func numbers(invs []invoicing.Invoice) []string {
	var out []string
	for _, inv := range invs {
		out = append(out, inv.Number)
	}
	slices.Sort(out)
	return out
}

func series(prefix string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s-EU-2031-%06d", prefix, i))
	}
	return out
}

// 100 payments delivered at once, some twice, get the numbers 1 to 100:
// no gap, no duplicate, one invoice and one invoice.issued per payment.
func TestConcurrentPaymentsNumberWithoutGaps(t *testing.T) {
	testkit.ForEachEngine(t, invoicing.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		const n = 100
		ps := make([]events.Payment, n)
		evs := make([]bus.Event, n)
		for i := range ps {
			ps[i] = payment([]string{ada, bob}[i%2])
			e, err := events.PaymentSucceededV1.New(events.Payments, ps[i].CaseID, ps[i])
			if err != nil {
				t.Fatal(err)
			}
			evs[i] = e
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range ps {
			wg.Go(func() { errs <- h.svc.Consume(context.Background(), evs[i]) })
			if i%10 == 0 {
				// The same event redelivered, and another event of the
				// same payment: neither issues a second invoice.
				again, _ := events.PaymentSucceededV1.New(events.Payments, ps[i].CaseID, ps[i])
				wg.Go(func() { errs <- h.svc.Consume(context.Background(), evs[i]) })
				wg.Go(func() { errs <- h.svc.Consume(context.Background(), again) })
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		invs := h.list("admin", "kind=INVOICE")
		if got := numbers(invs); !slices.Equal(got, series("INV", n)) {
			t.Fatalf("%d numbers %v, want 1..%d each once", len(got), got, n)
		}
		byPayment := map[string]bool{}
		for _, inv := range invs {
			byPayment[inv.PaymentID] = true
		}
		if len(byPayment) != n {
			t.Errorf("%d payments invoiced, want %d", len(byPayment), n)
		}
		var issued []string
		for _, e := range h.issued() {
			issued = append(issued, e.Number)
		}
		slices.Sort(issued)
		if !slices.Equal(issued, series("INV", n)) {
			t.Errorf("invoice.issued numbers %v", issued)
		}
	})
}

// A transaction that fails after taking its number gives it back: the
// next invoice takes it, and the series has no gap.
func TestFailureAfterNumberingLeavesNoGap(t *testing.T) {
	testkit.ForEachEngine(t, invoicing.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		first, second, third := payment(ada), payment(ada), payment(bob)
		h.pay(first)
		// A row that holds the next number makes the insert of the second
		// invoice fail after its number was taken.
		if _, err := db.Exec(`INSERT INTO invoices (id, number, kind, region, year, seq, case_id, payment_id, customer_id,
			credited_invoice_id, credited_number, refund_id, issued_at, currency, seller_name, seller_address, seller_tax_id,
			buyer_name, lines, net_total, tax_total, total)
			VALUES ($1, 'INV-EU-2031-000002', 'PLANTED', 'EU', 2031, 2, '', $2, '', '', '', '', $3, 'EUR', '', '', '', '', '[]', 0, 0, 0)`,
			uuid.NewString(), uuid.NewString(), may); err != nil {
			t.Fatal(err)
		}
		h.pay(second) // fails, parked in the inbox for a retry
		if got := numbers(h.list("admin", "kind=INVOICE")); !slices.Equal(got, series("INV", 1)) {
			t.Fatalf("after the failure: %v", got)
		}
		if n := len(h.issued()); n != 1 {
			t.Errorf("%d invoice.issued queued, want 1: the failed one rolled back", n)
		}
		if _, err := db.Exec(`DELETE FROM invoices WHERE kind = 'PLANTED'`); err != nil {
			t.Fatal(err)
		}
		h.pay(second) // delivered again, under a new event id
		h.pay(third)
		invs := h.list("admin", "kind=INVOICE")
		if got := numbers(invs); !slices.Equal(got, series("INV", 3)) {
			t.Errorf("numbers %v, want 1..3", got)
		}
		for _, inv := range invs {
			if inv.PaymentID == second.PaymentID && inv.Number != "INV-EU-2031-000002" {
				t.Errorf("the second payment got %s, want the number given back", inv.Number)
			}
		}
	})
}

// While patient-identity is down no invoice is issued and no number
// taken: the payment waits in the inbox.
func TestBuyerUnavailable(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, invoicing.Name))
	p := payment(ada)
	h.patients.set(func(ps *patients) { ps.down = true })
	h.pay(p)
	if invs := h.list("admin", "kind=INVOICE"); len(invs) != 0 {
		t.Fatalf("invoiced without a buyer: %+v", invs)
	}
	h.patients.set(func(ps *patients) { ps.down = false })
	h.pay(p)
	if got := numbers(h.list("admin", "kind=INVOICE")); !slices.Equal(got, series("INV", 1)) {
		t.Errorf("numbers %v", got)
	}
	// A patient patient-identity does not know is invoiced without a name
	// and without a link to them.
	stranger := payment(uuid.NewString())
	h.pay(stranger)
	invs := h.list("admin", "kind=INVOICE")
	i := slices.IndexFunc(invs, func(inv invoicing.Invoice) bool { return inv.PaymentID == stranger.PaymentID })
	if len(invs) != 2 || i < 0 || invs[i].Buyer.Name != "" || invs[i].CustomerID != "" || invs[i].Number != "INV-EU-2031-000002" {
		t.Errorf("unknown patient's invoice: %+v", invs)
	}
}

// pdfText is the text of a PDF as poppler's pdftotext reads it.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatalf("pdftotext (poppler-utils) is needed to read the PDF back: %v", err)
	}
	cmd := exec.Command(bin, "-layout", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

func TestInvoices(t *testing.T) {
	testkit.ForEachEngine(t, invoicing.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		p := payment(ada)
		h.pay(p)
		invs := h.list("ada", "")
		if len(invs) != 1 {
			t.Fatalf("ada's invoices: %+v", invs)
		}
		inv, code := h.invoice("ada", invs[0].ID)
		if code != http.StatusOK {
			t.Fatalf("get: %d", code)
		}
		want := invoicing.Invoice{ID: inv.ID, Number: "INV-EU-2031-000001", Kind: "INVOICE", CaseID: p.CaseID,
			PaymentID: p.PaymentID, CustomerID: ada, IssuedAt: may, Currency: "EUR",
			Seller: invoicing.Seller{Name: "Second Opinion SAS", Address: "1 Rue de la Paix, 75002 Paris, France", TaxID: "FR12345678901"},
			Buyer:  invoicing.Buyer{Name: "Ada Lovelace"},
			Lines: []invoicing.InvoiceLine{
				{Kind: "SERVICE", Description: "Medical second opinion — Cardiology, urgent", Amount: 25000},
				{Kind: "DISCOUNT", Description: "Discount", Amount: -2500},
				{Kind: "TAX", Description: "Tax 20%", Amount: 4500, TaxRate: 2000},
			}, NetTotal: 22500, TaxTotal: 4500, Total: 27000}
		if g, w := fmt.Sprintf("%+v", inv), fmt.Sprintf("%+v", want); g != w {
			t.Errorf("invoice\n got %s\nwant %s", g, w)
		}

		// The invoice is a document: a later change of the patient's
		// profile or of the seller's does not change it.
		h.patients.set(func(ps *patients) { ps.known[ada] = [2]string{"Ada King", "countess@example.org"} })
		if again, _ := h.invoice("admin", inv.ID); again.Buyer != want.Buyer {
			t.Errorf("buyer changed to %+v", again.Buyer)
		}

		for token, wantCode := range map[string]int{"": 401, "pro": 403, "bob": 404, "admin": 200, "ada": 200} {
			if _, code := h.invoice(token, inv.ID); code != wantCode {
				t.Errorf("get as %q: %d, want %d", token, code, wantCode)
			}
			if r := h.get(token, "/api/v1/invoices/"+inv.ID+"/pdf"); r.code != wantCode {
				t.Errorf("pdf as %q: %d, want %d", token, r.code, wantCode)
			}
		}
		if _, code := h.invoice("admin", uuid.NewString()); code != http.StatusNotFound {
			t.Errorf("missing: %d", code)
		}
		if _, code := h.invoice("admin", "not-a-uuid"); code != http.StatusUnprocessableEntity {
			t.Errorf("bad id: %d", code)
		}

		r := h.get("ada", "/api/v1/invoices/"+inv.ID+"/pdf")
		if ct := r.header.Get("Content-Type"); ct != "application/pdf" || !bytes.HasPrefix(r.raw, []byte("%PDF")) {
			t.Fatalf("pdf: %s %.20q", ct, r.raw)
		}
		if cd := r.header.Get("Content-Disposition"); !strings.Contains(cd, "INV-EU-2031-000001.pdf") {
			t.Errorf("content disposition %q", cd)
		}
		text := pdfText(t, r.raw)
		for _, s := range []string{"Invoice INV-EU-2031-000001", "Issued on 20 May 2031", "Second Opinion SAS", "FR12345678901",
			"Ada Lovelace", "Medical second opinion — Cardiology, urgent", "250.00 EUR", "-25.00 EUR", "Tax 20%",
			"225.00 EUR", "45.00 EUR", "270.00 EUR"} {
			if !strings.Contains(text, s) {
				t.Errorf("the PDF does not say %q:\n%s", s, text)
			}
		}
		// The buyer's email is not part of an invoice.
		if strings.Contains(text, "ada@example.org") {
			t.Errorf("the PDF names the buyer's email:\n%s", text)
		}
		if again := h.get("admin", "/api/v1/invoices/"+inv.ID+"/pdf"); !bytes.Equal(again.raw, r.raw) {
			t.Error("the same invoice rendered different bytes")
		}

		// Listing: a patient sees their own; an admin filters.
		other := payment(bob)
		h.pay(other)
		if got := h.list("bob", ""); len(got) != 1 || got[0].PaymentID != other.PaymentID {
			t.Errorf("bob's list %+v", got)
		}
		if got := h.list("bob", "customerId="+bob); len(got) != 1 {
			t.Errorf("bob naming himself: %+v", got)
		}
		if r := h.get("bob", "/api/v1/invoices?customerId="+ada); r.code != http.StatusNotFound {
			t.Errorf("bob naming ada: %d", r.code)
		}
		if got := h.list("bob", "caseId="+p.CaseID); len(got) != 0 {
			t.Errorf("bob filtering on ada's case: %+v", got)
		}
		if got := h.list("admin", "caseId="+p.CaseID); len(got) != 1 || got[0].ID != inv.ID {
			t.Errorf("admin by case: %+v", got)
		}
		if got := h.list("admin", "customerId="+bob); len(got) != 1 {
			t.Errorf("admin by customer: %+v", got)
		}
		if got := h.list("admin", "kind=CREDIT_NOTE"); len(got) != 0 {
			t.Errorf("credit notes: %+v", got)
		}
		for q, wantCode := range map[string]int{"kind=RECEIPT": 422, "cursor=nope": 422, "caseId=x": 422, "limit=0": 422, "limit=101": 422} {
			if r := h.get("admin", "/api/v1/invoices?"+q); r.code != wantCode {
				t.Errorf("%s: %d, want %d", q, r.code, wantCode)
			}
		}
		for token, wantCode := range map[string]int{"": 401, "pro": 403} {
			if r := h.get(token, "/api/v1/invoices"); r.code != wantCode {
				t.Errorf("list as %q: %d, want %d", token, r.code, wantCode)
			}
		}
		// Every read was audited, refusals too.
		got := h.audits()
		for _, w := range []string{"invoice.read allowed " + ada, "invoice.read denied " + ada, "invoice.pdf allowed " + ada,
			"invoice.pdf denied " + ada, "invoice.list allowed " + ada, "invoice.list allowed " + bob, "invoice.list denied " + ada} {
			if !slices.Contains(got, w) {
				t.Errorf("no audit entry %q in %v", w, got)
			}
		}
	})
}

// Refunds: credit notes numbered in their own series, splitting each
// refund in proportion, adding up to the invoice; once per refund; a
// refund before its invoice waits for it.
func TestCreditNotes(t *testing.T) {
	testkit.ForEachEngine(t, invoicing.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		p := payment(ada)
		h.pay(p)
		first := uuid.NewString()
		h.refund(p, first, 100) // 100 × 4500/27000 = 16.67 → 17 of tax
		h.refund(p, first, 100) // redelivered: no second credit note
		rest := uuid.NewString()
		h.refund(p, rest, 26900)
		h.refund(p, uuid.NewString(), 1) // nothing is left to refund: refused
		cns := h.list("admin", "kind=CREDIT_NOTE")
		if got := numbers(cns); !slices.Equal(got, series("CN", 2)) {
			t.Fatalf("credit notes %v", got)
		}
		inv := h.list("admin", "kind=INVOICE")[0]
		var net, tax, total int64
		for _, cn := range cns {
			if cn.CreditedInvoiceID != inv.ID || cn.CreditedInvoiceNumber != inv.Number || cn.PaymentID != p.PaymentID ||
				cn.CustomerID != ada || cn.CaseID != p.CaseID || cn.Buyer != inv.Buyer || cn.NetTotal+cn.TaxTotal != cn.Total {
				t.Errorf("credit note %+v", cn)
			}
			if cn.RefundID == first && (cn.NetTotal != -83 || cn.TaxTotal != -17 || cn.Total != -100 || cn.Number != "CN-EU-2031-000001") {
				t.Errorf("the first refund's credit note: %+v", cn)
			}
			net, tax, total = net+cn.NetTotal, tax+cn.TaxTotal, total+cn.Total
		}
		if net != -inv.NetTotal || tax != -inv.TaxTotal || total != -inv.Total {
			t.Errorf("credit notes sum to %d + %d = %d, want the invoice's %d + %d = %d", net, tax, total,
				inv.NetTotal, inv.TaxTotal, inv.Total)
		}
		cn := cns[0]
		if cn.RefundID != first {
			cn = cns[1]
		}
		if _, code := h.invoice("ada", cn.ID); code != http.StatusOK {
			t.Errorf("ada reads her credit note: %d", code)
		}
		text := pdfText(t, h.get("ada", "/api/v1/invoices/"+cn.ID+"/pdf").raw)
		for _, s := range []string{"Credit note CN-EU-2031-000001", "Credits invoice INV-EU-2031-000001", "-0.83 EUR",
			"-0.17 EUR", "-1.00 EUR", "Ada Lovelace"} {
			if !strings.Contains(text, s) {
				t.Errorf("the credit note's PDF does not say %q:\n%s", s, text)
			}
		}

		// Out of order: the refund first, then its payment. The credit
		// note is issued with the invoice.
		late := payment(bob)
		early := uuid.NewString()
		h.refund(late, early, 27000)
		h.refund(late, early, 27000)
		if got := h.list("bob", ""); len(got) != 0 {
			t.Fatalf("documents before the payment: %+v", got)
		}
		h.pay(late)
		bobs := h.list("bob", "")
		if len(bobs) != 2 || bobs[0].IssuedAt != bobs[1].IssuedAt {
			t.Fatalf("bob's documents: %+v", bobs)
		}
		if got := numbers(bobs); !slices.Equal(got, []string{"CN-EU-2031-000003", "INV-EU-2031-000002"}) {
			t.Errorf("numbers %v", got)
		}
		for _, d := range bobs {
			if d.Kind == "CREDIT_NOTE" && (d.RefundID != early || d.Total != -27000 || d.TaxTotal != -4500) {
				t.Errorf("the early refund's credit note: %+v", d)
			}
		}
		h.refund(late, early, 27000) // redelivered after its credit note: nothing
		if got := len(h.list("admin", "kind=CREDIT_NOTE")); got != 3 {
			t.Errorf("%d credit notes, want 3", got)
		}

		// A new year starts each series again.
		*h.clock = time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)
		next := payment(ada)
		h.pay(next)
		h.refund(next, uuid.NewString(), 27000)
		var kinds []string
		for _, e := range h.issued() {
			kinds = append(kinds, e.Kind+" "+e.Number)
		}
		if want := []string{"INVOICE INV-EU-2031-000001", "CREDIT_NOTE CN-EU-2031-000001", "CREDIT_NOTE CN-EU-2031-000002",
			"INVOICE INV-EU-2031-000002", "CREDIT_NOTE CN-EU-2031-000003", "INVOICE INV-EU-2032-000001",
			"CREDIT_NOTE CN-EU-2032-000001"}; !slices.Equal(kinds, want) {
			t.Errorf("invoice.issued %v, want %v", kinds, want)
		}
	})
}

// An erasure keeps the documents as issued (legal retention) and drops
// their links to the patient and the case.
func TestErasureKeepsDocuments(t *testing.T) {
	testkit.ForEachEngine(t, invoicing.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		p := payment(ada)
		h.pay(p)
		h.refund(p, uuid.NewString(), 1000)
		before := h.list("admin", "customerId="+ada)
		if len(before) != 2 {
			t.Fatalf("ada's documents: %+v", before)
		}
		pdfBefore := pdfText(t, h.get("admin", "/api/v1/invoices/"+before[1].ID+"/pdf").raw)
		deliver(t, h.svc, events.PatientErasedV1, events.PatientIdentity, ada, events.PatientErased{PatientID: ada, Timestamp: may})
		deliver(t, h.svc, events.CaseErasedV1, events.CaseManagement, p.CaseID, events.CaseErased{CaseID: p.CaseID, Timestamp: may})
		if got := h.list("ada", ""); len(got) != 0 {
			t.Errorf("the erased patient's list: %+v", got)
		}
		if n := testkit.CountContaining(t, db, "invoices", ada, p.CaseID); n != 0 {
			t.Errorf("%d documents still name the erased patient or case", n)
		}
		for _, d := range before {
			kept, code := h.invoice("admin", d.ID)
			if code != http.StatusOK || kept.CustomerID != "" || kept.CaseID != "" || kept.Number != d.Number ||
				kept.Buyer != d.Buyer || kept.Total != d.Total || !slices.Equal(kept.Lines, d.Lines) || !kept.IssuedAt.Equal(d.IssuedAt) {
				t.Errorf("kept %d %+v, was %+v", code, kept, d)
			}
			if _, code := h.invoice("ada", d.ID); code != http.StatusNotFound {
				t.Errorf("the erased patient reads a document: %d", code)
			}
		}
		if pdfAfter := pdfText(t, h.get("admin", "/api/v1/invoices/"+before[1].ID+"/pdf").raw); pdfAfter != pdfBefore {
			t.Errorf("the PDF changed with the erasure:\n%s\nwas\n%s", pdfAfter, pdfBefore)
		}
		// A refund after the erasure still gets its credit note, unlinked.
		h.refund(p, uuid.NewString(), 1000)
		cns := h.list("admin", "kind=CREDIT_NOTE")
		if len(cns) != 2 || cns[0].CustomerID != "" || cns[0].CaseID != "" || cns[0].Buyer.Name != "Ada Lovelace" {
			t.Errorf("credit notes after the erasure: %+v", cns)
		}
	})
}

// A payment or refund the service cannot take issues nothing, takes no
// number, and does not stop the ones after it.
func TestMalformedEvents(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, invoicing.Name))
	for name, mutate := range map[string]func(*events.Payment){
		"payment id": func(p *events.Payment) { p.PaymentID = "x" },
		"customer":   func(p *events.Payment) { p.CustomerID = "" },
		"region":     func(p *events.Payment) { p.Region = "eu" },
		"specialty":  func(p *events.Payment) { p.Specialty = "ASTROLOGY" },
		"sum":        func(p *events.Payment) { p.Amount++ },
		"currency":   func(p *events.Payment) { p.Currency = "euro" },
	} {
		p := payment(ada)
		mutate(&p)
		h.pay(p)
		if got := h.list("admin", ""); len(got) != 0 {
			t.Fatalf("%s: invoiced %+v", name, got)
		}
	}
	p := payment(ada)
	h.pay(p)
	h.refund(p, "nope", 100)
	h.refund(p, uuid.NewString(), 0)
	if got := numbers(h.list("admin", "")); !slices.Equal(got, series("INV", 1)) {
		t.Errorf("numbers %v, want only the well-formed payment's", got)
	}
	wrong := events.PaymentRefunded{PaymentID: p.PaymentID, RefundID: uuid.NewString(), CaseID: p.CaseID, CustomerID: ada,
		Amount: 100, Currency: "USD", Reason: "ADMIN", Timestamp: may}
	deliver(t, h.svc, events.PaymentRefundedV1, events.Payments, p.CaseID, wrong)
	if got := h.list("admin", "kind=CREDIT_NOTE"); len(got) != 0 {
		t.Errorf("a refund in another currency credited: %+v", got)
	}
}

func TestConfig(t *testing.T) {
	db := testkit.OpenDB(t, sqldb.SQLite, invoicing.Name)
	for _, cfg := range []invoicing.Config{
		{SellerName: " ", SellerAddress: "a", SellerTaxID: "t"},
		{SellerName: "n", SellerAddress: "", SellerTaxID: "t"},
		{SellerName: "n", SellerAddress: "a"},
	} {
		_, err := invoicing.New(cfg, service.Deps{Log: slog.New(slog.DiscardHandler), DB: db, Bus: inproc.New()})
		if err == nil || !strings.Contains(err.Error(), "INVOICE_SELLER_") {
			t.Errorf("%+v: %v, want an error naming the variable", cfg, err)
		}
	}
}

// Every route declares its policy, and the module says what it needs and
// consumes.
func TestModule(t *testing.T) {
	spec := invoicing.Module.Spec()
	if missing := authz.Missing(spec); len(missing) != 0 {
		t.Errorf("routes without a policy: %v", missing)
	}
	for _, path := range []string{"/api/v1/invoices", "/api/v1/invoices/{id}", "/api/v1/invoices/{id}/pdf"} {
		item, ok := spec.Paths[path]
		if !ok || item.Get == nil {
			t.Fatalf("no GET %s", path)
		}
		if p := item.Get.Extensions[authz.Extension]; p != "authenticated:patient,admin;owner" {
			t.Errorf("GET %s: policy %v", path, p)
		}
	}
	if !slices.Equal(invoicing.Module.Requires, []string{"patient-identity"}) {
		t.Errorf("requires %v", invoicing.Module.Requires)
	}
	if want := []string{"case.erased", "patient.erased", "payment.refunded", "payment.succeeded"}; !slices.Equal(invoicing.Module.Consumes, want) {
		t.Errorf("consumes %v, want %v", invoicing.Module.Consumes, want)
	}
}
