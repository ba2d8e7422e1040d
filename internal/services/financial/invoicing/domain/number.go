package domain

import (
	"fmt"
	"time"

	"github.com/secondopinion/platform/api/vocab"
)

// Kind is what a document is: an invoice, or a credit note that cancels
// (part of) one.
type Kind string

const (
	Invoice    Kind = "INVOICE"
	CreditNote Kind = "CREDIT_NOTE"
)

// Kinds lists every kind.
var Kinds = []Kind{Invoice, CreditNote}

func (Kind) Values() []string { return []string{string(Invoice), string(CreditNote)} }

// Valid reports whether k is a kind.
func (k Kind) Valid() bool { return k == Invoice || k == CreditNote }

// Prefix is the first part of the numbers of a kind: each kind has a
// sequence of its own.
func (k Kind) Prefix() string {
	if k == CreditNote {
		return "CN"
	}
	return "INV"
}

// Series is one gap-free sequence of numbers: a kind's, in a region, in a
// calendar year (UTC). Tax law wants invoice numbers to run without gaps
// within a series; each series starts again at 1.
type Series struct {
	Kind   Kind
	Region vocab.Region
	Year   int
}

// SeriesAt is the series of a document of kind issued in region at t: the
// year is t's in UTC, whatever the time zone of the caller.
func SeriesAt(kind Kind, region vocab.Region, t time.Time) Series {
	return Series{Kind: kind, Region: region, Year: t.UTC().Year()}
}

// Number is the document number of the seq-th document of the series,
// e.g. INV-EU-2026-000001. Six digits are the usual width; a series that
// outgrows them keeps counting with more digits, so numbers stay unique.
func (s Series) Number(seq int64) (string, error) {
	if !s.Kind.Valid() {
		return "", fmt.Errorf("kind %q is none of %v", s.Kind, Kinds)
	}
	if !s.Region.Valid() {
		return "", fmt.Errorf("region %q is not a region code", s.Region)
	}
	if s.Year < 2000 || s.Year > 9999 {
		return "", fmt.Errorf("year %d is out of range", s.Year)
	}
	if seq < 1 {
		return "", fmt.Errorf("sequence number %d: a series starts at 1", seq)
	}
	return fmt.Sprintf("%s-%s-%04d-%06d", s.Kind.Prefix(), s.Region, s.Year, seq), nil
}
