package invoicing

import (
	"context"
	"database/sql"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/financial/invoicing/domain"
	"github.com/secondopinion/platform/internal/services/financial/invoicing/store"
)

// InvoiceKind is what a document is: an INVOICE, or a CREDIT_NOTE that
// credits (part of) one for a refund.
type InvoiceKind string

func (InvoiceKind) Values() []string { return domain.Kind("").Values() }

// InvoiceLineKind is what a line is: the SERVICE, a DISCOUNT, or TAX.
type InvoiceLineKind string

func (InvoiceLineKind) Values() []string { return domain.LineKind("").Values() }

// Seller is who issued a document.
type Seller struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	TaxID   string `json:"taxId" doc:"VAT or tax identification number"`
}

// Buyer is who a document was issued to, as they were at issue time.
type Buyer struct {
	Name string `json:"name" doc:"empty when the patient was unknown at issue time"`
}

// InvoiceLine is a line of a document; below zero on a credit note.
type InvoiceLine struct {
	Kind        InvoiceLineKind `json:"kind"`
	Description string          `json:"description" example:"Medical second opinion — Cardiology, standard"`
	Amount      int64           `json:"amount" doc:"minor units of the document's currency"`
	TaxRate     int             `json:"taxRate,omitempty" doc:"basis points (2000 is 20 %), on TAX lines"`
}

// Invoice is an invoice or a credit note, as issued. Amounts are integer
// minor units of currency, below zero on a credit note; total = netTotal
// + taxTotal.
type Invoice struct {
	ID                    string        `json:"id" format:"uuid"`
	Number                string        `json:"number" example:"INV-EU-2026-000001"`
	Kind                  InvoiceKind   `json:"kind"`
	CaseID                string        `json:"caseId,omitempty" doc:"absent once the case is erased"`
	PaymentID             string        `json:"paymentId" format:"uuid"`
	CustomerID            string        `json:"customerId,omitempty" doc:"the patient invoiced; absent once they are erased"`
	IssuedAt              time.Time     `json:"issuedAt"`
	Currency              string        `json:"currency" example:"EUR"`
	Seller                Seller        `json:"seller"`
	Buyer                 Buyer         `json:"buyer"`
	Lines                 []InvoiceLine `json:"lines" nullable:"false"`
	NetTotal              int64         `json:"netTotal" doc:"the taxable amount, after any discount"`
	TaxTotal              int64         `json:"taxTotal"`
	Total                 int64         `json:"total" doc:"tax included"`
	CreditedInvoiceID     string        `json:"creditedInvoiceId,omitempty" doc:"a credit note's invoice"`
	CreditedInvoiceNumber string        `json:"creditedInvoiceNumber,omitempty" doc:"a credit note's invoice"`
	RefundID              string        `json:"refundId,omitempty" doc:"a credit note's refund"`
}

func toInvoice(d store.Document) Invoice {
	lines := make([]InvoiceLine, 0, len(d.Lines))
	for _, l := range d.Lines {
		lines = append(lines, InvoiceLine{Kind: InvoiceLineKind(l.Kind), Description: l.Description, Amount: l.Amount,
			TaxRate: l.TaxRate})
	}
	return Invoice{ID: d.ID, Number: d.Number, Kind: InvoiceKind(d.Kind), CaseID: d.CaseID, PaymentID: d.PaymentID,
		CustomerID: d.CustomerID, IssuedAt: d.IssuedAt, Currency: d.Currency,
		Seller: Seller{Name: d.Seller.Name, Address: d.Seller.Address, TaxID: d.Seller.TaxID},
		Buyer:  Buyer{Name: d.Buyer.Name}, Lines: lines,
		NetTotal: d.Net, TaxTotal: d.Tax, Total: d.Total,
		CreditedInvoiceID: d.CreditedInvoiceID, CreditedInvoiceNumber: d.CreditedNumber, RefundID: d.RefundID}
}

type (
	listInput struct {
		Kind       InvoiceKind `query:"kind"`
		CaseID     string      `query:"caseId" format:"uuid"`
		CustomerID string      `query:"customerId" format:"uuid" doc:"admins: one patient's documents; a patient sees only their own"`
		Cursor     string      `query:"cursor" doc:"nextCursor of the previous page"`
		Limit      int         `query:"limit" default:"20" minimum:"1" maximum:"100"`
	}
	listOutput   struct{ Body page.Page[Invoice] }
	invoiceInput struct {
		ID string `path:"id" format:"uuid"`
	}
	invoiceOutput struct{ Body Invoice }
	pdfOutput     struct {
		ContentType        string `header:"Content-Type"`
		ContentDisposition string `header:"Content-Disposition"`
		Body               []byte
	}
)

func (s *Service) routes(api huma.API) {
	httpapi.Enum[InvoiceKind](api)
	httpapi.Enum[InvoiceLineKind](api)
	tags := []string{"Invoices"}
	reader := authz.Roles(authn.RolePatient, authn.RoleAdmin).Owned()
	httpapi.Register(api, huma.Operation{OperationID: "list-invoices", Method: http.MethodGet, Path: "/api/v1/invoices",
		Summary: "Invoices and credit notes, newest first: a patient's own; any for an admin", Tags: tags}, reader,
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			ds, next, err := s.list(ctx, authn.FromContext(ctx), in)
			if err != nil {
				return nil, err
			}
			return &listOutput{page.Of(ds, next, toInvoice)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-invoice", Method: http.MethodGet, Path: "/api/v1/invoices/{id}",
		Summary: "An invoice or credit note, for its patient or an admin", Tags: tags}, reader,
		func(ctx context.Context, in *invoiceInput) (*invoiceOutput, error) {
			d, err := s.read(ctx, authn.FromContext(ctx), "invoice.read", in.ID)
			if err != nil {
				return nil, err
			}
			return &invoiceOutput{toInvoice(d)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-invoice-pdf", Method: http.MethodGet, Path: "/api/v1/invoices/{id}/pdf",
		Summary: "An invoice or credit note as PDF, for its patient or an admin", Tags: tags,
		Responses: map[string]*huma.Response{"200": {Description: "the document", Content: map[string]*huma.MediaType{
			"application/pdf": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}}}}, reader,
		func(ctx context.Context, in *invoiceInput) (*pdfOutput, error) {
			d, err := s.read(ctx, authn.FromContext(ctx), "invoice.pdf", in.ID)
			if err != nil {
				return nil, err
			}
			pdf, err := renderPDF(d)
			if err != nil {
				return nil, err
			}
			return &pdfOutput{ContentType: "application/pdf",
				ContentDisposition: `attachment; filename="` + d.Number + `.pdf"`, Body: pdf}, nil
		})
}

// list pages through the documents who may see: a patient's own (a
// patient naming another patient is answered 404, like a missing
// resource), or,
// for an admin, any, filtered. Every patient whose documents the page
// shows gets an entry in the audit trail: a document names the specialty
// of a consultation, which is health data.
func (s *Service) list(ctx context.Context, who authn.Principal, in *listInput) ([]store.Document, string, error) {
	f := store.Filter{CustomerID: in.CustomerID, CaseID: in.CaseID, Kind: domain.Kind(in.Kind)}
	if f.Kind != "" && !f.Kind.Valid() {
		return nil, "", fault.Invalid("kind", "must be one of %v", domain.Kinds)
	}
	if who.Role == authn.RolePatient {
		if f.CustomerID != "" && f.CustomerID != who.Subject {
			if err := s.audit(ctx, who, "invoice.list", "", f.CustomerID, audit.Denied); err != nil {
				return nil, "", err
			}
			return nil, "", fault.NotFound("invoices")
		}
		f.CustomerID = who.Subject
	} else if !authz.IsAdmin(who) {
		return nil, "", fault.Forbidden("this operation is not open to your role")
	}
	after, err := page.Decode(in.Cursor)
	if err != nil {
		return nil, "", err
	}
	ds, next, err := s.store.List(ctx, f, after, in.Limit)
	if err != nil {
		return nil, "", err
	}
	patients := []string{}
	seen := map[string]bool{}
	for _, d := range ds {
		if !seen[d.CustomerID] {
			seen[d.CustomerID] = true
			patients = append(patients, d.CustomerID)
		}
	}
	if len(patients) == 0 {
		patients = append(patients, f.CustomerID)
	}
	entries := make([]audit.Entry, 0, len(patients))
	for _, p := range patients {
		entries = append(entries, auditEntry(ctx, who, "invoice.list", "", p, audit.Allowed))
	}
	if err := s.auditAll(ctx, entries); err != nil {
		return nil, "", err
	}
	return ds, next, nil
}

// read is document id for its patient or an admin; anyone else gets the
// 404 of a missing one, and the refusal is audited.
func (s *Service) read(ctx context.Context, who authn.Principal, action, id string) (store.Document, error) {
	d, err := s.store.Get(ctx, id)
	if err != nil {
		return store.Document{}, err
	}
	if refused := authz.OwnerOrAdmin(who, d.CustomerID, "invoice"); refused != nil {
		if err := s.audit(ctx, who, action, d.ID, d.CustomerID, audit.Denied); err != nil {
			return store.Document{}, err
		}
		return store.Document{}, refused
	}
	if err := s.audit(ctx, who, action, d.ID, d.CustomerID, audit.Allowed); err != nil {
		return store.Document{}, err
	}
	return d, nil
}

// audit queues the trail's entry for an access to a patient's documents;
// its error is the 503 that keeps the access from being served
// unrecorded.
func (s *Service) audit(ctx context.Context, who authn.Principal, action, id, patientID, outcome string) error {
	return s.Record(ctx, auditEntry(ctx, who, action, id, patientID, outcome))
}

// auditAll queues several entries in one transaction: a page of an
// admin's list may show many patients' documents.
func (s *Service) auditAll(ctx context.Context, entries []audit.Entry) error {
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		for _, e := range entries {
			if err := e.Validate(); err != nil {
				return err
			}
			aggregate := e.PatientID // keeps a patient's entries in order
			if aggregate == "" {
				aggregate = e.Actor
			}
			ev, err := audit.Recorded.New(Name, aggregate, e)
			if err != nil {
				return err
			}
			if err := outbox.Add(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fault.Unavailable("the audit trail", err)
	}
	s.Relay.Notify()
	return nil
}

func auditEntry(ctx context.Context, who authn.Principal, action, id, patientID, outcome string) audit.Entry {
	e := audit.FromContext(ctx)
	e.Action, e.ResourceType, e.ResourceID, e.PatientID = action, "invoice", id, patientID
	e.Purpose, e.Outcome = authz.Purpose(who), outcome
	return e
}
