package invoicing

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/go-pdf/fpdf"

	"github.com/secondopinion/platform/internal/services/financial/invoicing/domain"
	"github.com/secondopinion/platform/internal/services/financial/invoicing/store"
)

// renderPDF renders a document as issued: what an invoice must state
// (VAT Directive art. 226) — its number and date, the seller with their
// tax id, the buyer, the service, the taxable amount, the rate and the
// tax, the total — and, on a credit note, the invoice it credits. It
// renders from the stored document only, so the PDF of an invoice is the
// same whenever it is downloaded.
func renderPDF(d store.Document) ([]byte, error) {
	title := "Invoice"
	if d.Kind == domain.CreditNote {
		title = "Credit note"
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle(title+" "+d.Number, true)
	pdf.SetCreator("Second Opinion invoicing", true)
	// A fixed creation date and sorted catalogues (fpdf keeps its fonts in
	// a map) make the same document render the same bytes.
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(d.IssuedAt)
	pdf.SetModificationDate(d.IssuedAt)
	// The core fonts speak cp1252: translate UTF-8 text into it.
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-15)
		pdf.SetFont("Helvetica", "I", 8)
		pdf.CellFormat(0, 10, tr(fmt.Sprintf("%s %s - page %d", title, d.Number, pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()

	pdf.SetFont("Helvetica", "B", 18)
	pdf.CellFormat(0, 10, tr(title+" "+d.Number), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	pdf.CellFormat(0, 6, tr("Issued on "+d.IssuedAt.UTC().Format("2 January 2006")), "", 1, "L", false, 0, "")
	if d.Kind == domain.CreditNote {
		pdf.CellFormat(0, 6, tr("Credits invoice "+d.CreditedNumber), "", 1, "L", false, 0, "")
	}
	pdf.Ln(4)

	// Seller on the left, buyer on the right.
	top := pdf.GetY()
	block := func(x float64, heading string, lines []string) float64 {
		pdf.SetXY(x, top)
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(85, 6, tr(heading), "", 2, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" {
				pdf.MultiCell(85, 5, tr(l), "", "L", false)
				pdf.SetX(x)
			}
		}
		return pdf.GetY()
	}
	seller := []string{d.Seller.Name}
	seller = append(seller, strings.Split(d.Seller.Address, ",")...)
	seller = append(seller, "Tax ID: "+d.Seller.TaxID)
	left := block(10, "Seller", seller)
	right := block(110, "Billed to", []string{d.Buyer.Name})
	pdf.SetXY(10, max(left, right)+6)

	pdf.SetFont("Helvetica", "B", 10)
	pdf.SetFillColor(235, 235, 235)
	pdf.CellFormat(145, 7, tr("Description"), "B", 0, "L", true, 0, "")
	pdf.CellFormat(45, 7, tr("Amount"), "B", 1, "R", true, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	for _, l := range d.Lines {
		pdf.CellFormat(145, 7, tr(l.Description), "", 0, "L", false, 0, "")
		pdf.CellFormat(45, 7, tr(domain.FormatMoney(l.Amount, d.Currency)), "", 1, "R", false, 0, "")
	}
	pdf.Ln(2)
	total := func(label string, amount int64, bold bool) {
		style := ""
		if bold {
			style = "B"
		}
		pdf.SetFont("Helvetica", style, 10)
		pdf.CellFormat(145, 7, tr(label), "T", 0, "R", false, 0, "")
		pdf.CellFormat(45, 7, tr(domain.FormatMoney(amount, d.Currency)), "T", 1, "R", false, 0, "")
	}
	total("Net (taxable amount)", d.Net, false)
	total("Tax", d.Tax, false)
	total("Total", d.Total, true)

	pdf.Ln(8)
	pdf.SetFont("Helvetica", "I", 8)
	note := "Amounts in " + d.Currency + "."
	if d.Kind == domain.CreditNote {
		note += " This credit note refunds the amounts above, shown below zero, on the invoice it credits."
	} else {
		note += " Paid in full."
	}
	pdf.MultiCell(0, 4, tr(note), "", "L", false)

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("render %s: %w", d.Number, err)
	}
	return buf.Bytes(), nil
}
