package medicalopinion

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/go-pdf/fpdf"

	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/domain"
)

// disclaimer closes every report: a remote second opinion informs the
// patient's care, it does not replace their own doctors.
const disclaimer = "This second opinion is based solely on the information and records provided through the platform, " +
	"without a physical examination. It is meant to inform, not replace, the care of your treating physicians: " +
	"discuss it with them before making decisions about diagnosis or treatment. In an emergency, contact your local emergency services."

// renderReport renders an opinion's report as a PDF: the case number, the
// patient's question, the opinion with the findings of the AI
// pre-analysis the professional kept and its follow-ups, the author, the
// approval date and the disclaimer.
func renderReport(r reportData) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle("Second opinion "+r.CaseNumber, true)
	pdf.SetCreator("Second Opinion medical-opinion", true)
	// A fixed creation date, and the fonts written in a sorted order
	// rather than a map's, make the same opinion render the same bytes.
	pdf.SetCreationDate(r.UpdatedAt)
	pdf.SetModificationDate(r.UpdatedAt)
	pdf.SetCatalogSort(true)
	// The core fonts speak cp1252: translate UTF-8 text into it.
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-15)
		pdf.SetFont("Helvetica", "I", 8)
		pdf.CellFormat(0, 10, tr(fmt.Sprintf("Case %s - page %d", r.CaseNumber, pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()

	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 10, tr("Second opinion report"), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 11)
	line := func(label, value string) {
		pdf.SetFont("Helvetica", "B", 11)
		pdf.CellFormat(45, 6, tr(label), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 11)
		pdf.MultiCell(0, 6, tr(value), "", "L", false)
	}
	line("Case number", r.CaseNumber)
	a := r.Author
	line("Professional", strings.TrimSpace(a.FirstName+" "+a.LastName))
	line("Level", a.Level)
	line("Professional number", a.ProNumber)
	if r.Status == domain.Approved {
		line("Approved on", r.ApprovedAt.UTC().Format("2 January 2006"))
	} else {
		line("Status", string(r.Status)+" - not approved yet")
	}
	line("Confidence", r.Confidence)

	section := func(title string) {
		pdf.Ln(4)
		pdf.SetFont("Helvetica", "B", 13)
		pdf.CellFormat(0, 8, tr(title), "B", 1, "L", false, 0, "")
		pdf.Ln(1)
		pdf.SetFont("Helvetica", "", 11)
	}
	text := func(s string) { pdf.MultiCell(0, 6, tr(s), "", "L", false) }
	items := func(list []string) {
		for _, s := range list {
			text("- " + s)
		}
	}

	section("Your question")
	text(r.Question)
	section("Answer")
	text(r.Answer)
	section("Summary")
	text(r.Summary)
	section("Diagnoses")
	for _, d := range r.Diagnoses {
		text(d.Code + "  " + d.Description)
	}
	if len(r.Recommendations) > 0 {
		section("Recommendations")
		items(r.Recommendations)
	}
	if len(r.References) > 0 {
		section("References")
		items(r.References)
	}
	// Whoever downloads it, the report is the patient's document: of the
	// AI pre-analysis it shows what the patient reads, the findings the
	// professional kept.
	if kept := domain.Reviewed(r.AIFindings); len(kept) > 0 {
		section("Findings reviewed from the AI pre-analysis")
		pdf.SetFont("Helvetica", "I", 9)
		text("An AI pre-analysis of your records proposed findings; the professional reviewed each one. " +
			"These are the findings they kept, in their words where they reworded them; those they rejected are not shown.")
		pdf.SetFont("Helvetica", "", 11)
		for _, f := range kept {
			text("- " + f.Text)
			pdf.SetFont("Helvetica", "", 9)
			text(fmt.Sprintf("  Source: record %s, page %d", f.Citation.DocumentID, f.Citation.Page))
			pdf.SetFont("Helvetica", "", 11)
		}
	}
	if len(r.Questions) > 0 {
		section("Follow-up questions")
		for i, q := range r.Questions {
			pdf.SetFont("Helvetica", "B", 11)
			text(fmt.Sprintf("Question %d (%s)", i+1, q.AskedAt.UTC().Format("2 January 2006")))
			pdf.SetFont("Helvetica", "", 11)
			text(q.Question)
			if q.Answer != "" {
				pdf.SetFont("Helvetica", "B", 11)
				text(fmt.Sprintf("Addendum (%s)", q.AnsweredAt.UTC().Format("2 January 2006")))
				pdf.SetFont("Helvetica", "", 11)
				text(q.Answer)
			}
		}
	}
	section("Disclaimer")
	pdf.SetFont("Helvetica", "I", 9)
	text(disclaimer)

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("render report of opinion %s: %w", r.ID, err)
	}
	return buf.Bytes(), nil
}
