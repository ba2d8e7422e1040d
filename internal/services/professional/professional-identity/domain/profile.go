package domain

import (
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// StartLevel is every new professional's level: credentialing raises it.
const StartLevel = vocab.Junior

// Standings a professional has, as credentialing's events last said.
const (
	StatusPending   = "PENDING" // no verified licence yet
	StatusVerified  = "VERIFIED"
	StatusSuspended = "SUSPENDED"
)

const (
	maxName      = 100
	maxEmail     = 254
	maxBio       = 2000
	maxLanguages = 20
	minPassword  = 12
	maxPassword  = 128
)

// Registration is a professional signing up: the profile and the password
// of the login.
type Registration struct {
	FirstName   string
	LastName    string
	Email       string
	Password    string
	Specialties []vocab.Specialty
	Languages   []vocab.Language
	Country     string
	Bio         string
}

// Profile is what a professional tells about themself; level, status and
// pro number are not theirs to set.
type Profile struct {
	FirstName   string
	LastName    string
	Email       string
	Specialties []vocab.Specialty
	Languages   []vocab.Language
	Country     string
	Bio         string
}

// Patch changes the fields that are set. Email is the login's and not
// patchable here; level and status belong to credentialing.
type Patch struct {
	FirstName   *string
	LastName    *string
	Specialties []vocab.Specialty // nil leaves them
	Languages   []vocab.Language  // nil leaves them
	Country     *string
	Bio         *string
}

// Validate checks a registration and returns the profile it describes,
// trimmed, with the email lower-cased and lists without repeats. Details
// never echo the input.
func (r Registration) Validate() (Profile, error) {
	p := Profile{
		FirstName:   strings.TrimSpace(r.FirstName),
		LastName:    strings.TrimSpace(r.LastName),
		Specialties: unique(r.Specialties),
		Languages:   unique(r.Languages),
		Country:     r.Country,
		Bio:         strings.TrimSpace(r.Bio),
	}
	if err := p.validate(); err != nil {
		return Profile{}, err
	}
	email, err := normalEmail(r.Email)
	if err != nil {
		return Profile{}, err
	}
	p.Email = email
	if n := utf8.RuneCountInString(r.Password); n < minPassword || n > maxPassword {
		return Profile{}, fault.Invalid("password", "must be %d to %d characters", minPassword, maxPassword)
	}
	return p, nil
}

// Apply returns p changed by the patch, validated as a whole, and whether
// anything changed.
func (pa Patch) Apply(p Profile) (Profile, bool, error) {
	next := p
	next.Specialties, next.Languages = slices.Clone(p.Specialties), slices.Clone(p.Languages)
	if pa.FirstName != nil {
		next.FirstName = strings.TrimSpace(*pa.FirstName)
	}
	if pa.LastName != nil {
		next.LastName = strings.TrimSpace(*pa.LastName)
	}
	if pa.Specialties != nil {
		next.Specialties = unique(pa.Specialties)
	}
	if pa.Languages != nil {
		next.Languages = unique(pa.Languages)
	}
	if pa.Country != nil {
		next.Country = *pa.Country
	}
	if pa.Bio != nil {
		next.Bio = strings.TrimSpace(*pa.Bio)
	}
	if err := next.validate(); err != nil {
		return Profile{}, false, err
	}
	changed := next.FirstName != p.FirstName || next.LastName != p.LastName || next.Country != p.Country ||
		next.Bio != p.Bio || !slices.Equal(next.Specialties, p.Specialties) || !slices.Equal(next.Languages, p.Languages)
	return next, changed, nil
}

// validate checks every field but the email, which only registration sets.
func (p Profile) validate() error {
	for _, f := range []struct{ field, v string }{{"firstName", p.FirstName}, {"lastName", p.LastName}} {
		if f.v == "" {
			return fault.Invalid(f.field, "is required")
		}
		if utf8.RuneCountInString(f.v) > maxName {
			return fault.Invalid(f.field, "must be at most %d characters", maxName)
		}
	}
	if len(p.Specialties) == 0 {
		return fault.Invalid("specialties", "must name at least one specialty")
	}
	for _, s := range p.Specialties {
		if !s.Valid() {
			return fault.Invalid("specialties", "each must be one of %s", strings.Join(vocab.Specialty("").Values(), ", "))
		}
	}
	if len(p.Languages) == 0 || len(p.Languages) > maxLanguages {
		return fault.Invalid("languages", "must name 1 to %d languages", maxLanguages)
	}
	for _, l := range p.Languages {
		if !ValidLanguage(l) {
			return fault.Invalid("languages", "each must be an ISO 639-1 code in lower case, e.g. en")
		}
	}
	if !ValidCountry(p.Country) {
		return fault.Invalid("country", "must be an ISO 3166-1 alpha-2 code in upper case, e.g. DE")
	}
	if utf8.RuneCountInString(p.Bio) > maxBio {
		return fault.Invalid("bio", "must be at most %d characters", maxBio)
	}
	return nil
}

// normalEmail accepts a bare address only and lower-cases it, so
// uniqueness does not depend on how it was typed.
func normalEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > maxEmail || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return "", fault.Invalid("email", "must be a valid email address")
	}
	return strings.ToLower(s), nil
}

// unique returns vs without repeats, in first-seen order; nil stays nil.
func unique[T comparable](vs []T) []T {
	if vs == nil {
		return nil
	}
	out := make([]T, 0, len(vs))
	for _, v := range vs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// ValidLanguage reports whether l is an assigned ISO 639-1 code in lower
// case; vocab.Language checks only the form.
func ValidLanguage(l vocab.Language) bool {
	return l.Valid() && strings.Contains(iso639, " "+string(l)+" ")
}

// ValidCountry reports whether s is an assigned ISO 3166-1 alpha-2 code in
// upper case.
func ValidCountry(s string) bool { return len(s) == 2 && strings.Contains(iso3166, " "+s+" ") }

// iso639 lists the ISO 639-1 codes, space-separated and space-framed.
const iso639 = " aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy" +
	" da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz" +
	" ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv" +
	" mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu" +
	" rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty" +
	" ug uk ur uz ve vi vo wa wo xh yi yo za zh zu "

// iso3166 lists the 249 assigned ISO 3166-1 alpha-2 codes, space-separated
// and space-framed.
const iso3166 = " AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ" +
	" BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ" +
	" CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET" +
	" FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU" +
	" ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY" +
	" MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM" +
	" PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW" +
	" SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ" +
	" UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW "
