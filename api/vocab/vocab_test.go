package vocab

import (
	"slices"
	"testing"
	"time"
)

func TestAgeBandOf(t *testing.T) {
	at := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	for dob, want := range map[string]AgeBand{
		"2026-01-01": "0-17",
		"2008-06-16": "0-17",  // 18 tomorrow
		"2008-06-15": "18-19", // 18 today
		"2006-06-16": "18-19",
		"2006-06-15": "20-29",
		"1996-06-15": "30-39",
		"1990-12-10": "30-39",
		"1946-06-16": "70-79",
		"1946-06-15": "80+",
		"1920-01-01": "80+",
	} {
		d, _ := time.Parse(time.DateOnly, dob)
		got := AgeBandOf(d, at)
		if got != want {
			t.Errorf("born %s: %s, want %s", dob, got, want)
		}
		if !slices.Contains(AgeBands, got) {
			t.Errorf("born %s: %s is not a listed band", dob, got)
		}
	}
}

func TestCodes(t *testing.T) {
	for r, ok := range map[Region]bool{"EU": true, "USA": true, "eu": false, "E": false, "EURO": false, "E1": false} {
		if r.Valid() != ok {
			t.Errorf("region %q valid %v", r, !ok)
		}
	}
	for l, ok := range map[Language]bool{"en": true, "de": true, "EN": false, "eng": false, "": false} {
		if l.Valid() != ok {
			t.Errorf("language %q valid %v", l, !ok)
		}
	}
}

func TestLevels(t *testing.T) {
	if !Expert.AtLeast(Senior) || Junior.AtLeast(Senior) || !Senior.AtLeast(Senior) || Level("BOSS").AtLeast(Junior) {
		t.Error("level order")
	}
	if Specialty("CARDIOLOGY").Valid() != true || Specialty("cardiology").Valid() || Urgency("").Valid() {
		t.Error("membership")
	}
}
