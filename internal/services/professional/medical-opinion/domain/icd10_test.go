package domain

import "testing"

func TestValidICD10(t *testing.T) {
	for code, want := range map[string]bool{
		"I25.10":    true,
		"C34.9":     true,
		"J45":       true,
		"S72.001A":  true,
		"E11.65":    true,
		"Z00.0":     true,
		"i25.10":    false, // upper case only: codes are stored as written
		"I2":        false,
		"I250":      false,
		"125.1":     false,
		"I25.":      false,
		"I25.12345": false,
		"I25-10":    false,
		" I25.10":   false,
		"I25.10 ":   false,
		"":          false,
		"II5.1":     false,
		"I25.1\n":   false,
	} {
		if got := ValidICD10(code); got != want {
			t.Errorf("ValidICD10(%q) = %v, want %v", code, got, want)
		}
	}
}
