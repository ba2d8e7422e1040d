package domain

import (
	"testing"
	"time"
)

func TestAgeBand(t *testing.T) {
	at := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	for dob, want := range map[string]string{
		"2026-01-01": "0-17",
		"2008-06-16": "0-17",  // 18 tomorrow
		"2008-06-15": "18-19", // 18 today
		"2006-06-16": "18-19",
		"2006-06-15": "20-29",
		"1990-12-10": "30-39",
		"1946-06-16": "70-79",
		"1946-06-15": "80+",
		"1920-01-01": "80+",
	} {
		d, _ := time.Parse(time.DateOnly, dob)
		if got := AgeBand(d, at); got != want {
			t.Errorf("born %s: %s, want %s", dob, got, want)
		}
	}
}
