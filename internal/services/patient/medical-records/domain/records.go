// Package domain holds medical-records' rules, in plain Go: which cases
// take records and which records may still be deleted, who reads a record
// and in which form, the size limits, and the checklists of the records a
// case of each specialty needs.
package domain

import (
	"fmt"
	"slices"
	"strings"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// Case is what the rules need to know of a case.
type Case struct {
	ID, PatientID string
	Status        vocab.CaseStatus
	Specialty     vocab.Specialty
}

// closed reports whether a case is over: it takes no more records.
func closed(s vocab.CaseStatus) bool {
	return s == vocab.Completed || s == vocab.Cancelled || s == vocab.Orphaned
}

// MayUpload refuses records for a case that is over.
func MayUpload(c Case) error {
	if closed(c.Status) {
		return fault.Conflict("Case closed", "a "+strings.ToLower(string(c.Status))+" case takes no more records")
	}
	return nil
}

// MayDelete lets the patient delete a record only while the case is a
// draft: once submitted, professionals and the AI may have relied on it.
func MayDelete(c Case) error {
	if c.Status != vocab.Draft {
		return fault.Conflict("Case submitted", "records can be deleted only while the case is a draft")
	}
	return nil
}

// Reader is how a caller may read a case's records.
type Reader int

const (
	// Nobody may not read them (the case is missing to them: 404).
	Nobody Reader = iota
	// Owner is the patient whose case it is, or an admin: the records as
	// uploaded.
	Owner
	// Assignee is the professional assigned to the case while the
	// assignment is active: de-identified copies where the format allows
	// (DICOM), and no file names.
	Assignee
)

// ReaderOf is how who reads case c's records; assignee is the professional
// of the case's active assignment, "" without one. A professional whose
// assignment ended reads nothing more.
func ReaderOf(who authn.Principal, c Case, assignee string) Reader {
	switch {
	case who.Anonymous() || who.Subject == "":
		return Nobody
	case who.Role == authn.RoleAdmin:
		return Owner
	case who.Role == authn.RolePatient && who.Subject == c.PatientID:
		return Owner
	case who.Role == authn.RoleProfessional && assignee != "" && who.Subject == assignee:
		return Assignee
	}
	return Nobody
}

// Limits bound what a case takes.
type Limits struct {
	FileBytes int64 // one file
	CaseBytes int64 // every file of a case together
}

// CheckSize refuses a file of size bytes for a case already holding held
// bytes, when either limit would be passed.
func (l Limits) CheckSize(size, held int64) error {
	if size > l.FileBytes {
		return &fault.Error{Kind: fault.KindTooLarge, Title: "File too large",
			Detail: fmt.Sprintf("a file may be at most %d bytes", l.FileBytes)}
	}
	if held+size > l.CaseBytes {
		return &fault.Error{Kind: fault.KindTooLarge, Title: "Case full",
			Detail: fmt.Sprintf("a case's files may be at most %d bytes together; it holds %d", l.CaseBytes, held)}
	}
	return nil
}

// Checklist names, per specialty, the kinds of record a case needs before
// it is worth a professional's time. A specialty it does not name needs
// nothing in particular.
type Checklist map[vocab.Specialty][]vocab.DocumentKind

// DefaultChecklist is the checklist unless configured otherwise.
const DefaultChecklist = "ONCOLOGY=PATHOLOGY_REPORT+IMAGING_REPORT+TREATMENT_HISTORY," +
	"CARDIOLOGY=IMAGING_REPORT+LAB_RESULTS,NEUROLOGY=IMAGING_REPORT,ORTHOPEDICS=IMAGING," +
	"RADIOLOGY=IMAGING+IMAGING_REPORT,NEPHROLOGY=LAB_RESULTS,ENDOCRINOLOGY=LAB_RESULTS"

// UnmarshalText reads SPECIALTY=KIND+KIND,… (an empty text: no checklist).
func (c *Checklist) UnmarshalText(text []byte) error {
	out := Checklist{}
	for entry := range strings.SplitSeq(string(text), ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, kinds, ok := strings.Cut(entry, "=")
		sp := vocab.Specialty(strings.TrimSpace(name))
		if !ok || !sp.Valid() {
			return fmt.Errorf("%q is not SPECIALTY=KIND+KIND with a specialty of the vocabulary", entry)
		}
		if _, dup := out[sp]; dup {
			return fmt.Errorf("%s is listed twice", sp)
		}
		var list []vocab.DocumentKind
		for k := range strings.SplitSeq(kinds, "+") {
			kind := vocab.DocumentKind(strings.TrimSpace(k))
			if !kind.Valid() {
				return fmt.Errorf("%s: %q is not a document kind (%s)", sp, k, strings.Join(kind.Values(), ", "))
			}
			if !slices.Contains(list, kind) {
				list = append(list, kind)
			}
		}
		out[sp] = list
	}
	*c = out
	return nil
}

// String is the checklist as UnmarshalText reads it, specialties sorted.
func (c Checklist) String() string {
	var entries []string
	for sp, kinds := range c {
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = string(k)
		}
		entries = append(entries, string(sp)+"="+strings.Join(names, "+"))
	}
	slices.Sort(entries)
	return strings.Join(entries, ",")
}

// Missing are the kinds the checklist requires of specialty that none of
// have is, in the checklist's order.
func (c Checklist) Missing(specialty vocab.Specialty, have []vocab.DocumentKind) []vocab.DocumentKind {
	var out []vocab.DocumentKind
	for _, k := range c[specialty] {
		if !slices.Contains(have, k) {
			out = append(out, k)
		}
	}
	return out
}
