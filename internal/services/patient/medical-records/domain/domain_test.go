package domain_test

import (
	"slices"
	"testing"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/domain"
)

func TestUploadsAndDeletions(t *testing.T) {
	for _, s := range vocab.CaseStatuses {
		c := domain.Case{Status: s}
		over := s == vocab.Completed || s == vocab.Cancelled || s == vocab.Orphaned
		if err := domain.MayUpload(c); (err != nil) != over || (over && fault.KindOf(err) != fault.KindConflict) {
			t.Errorf("upload to a %s case: %v", s, err)
		}
		if err := domain.MayDelete(c); (err == nil) != (s == vocab.Draft) {
			t.Errorf("delete from a %s case: %v", s, err)
		}
	}
}

func TestReaders(t *testing.T) {
	c := domain.Case{ID: "case", PatientID: "pat"}
	for _, tc := range []struct {
		who      authn.Principal
		assignee string
		want     domain.Reader
	}{
		{authn.Principal{Subject: "pat", Role: authn.RolePatient}, "", domain.Owner},
		{authn.Principal{Subject: "other", Role: authn.RolePatient}, "", domain.Nobody},
		{authn.Principal{Subject: "adm", Role: authn.RoleAdmin}, "", domain.Owner},
		{authn.Principal{Subject: "pro", Role: authn.RoleProfessional}, "pro", domain.Assignee},
		{authn.Principal{Subject: "pro", Role: authn.RoleProfessional}, "", domain.Nobody},
		{authn.Principal{Subject: "pro", Role: authn.RoleProfessional}, "another", domain.Nobody},
		// A professional whose id happens to be the patient's is no owner.
		{authn.Principal{Subject: "pat", Role: authn.RoleProfessional}, "", domain.Nobody},
		{authn.Principal{Subject: "pro", Role: authn.RolePatient}, "pro", domain.Nobody},
		{authn.Principal{Subject: "svc", Role: authn.RoleService}, "svc", domain.Nobody},
		{authn.Principal{}, "", domain.Nobody},
	} {
		if got := domain.ReaderOf(tc.who, c, tc.assignee); got != tc.want {
			t.Errorf("%+v with assignee %q: %v, want %v", tc.who, tc.assignee, got, tc.want)
		}
	}
}

func TestLimits(t *testing.T) {
	l := domain.Limits{FileBytes: 10, CaseBytes: 25}
	for _, tc := range []struct {
		size, held int64
		ok         bool
	}{{10, 0, true}, {11, 0, false}, {10, 15, true}, {10, 16, false}, {1, 25, false}} {
		err := l.CheckSize(tc.size, tc.held)
		if (err == nil) != tc.ok || (err != nil && fault.KindOf(err) != fault.KindTooLarge) {
			t.Errorf("%d bytes into %d held: %v", tc.size, tc.held, err)
		}
	}
}

func TestChecklist(t *testing.T) {
	var c domain.Checklist
	if err := c.UnmarshalText([]byte(domain.DefaultChecklist)); err != nil {
		t.Fatal(err)
	}
	missing := c.Missing(vocab.Specialty("ONCOLOGY"), []vocab.DocumentKind{vocab.DocumentImagingReport, vocab.DocumentOther})
	if !slices.Equal(missing, []vocab.DocumentKind{vocab.DocumentPathologyReport, vocab.DocumentTreatmentHistory}) {
		t.Errorf("missing for oncology: %v", missing)
	}
	if m := c.Missing(vocab.Specialty("DERMATOLOGY"), nil); len(m) != 0 {
		t.Errorf("a specialty without a checklist misses %v", m)
	}
	var again domain.Checklist
	if err := again.UnmarshalText([]byte(c.String())); err != nil || again.String() != c.String() {
		t.Errorf("round trip: %v, %q vs %q", err, again.String(), c.String())
	}
	for _, bad := range []string{"ONCOLOGY", "ASTROLOGY=OTHER", "ONCOLOGY=HOROSCOPE", "ONCOLOGY=OTHER,ONCOLOGY=IMAGING"} {
		if err := new(domain.Checklist).UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := c.UnmarshalText(nil); err != nil || len(c) != 0 {
		t.Errorf("empty checklist: %v %v", c, err)
	}
}
