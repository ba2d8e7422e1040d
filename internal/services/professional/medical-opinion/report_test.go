package medicalopinion

import (
	"bytes"
	"testing"
	"time"
)

// The same opinion renders the same bytes, every time: fpdf writes its
// fonts from a map unless told to sort them.
func TestReportIsRepeatable(t *testing.T) {
	r := reportData{CaseNumber: "EU-2031-7KQ2ZD", Question: "Is the stent necessary?"}
	r.UpdatedAt = time.Date(2031, 5, 20, 9, 0, 0, 0, time.UTC)
	first, err := renderReport(r)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := renderReport(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, first) {
			t.Fatal("the same opinion rendered different bytes")
		}
	}
}
