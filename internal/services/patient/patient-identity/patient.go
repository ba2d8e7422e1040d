package patientidentity

import (
	"bytes"
	"encoding/json"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// Registration is a patient signing up: the plan's Customer fields and the
// password for the login.
type Registration struct {
	FirstName          string
	MiddleName         string
	LastName           string
	DateOfBirth        string // YYYY-MM-DD
	Email              string
	Phone              string
	PreferredChannel   vocab.Channel
	EmailNotifications *bool
	SMSNotifications   *bool
	Metadata           json.RawMessage
	Password           string
}

// Profile is a patient's stored profile.
type Profile struct {
	ID                 string
	FirstName          string
	MiddleName         string
	LastName           string
	DateOfBirth        time.Time
	Email              string
	Phone              string
	PreferredChannel   vocab.Channel
	EmailNotifications bool
	SMSNotifications   bool
	Metadata           json.RawMessage
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Patch changes the fields that are set. Email and date of birth are not
// patchable: they identify the patient and change through their own flows.
type Patch struct {
	FirstName          *string
	MiddleName         *string
	LastName           *string
	Phone              *string
	PreferredChannel   *vocab.Channel
	EmailNotifications *bool
	SMSNotifications   *bool
	Metadata           json.RawMessage // JSON null removes it
}

const (
	maxName     = 100
	maxEmail    = 254
	maxMetadata = 16 << 10
	minPassword = 12
	maxPassword = 128
	maxAgeYears = 130
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Validate checks a registration against the rules of a patient profile at
// time now and returns the profile it describes (without id and times).
func (r Registration) Validate(now time.Time) (Profile, error) {
	p := Profile{
		FirstName:          strings.TrimSpace(r.FirstName),
		MiddleName:         strings.TrimSpace(r.MiddleName),
		LastName:           strings.TrimSpace(r.LastName),
		Phone:              strings.TrimSpace(r.Phone),
		PreferredChannel:   r.PreferredChannel,
		EmailNotifications: true,
	}
	if r.EmailNotifications != nil {
		p.EmailNotifications = *r.EmailNotifications
	}
	if r.SMSNotifications != nil {
		p.SMSNotifications = *r.SMSNotifications
	}
	if p.PreferredChannel == "" {
		p.PreferredChannel = vocab.Email
	}
	if err := validNames(p); err != nil {
		return Profile{}, err
	}
	dob, err := birthDate(r.DateOfBirth, now)
	if err != nil {
		return Profile{}, err
	}
	p.DateOfBirth = dob
	if p.Email, err = normalEmail(r.Email); err != nil {
		return Profile{}, err
	}
	if err := validContact(p); err != nil {
		return Profile{}, err
	}
	if p.Metadata, err = normalMetadata(r.Metadata); err != nil {
		return Profile{}, err
	}
	if n := utf8.RuneCountInString(r.Password); n < minPassword || n > maxPassword {
		return Profile{}, fault.Invalid("password", "must be %d to %d characters", minPassword, maxPassword)
	}
	return p, nil
}

// Apply returns p changed by the patch, validated as a whole: a patch may
// not leave SMS preferred without a phone.
func (pa Patch) Apply(p Profile) (Profile, []string, error) {
	var changed []string
	setStr := func(field string, dst *string, v *string) {
		if v != nil && strings.TrimSpace(*v) != *dst {
			*dst = strings.TrimSpace(*v)
			changed = append(changed, field)
		}
	}
	setStr("firstName", &p.FirstName, pa.FirstName)
	setStr("middleName", &p.MiddleName, pa.MiddleName)
	setStr("lastName", &p.LastName, pa.LastName)
	setStr("phone", &p.Phone, pa.Phone)
	if pa.PreferredChannel != nil && *pa.PreferredChannel != p.PreferredChannel {
		p.PreferredChannel = *pa.PreferredChannel
		changed = append(changed, "preferredChannel")
	}
	if pa.EmailNotifications != nil && *pa.EmailNotifications != p.EmailNotifications {
		p.EmailNotifications = *pa.EmailNotifications
		changed = append(changed, "emailNotifications")
	}
	if pa.SMSNotifications != nil && *pa.SMSNotifications != p.SMSNotifications {
		p.SMSNotifications = *pa.SMSNotifications
		changed = append(changed, "smsNotifications")
	}
	if pa.Metadata != nil {
		m, err := normalMetadata(pa.Metadata)
		if err != nil {
			return Profile{}, nil, err
		}
		if !bytes.Equal(m, compact(p.Metadata)) {
			p.Metadata = m
			changed = append(changed, "metadata")
		}
	}
	if err := validNames(p); err != nil {
		return Profile{}, nil, err
	}
	if err := validContact(p); err != nil {
		return Profile{}, nil, err
	}
	return p, changed, nil
}

func validNames(p Profile) error {
	for _, f := range []struct{ field, v string }{{"firstName", p.FirstName}, {"lastName", p.LastName}} {
		if f.v == "" {
			return fault.Invalid(f.field, "is required")
		}
	}
	for _, f := range []struct{ field, v string }{{"firstName", p.FirstName}, {"middleName", p.MiddleName}, {"lastName", p.LastName}} {
		if utf8.RuneCountInString(f.v) > maxName {
			return fault.Invalid(f.field, "must be at most %d characters", maxName)
		}
	}
	return nil
}

func birthDate(s string, now time.Time) (time.Time, error) {
	// time.Parse rejects impossible dates such as 2023-02-29.
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fault.Invalid("dateOfBirth", "must be a real date as YYYY-MM-DD")
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if !d.Before(today) {
		return time.Time{}, fault.Invalid("dateOfBirth", "must be in the past")
	}
	if d.Before(today.AddDate(-maxAgeYears, 0, 0)) {
		return time.Time{}, fault.Invalid("dateOfBirth", "must be within the last %d years", maxAgeYears)
	}
	return d, nil
}

// normalEmail accepts a bare address only and lower-cases it, so
// uniqueness does not depend on how a patient typed it.
func normalEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > maxEmail || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return "", fault.Invalid("email", "must be a valid email address")
	}
	return strings.ToLower(s), nil
}

func validContact(p Profile) error {
	if p.Phone != "" && !e164.MatchString(p.Phone) {
		return fault.Invalid("phone", "must be in E.164 format, e.g. +4915112345678")
	}
	if !p.PreferredChannel.Valid() {
		return fault.Invalid("preferredChannel", "must be EMAIL or SMS")
	}
	if p.Phone == "" && p.PreferredChannel == vocab.SMS {
		return fault.Invalid("phone", "is required when SMS is the preferred channel")
	}
	if p.Phone == "" && p.SMSNotifications {
		return fault.Invalid("phone", "is required for SMS notifications")
	}
	return nil
}

// normalMetadata accepts a JSON object of at most 16 KiB and returns it
// compacted; absent or null metadata is none.
func normalMetadata(m json.RawMessage) (json.RawMessage, error) {
	if len(m) > maxMetadata {
		return nil, fault.Invalid("metadata", "must be at most %d bytes", maxMetadata)
	}
	if m = compact(m); m == nil || string(m) == "null" {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(m, &obj); err != nil {
		return nil, fault.Invalid("metadata", "must be a JSON object")
	}
	return m, nil
}

// compact drops insignificant white space, so that equal objects compare
// equal; what is not JSON is returned as it is, for the caller to refuse.
func compact(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, m); err != nil {
		return m
	}
	return b.Bytes()
}
