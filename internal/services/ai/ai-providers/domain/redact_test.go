package domain

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// patient is the context of the identifier-laden record below.
var patient = PatientContext{
	Names:       []string{"Margaret Anne O'Brien", "Thomas O'Brien"},
	DateOfBirth: time.Date(1931, time.March, 7, 0, 0, 0, 0, time.UTC),
	Emails:      []string{"maggie.obrien@example.org"},
	Phones:      []string{"+44 20 7946 0958"},
	Addresses:   []string{"221B Baker Street, London, NW1 6XE"},
	Identifiers: []string{"RX8841207"},
	CaseNumber:  "EU-2026-7KQ2ZD",
}

// IdentifierRecord is a discharge letter full of direct identifiers, as
// the privacy tests send it.
const identifierRecord = `DISCHARGE LETTER — Case EU-2026-7KQ2ZD (also filed as EU-2026-000123)
Patient: Margaret Anne O'Brien, DOB 07/03/1931 (born 7 March 1931), aged 94.
MRN: RX-884 1207. NHS number: 943 476 5919. Insurance no. KV-55012877.
Address: 221B Baker Street, London, NW1 6XE. Tel: +44 (0)20 7946 0958, mobile 07700 900461.
Email maggie.obrien@example.org; portal https://portal.example-hospital.org/p/88412.
Next of kin: Thomas O'Brien (son), 14 Elm Road. Referring physician: Dr. Priya Raman.
Admitted on 2026-01-14T08:30:00Z, discharged 21 January 2026; follow-up in March 2026.
Mrs O'Brien, a 94-year-old woman, reports dyspnoea. Margaret has a 3.2 x 2.1 cm lesion in the right upper lobe.
Study UID 1.2.840.113619.2.55.3.604688119. Seen again 3/2/26. Account 4478123990.`

func TestRedactRemovesEveryIdentifier(t *testing.T) {
	got, counts := Redact(identifierRecord, patient)
	for _, leak := range []string{
		"Margaret", "Anne", "O'Brien", "Thomas", "Priya", "Raman",
		"1931", "07/03", "7 March", "2026-01-14", "21 January", "March 2026", "3/2/26",
		"RX", "884", "1207", "943", "476", "5919", "KV-55012877", "55012877",
		"221B", "Baker", "London", "NW1", "6XE", "Elm Road",
		"7946", "0958", "07700", "900461", "maggie", "example.org", "portal.", "88412",
		"EU-2026-7KQ2ZD", "EU-2026-000123", "113619", "4478123990", "94",
	} {
		if strings.Contains(got, leak) {
			t.Errorf("%q survived redaction:\n%s", leak, got)
		}
	}
	// What the reviewer needs stays: the clinical content and the years.
	for _, keep := range []string{"dyspnoea", "3.2 x 2.1 cm lesion in the right upper lobe", "DISCHARGE LETTER", "woman", "(son), [ADDRESS]. Referring physician: [NAME].\nAdmitted on [DATE]"} {
		if !strings.Contains(got, keep) {
			t.Errorf("%q was lost:\n%s", keep, got)
		}
	}
	for _, c := range []Category{CatName, CatDate, CatEmail, CatPhone, CatAddress, CatID, CatCaseNumber, CatURL, CatAge} {
		if counts[c] == 0 {
			t.Errorf("no %s replaced: %v\n%s", c, counts, got)
		}
	}
	if testing.Verbose() {
		t.Log("\n" + got)
	}
}

func TestRedactLeavesClinicalTextAlone(t *testing.T) {
	for _, text := range []string{
		"BP 120/80 mmHg, HR 72/min, Hb 13.5 g/dL, creatinine 1.1 mg/dL, eGFR 68.",
		"MRI 2019 showed a T2 hyperintense lesion of 12 x 8 mm at C5-C6; stable since 2021.",
		"Ejection fraction 55%. The patient may benefit from ICD-10 I25.10 follow-up in 6 months.",
		"No evidence of malignancy. Dose 0.5 mg twice daily for 14 days, then 250 mg.",
		"Grade 2 of 4; Gleason 3+4=7; PSA 4.2 ng/mL; stage pT2 N0 M0.",
	} {
		got, counts := Redact(text, PatientContext{Names: []string{"May Stone"}})
		if got != text {
			t.Errorf("clinical text changed (%v):\n got %s\nwant %s", counts, got, text)
		}
	}
}

func TestRedactCategories(t *testing.T) {
	tests := []struct {
		name, in, want string
		pc             PatientContext
	}{
		{"email", "write to j.doe+x@mail.example.com now", "write to [EMAIL] now", PatientContext{}},
		{"url", "see www.example.com/records?id=1 today", "see [URL] today", PatientContext{}},
		{"case number, real alphabet", "case EU-2026-7KQ2ZD opened", "case [CASE_NUMBER] opened", PatientContext{}},
		{"case number, digits", "case EU-2026-000123 opened", "case [CASE_NUMBER] opened", PatientContext{}},
		{"professional number", "by PRO-EU-ABC234", "by [ID]", PatientContext{}},
		{"labelled MRN keeps its label", "MRN: 00123456.", "MRN: [ID].", PatientContext{}},
		{"known id in another notation", "ref AB 123-456 filed", "ref [ID] filed", PatientContext{Identifiers: []string{"AB123456"}}},
		{"SSN", "SSN 123-45-6789", "SSN [ID]", PatientContext{}},
		{"ISO date", "on 2025-11-03 at noon", "on [DATE] at noon", PatientContext{}},
		{"European date", "am 03.11.2025 gesehen", "am [DATE] gesehen", PatientContext{}},
		{"textual date", "on 3rd of November, 2025", "on [DATE]", PatientContext{}},
		{"US textual date", "on November 3, 2025.", "on [DATE].", PatientContext{}},
		{"German month", "am 3. März 2025", "am [DATE]", PatientContext{}},
		{"French month", "le 3 février 2025", "le [DATE]", PatientContext{}},
		{"month and year", "since March 2024", "since [DATE]", PatientContext{}},
		{"day and month", "seen on 3 March, then", "seen on [DATE], then", PatientContext{}},
		{"year alone stays", "diagnosed in 2019", "diagnosed in 2019", PatientContext{}},
		{"date of birth written oddly", "born 070331", "born [DATE]", PatientContext{DateOfBirth: time.Date(1931, 3, 7, 0, 0, 0, 0, time.UTC)}},
		{"old age", "a 97 year old man", "a [AGE_90+] man", PatientContext{}},
		{"young age stays", "a 67 year old man", "a 67 year old man", PatientContext{}},
		{"phone, international", "call +33 1 42 68 53 00.", "call [PHONE].", PatientContext{}},
		{"phone, labelled", "Fax: 030 1234567", "Fax: [PHONE]", PatientContext{}},
		{"phone, US", "(415) 555-0132", "[PHONE]", PatientContext{}},
		{"phone in parentheses", "son (07700 900461) called", "son ([PHONE]) called", PatientContext{}},
		{"known phone, national notation", "ring 020-7946-0958", "ring [PHONE]", PatientContext{Phones: []string{"+44 20 7946 0958"}}},
		{"known phone, local notation", "call 7946 0958 tonight", "call [PHONE] tonight", PatientContext{Phones: []string{"+44 20 7946 0958"}}},
		{"known phone, international notation", "call 0044 20 79460958", "call [PHONE]", PatientContext{Phones: []string{"020 7946 0958"}}},
		{"street", "lives at 12 Rose Garden Lane with", "lives at [ADDRESS] with", PatientContext{}},
		{"German street", "wohnt Hauptstraße 12a in", "wohnt [ADDRESS] in", PatientContext{}},
		{"French street", "au 8 rue de la Paix depuis", "au [ADDRESS] depuis", PatientContext{}},
		{"postcode", "London SW1A 1AA", "London [ADDRESS]", PatientContext{}},
		{"known town", "moved to Springfield", "moved to [ADDRESS]", PatientContext{Addresses: []string{"742 Evergreen Terrace, Springfield"}}},
		{"labelled name", "Patient name: Jane Q. Public, 2 visits", "Patient name: [NAME], 2 visits", PatientContext{}},
		{"titled name", "seen by Prof. Hannelore Krüger today", "seen by Prof. [NAME] today", PatientContext{}},
		{"known name in any case", "JOHN SMITH and Smith, John", "[NAME] and [NAME], [NAME]", PatientContext{Names: []string{"John Smith"}}},
		{"known name, accents", "José Álvarez-Núñez llegó", "[NAME] llegó", PatientContext{Names: []string{"José Álvarez-Núñez"}}},
		{"name part only when capitalised", "May said symptoms may vary", "[NAME] said symptoms may vary", PatientContext{Names: []string{"May Stone"}}},
		{"name inside a word stays", "Stoneware and Stone", "Stoneware and [NAME]", PatientContext{Names: []string{"May Stone"}}},
		{"UID", "UID 1.2.840.10008.5.1.4.1", "UID [ID]", PatientContext{}},
		{"MRN-like", "ref ABC1234567 noted", "ref [ID] noted", PatientContext{}},
		{"long number", "account 88123456789 closed", "account [ID] closed", PatientContext{}},
		{"placeholders are not redacted again", "[NAME] on [DATE]", "[NAME] on [DATE]", PatientContext{Names: []string{"Name Date"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := Redact(tt.in, tt.pc)
			if got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// The Go checks hold whatever schema the caller gives.
func TestCheckAnswerBeyondTheSchema(t *testing.T) {
	req, _ := validRequest().Validate()
	good := func() Answer {
		return Answer{Summary: "s", KeyFindings: []KeyFinding{{Text: "t", Confidence: 0.5, Citation: Citation{docA, 1, 100, 160}}}}
	}
	if err := CheckAnswer(req, good()); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Answer){
		"confidence above 1":  func(a *Answer) { a.KeyFindings[0].Confidence = 1.01 },
		"negative confidence": func(a *Answer) { a.KeyFindings[0].Confidence = -0.1 },
		"NaN confidence":      func(a *Answer) { a.KeyFindings[0].Confidence = math.NaN() },
		"no findings":         func(a *Answer) { a.KeyFindings = nil },
		"too many findings": func(a *Answer) {
			for range MaxKeyFindings {
				a.KeyFindings = append(a.KeyFindings, a.KeyFindings[0])
			}
		},
		"finding too long": func(a *Answer) { a.KeyFindings[0].Text = strings.Repeat("x", 1001) },
		"negative span":    func(a *Answer) { a.KeyFindings[0].Citation.Start = -1 },
	} {
		a := good()
		edit(&a)
		if err := CheckAnswer(req, a); !errors.Is(err, ErrMalformedAnswer) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestDeidentify(t *testing.T) {
	req := validRequest()
	req.Patient = patient
	req.Documents[0].Title = "Letter for Margaret O'Brien"
	req.Documents[0].Passages[0].Text = "Margaret O'Brien (DOB 07/03/1931) has a 3 cm lesion."
	d := Deidentify(req)
	v := d.Request
	if v.CaseID != "" || v.RequestID != "" || len(v.Patient.Names) != 0 || v.Patient.CaseNumber != "" || !v.Patient.DateOfBirth.IsZero() {
		t.Errorf("the view keeps ids or the patient context: %+v", v)
	}
	if v.Documents[0].ID != "doc-1" || v.Documents[1].ID != "doc-2" {
		t.Errorf("documents not aliased: %q, %q", v.Documents[0].ID, v.Documents[1].ID)
	}
	if v.Documents[0].Title != "Letter for [NAME]" || v.Documents[0].Passages[0].Text != "[NAME] (DOB [DATE]) has a 3 cm lesion." {
		t.Errorf("not redacted: %q / %q", v.Documents[0].Title, v.Documents[0].Passages[0].Text)
	}
	if req.Documents[0].Passages[0].Text == v.Documents[0].Passages[0].Text {
		t.Error("Deidentify changed the caller's request")
	}
	if d.Counts[CatName] < 2 || d.Counts[CatDate] != 1 {
		t.Errorf("counts %v", d.Counts)
	}
	p := v.Documents[0].Passages[0]
	ans := Answer{Summary: "s", KeyFindings: []KeyFinding{{Text: "t", Confidence: 0.5, Citation: Citation{DocumentID: "doc-1", Page: p.Page, Start: p.Start, End: p.End}}}}
	if err := CheckAnswer(v, ans); err != nil {
		t.Fatal(err)
	}
	back := d.Restore(ans)
	if back.KeyFindings[0].Citation.DocumentID != req.Documents[0].ID || ans.KeyFindings[0].Citation.DocumentID != "doc-1" {
		t.Errorf("restore: %+v (original answer %+v)", back.KeyFindings[0].Citation, ans.KeyFindings[0].Citation)
	}
	if err := CheckAnswer(req, back); err != nil {
		t.Errorf("restored answer does not cite the original request: %v", err)
	}
}
