package domain

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

var now = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func TestStandingOf(t *testing.T) {
	valid := Credential{Verified, now.Add(time.Hour)}
	later := Credential{Verified, now.Add(48 * time.Hour)}
	lapsed := Credential{Verified, now} // expiring exactly now is no longer valid
	pending := Credential{Pending, now.Add(time.Hour)}
	rejected := Credential{Rejected, now.Add(time.Hour)}
	expired := Credential{Expired, now.Add(-time.Hour)}
	tests := []struct {
		name  string
		prev  StandingStatus
		creds []Credential
		want  Standing
	}{
		{"no credentials", StandingPending, nil, Standing{Status: StandingPending}},
		{"only pending and rejected", StandingPending, []Credential{pending, rejected}, Standing{Status: StandingPending}},
		{"one valid", StandingPending, []Credential{pending, valid}, Standing{StandingVerified, valid.ExpiresAt}},
		{"latest expiry wins", StandingVerified, []Credential{later, valid, lapsed}, Standing{StandingVerified, later.ExpiresAt}},
		{"last licence lapses", StandingVerified, []Credential{lapsed, expired, pending}, Standing{Status: StandingSuspended}},
		{"suspended stays suspended", StandingSuspended, []Credential{expired}, Standing{Status: StandingSuspended}},
		{"suspended verified again", StandingSuspended, []Credential{expired, valid}, Standing{StandingVerified, valid.ExpiresAt}},
		{"never verified, lapsed pending", StandingPending, []Credential{lapsed}, Standing{Status: StandingPending}},
	}
	for _, tt := range tests {
		if got := StandingOf(tt.prev, tt.creds, now); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestEvent(t *testing.T) {
	for _, tt := range []struct {
		prev, next StandingStatus
		want       string
	}{
		{StandingPending, StandingVerified, "professional.verified"},
		{StandingSuspended, StandingVerified, "professional.verified"},
		{StandingVerified, StandingSuspended, "professional.suspended"},
		{StandingVerified, StandingVerified, ""},
		{StandingPending, StandingPending, ""},
		{StandingSuspended, StandingSuspended, ""},
	} {
		if got := Event(tt.prev, tt.next); got != tt.want {
			t.Errorf("%s -> %s: %q, want %q", tt.prev, tt.next, got, tt.want)
		}
	}
}

func TestDecide(t *testing.T) {
	future, past := now.Add(time.Minute), now
	for _, tt := range []struct {
		r       Review
		status  CredentialStatus
		expires time.Time
		want    CredentialStatus
		title   string
	}{
		{Verify, Pending, future, Verified, ""},
		{Reject, Pending, future, Rejected, ""},
		{Reject, Pending, past, Rejected, ""},
		{Verify, Pending, past, "", "Credential expired"},
		{Verify, Verified, future, "", "Credential already reviewed"},
		{Reject, Rejected, future, "", "Credential already reviewed"},
		{Verify, Expired, past, "", "Credential already reviewed"},
	} {
		got, err := Decide(tt.r, tt.status, tt.expires, now)
		p, _ := fault.As(err)
		if got != tt.want || (tt.title == "") != (err == nil) || (p != nil && (p.Title != tt.title || p.Kind != fault.KindConflict)) {
			t.Errorf("%s %s: %q, %v; want %q %q", tt.r, tt.status, got, err, tt.want, tt.title)
		}
	}
}

func TestValidate(t *testing.T) {
	good := NewCredential{ProfessionalID: uuid.NewString(), LicenseNumber: " GMC-1234567 ", IssuingAuthority: "General Medical Council",
		Country: "GB", Specialty: "CARDIOLOGY", ExpiresAt: now.Add(24 * time.Hour).In(time.FixedZone("X", 3600))}
	n, err := good.Validate(now)
	if err != nil || n.LicenseNumber != "GMC-1234567" || n.ExpiresAt.Location() != time.UTC {
		t.Fatalf("good: %+v, %v", n, err)
	}
	for field, bad := range map[string]func(*NewCredential){
		"licenseNumber":    func(n *NewCredential) { n.LicenseNumber = "  " },
		"issuingAuthority": func(n *NewCredential) { n.IssuingAuthority = "x" },
		"country":          func(n *NewCredential) { n.Country = "gb" },
		"specialty":        func(n *NewCredential) { n.Specialty = "ASTROLOGY" },
		"expiresAt":        func(n *NewCredential) { n.ExpiresAt = now },
	} {
		n := good
		bad(&n)
		_, err := n.Validate(now)
		if p, ok := fault.As(err); !ok || p.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	n = good
	n.ProfessionalID = "someone"
	if _, err := n.Validate(now); fault.KindOf(err) != fault.KindNotFound {
		t.Errorf("malformed professional id: %v", err)
	}
	for c, want := range map[string]bool{"DE": true, "US": true, "ZW": true, "XX": false, "UK": false, "de": false, "DEU": false} {
		if ValidCountry(c) != want {
			t.Errorf("ValidCountry(%q) != %v", c, want)
		}
	}
	if !vocab.Level("EXPERT").Valid() || vocab.Level("expert").Valid() || vocab.Level("GURU").Valid() {
		t.Error("level vocabulary")
	}
}
