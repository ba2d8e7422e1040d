package nlp

import (
	"strings"
	"testing"
)

// find returns the first entity whose text is want (case-sensitive).
func find(t *testing.T, a *Analysis, want string) *Entity {
	t.Helper()
	for i := range a.Entities {
		if a.Entities[i].Text == want {
			return &a.Entities[i]
		}
	}
	var got []string
	for _, e := range a.Entities {
		got = append(got, string(e.Type)+":"+e.Text)
	}
	t.Fatalf("no entity %q; got %v", want, got)
	return nil
}

func analyze(text string) *Analysis { return Analyze([]Page{{Number: 1, Text: text}}) }

// flags renders an entity's context flags for comparison: "neg unc hist fam".
func flags(e *Entity) string {
	var f []string
	if e.Negated {
		f = append(f, "neg")
	}
	if e.Uncertain {
		f = append(f, "unc")
	}
	if e.Historical {
		f = append(f, "hist")
	}
	if e.Family {
		f = append(f, "fam")
	}
	return strings.Join(f, " ")
}

func TestContext(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       map[string]string // entity text → flags
	}{
		{"pre-negation", "No pleural effusion.", map[string]string{"pleural effusion": "neg"}},
		{"denies list", "Denies fever, chills, night sweats or weight loss.", map[string]string{"fever": "neg", "chills": "neg", "night sweats": "neg", "weight loss": "neg"}},
		{"no evidence of", "There is no evidence of malignancy.", map[string]string{"malignancy": "neg"}},
		{"negative for", "Biopsy negative for carcinoma.", map[string]string{"carcinoma": "neg", "Biopsy": ""}},
		{"free of", "She remains free of seizures.", map[string]string{"seizures": "neg"}},
		{"without", "Sinus rhythm without ST elevation.", map[string]string{"ST elevation": "neg"}},
		{"terminated by but", "Denies chest pain but reports dyspnea.", map[string]string{"chest pain": "neg", "dyspnea": ""}},
		{"terminated by but alone", "No fever but cough.", map[string]string{"fever": "neg", "cough": ""}},
		{"post ruled out bare", "PE ruled out.", map[string]string{"PE": "neg"}},
		{"terminated by however", "No fever, however cough persists.", map[string]string{"fever": "neg", "cough": ""}},
		{"terminated by semicolon", "No pneumothorax; small pleural effusion.", map[string]string{"pneumothorax": "neg", "pleural effusion": ""}},
		{"sentence end", "No fever. Cough for 3 days.", map[string]string{"fever": "neg", "Cough": ""}},
		{"post ruled out", "Pulmonary embolism was ruled out.", map[string]string{"Pulmonary embolism": "neg"}},
		{"post unlikely", "PE is unlikely.", map[string]string{"PE": "neg"}},
		{"post not seen", "A mass is not seen.", map[string]string{"mass": "neg"}},
		{"pseudo no increase", "No increase in the size of the nodule.", map[string]string{"nodule": ""}},
		{"pseudo no change", "No interval change in the pulmonary nodule.", map[string]string{"pulmonary nodule": ""}},
		{"pseudo year-old", "A 72-year-old woman with hypertension.", map[string]string{"hypertension": ""}},
		{"pseudo HER2 negative", "Invasive ductal carcinoma, ER positive, HER2 negative.", map[string]string{"Invasive ductal carcinoma": ""}},
		{"not ruled out is uncertain", "Pneumonia has not been ruled out.", map[string]string{"Pneumonia": "unc"}},
		{"cannot exclude", "Cannot exclude malignancy.", map[string]string{"malignancy": "unc"}},
		{"cannot be excluded", "Malignancy cannot be excluded.", map[string]string{"Malignancy": "unc"}},
		{"possible", "Possible pneumonia in the left lower lobe.", map[string]string{"pneumonia": "unc"}},
		{"suspicious for", "Findings suspicious for lymphoma.", map[string]string{"lymphoma": "unc"}},
		{"likely", "Likely atelectasis.", map[string]string{"atelectasis": "unc"}},
		{"question mark before", "Impression: ? pneumonia.", map[string]string{"pneumonia": "unc"}},
		{"question mark before a capital", "Impression: ? Pneumonia.", map[string]string{"Pneumonia": "unc"}},
		{"question mark after", "Impression: pneumonia?", map[string]string{"pneumonia": "unc"}},
		{"rule out", "CT to rule out pulmonary embolism.", map[string]string{"pulmonary embolism": "unc", "CT": ""}},
		{"history of", "History of myocardial infarction.", map[string]string{"myocardial infarction": "hist"}},
		{"no history of", "No history of diabetes.", map[string]string{"diabetes": "neg hist"}},
		{"status post", "Status post CABG.", map[string]string{"CABG": "hist"}},
		{"two-year history is current", "A two-year history of resting tremor.", map[string]string{"resting tremor": ""}},
		{"family history of", "Family history of breast cancer.", map[string]string{"breast cancer": "fam"}},
		{"mother had", "Mother had ovarian cancer at 60.", map[string]string{"ovarian cancer": "fam"}},
		{"in his father", "Myocardial infarction in his father.", map[string]string{"Myocardial infarction": "fam"}},
		{"no family history", "No family history of epilepsy.", map[string]string{"epilepsy": "neg fam"}},
		{"hold drug", "Hold spironolactone.", map[string]string{"spironolactone": "neg"}},
		{"hold reaches one drug", "Hold apixaban, start heparin.", map[string]string{"apixaban": "neg", "heparin": ""}},
		{"negation stops at the test", "No ST depression on the ECG.", map[string]string{"ST depression": "neg", "ECG": ""}},
		{"not on", "Atrial fibrillation not on warfarin.", map[string]string{"Atrial fibrillation": "", "warfarin": "neg"}},
		{"conditional", "Return if fever develops.", map[string]string{"fever": "unc"}},
		{"versus", "Atelectasis versus pneumonia.", map[string]string{"Atelectasis": "unc", "pneumonia": "unc"}},
		{"window", "No fever, chills, cough, nausea, vomiting, diarrhoea, rash, headache, dizziness, palpitations, syncope, oedema or weight loss.", map[string]string{"fever": "neg", "weight loss": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := analyze(tc.text)
			for text, want := range tc.want {
				if got := flags(find(t, a, text)); got != want {
					t.Errorf("%q in %q: flags %q, want %q", text, tc.text, got, want)
				}
			}
		})
	}
}

func TestFamilySection(t *testing.T) {
	a := analyze("Family history:\nBreast cancer; diabetes.\n\nPast medical history:\nHypertension.")
	for text, want := range map[string]bool{"Breast cancer": true, "diabetes": true, "Hypertension": false} {
		if got := find(t, a, text).Family; got != want {
			t.Errorf("%s: family %v, want %v", text, got, want)
		}
	}
}

func TestMedicationDetail(t *testing.T) {
	for _, tc := range []struct {
		text string
		want MedicationDetail
		span string
	}{
		{"Metformin 500 mg PO twice daily.", MedicationDetail{Name: "metformin", Dose: "500", Unit: "mg", Route: "PO", Frequency: "twice daily"}, "Metformin 500 mg PO twice daily"},
		{"aspirin 81 mg daily", MedicationDetail{Name: "aspirin", Dose: "81", Unit: "mg", Frequency: "daily"}, "aspirin 81 mg daily"},
		{"insulin glargine 20 units SC at bedtime", MedicationDetail{Name: "insulin", Dose: "20", Unit: "units", Route: "SC", Frequency: "at bedtime"}, "insulin glargine 20 units SC at bedtime"},
		{"furosemide 40 mg IV b.i.d.", MedicationDetail{Name: "furosemide", Dose: "40", Unit: "mg", Route: "IV", Frequency: "b.i.d"}, "furosemide 40 mg IV b.i.d"},
		{"Oxycodone 10 mg PO every 4 hours as needed", MedicationDetail{Name: "oxycodone", Dose: "10", Unit: "mg", Route: "PO", Frequency: "every 4 hours as needed"}, "Oxycodone 10 mg PO every 4 hours as needed"},
		{"cholecalciferol 20,000 units weekly", MedicationDetail{Name: "cholecalciferol", Dose: "20,000", Unit: "units", Frequency: "weekly"}, "cholecalciferol 20,000 units weekly"},
		{"paracetamol 1-2 tablets q6h prn", MedicationDetail{Name: "paracetamol", Dose: "1-2", Unit: "tablets", Frequency: "q6h prn"}, "paracetamol 1-2 tablets q6h prn"},
		{"metformin XR 750 mg with meals", MedicationDetail{Name: "metformin", Dose: "750", Unit: "mg", Frequency: "with meals"}, "metformin XR 750 mg with meals"},
		{"atorvastatin (Lipitor) 40 mg nightly", MedicationDetail{Name: "atorvastatin", Dose: "40", Unit: "mg", Frequency: "nightly"}, "atorvastatin (Lipitor) 40 mg nightly"},
		{"Started warfarin.", MedicationDetail{Name: "warfarin"}, "warfarin"},
		{"oxygen 2 L/min via nasal cannula", MedicationDetail{Name: "oxygen", Dose: "2", Unit: "L/min", Route: "INH"}, "oxygen 2 L/min via nasal cannula"},
	} {
		a := analyze(tc.text)
		var e *Entity
		for i := range a.Entities {
			if a.Entities[i].Type == Medication {
				e = &a.Entities[i]
				break
			}
		}
		if e == nil {
			t.Errorf("%q: no medication", tc.text)
			continue
		}
		if *e.Medication != tc.want || e.Text != tc.span {
			t.Errorf("%q: got %+v span %q, want %+v span %q", tc.text, *e.Medication, e.Text, tc.want, tc.span)
		}
	}
}

func TestLabs(t *testing.T) {
	for _, tc := range []struct {
		text, span, name, unit string
		value                  float64
		flag                   Flag
		refSource              string
	}{
		{"HbA1c 8.2 % (4.0-5.6)", "HbA1c 8.2 % (4.0-5.6)", "HbA1c", "%", 8.2, FlagHigh, "STATED"},
		{"Hemoglobin 10.1 g/dL (13.5-17.5) L", "Hemoglobin 10.1 g/dL (13.5-17.5) L", "hemoglobin", "g/dL", 10.1, FlagLow, "STATED"},
		{"Creatinine 1.1 mg/dL (0.7-1.3)", "Creatinine 1.1 mg/dL (0.7-1.3)", "creatinine", "mg/dL", 1.1, FlagNormal, "STATED"},
		{"Troponin T 412 ng/L (<14)", "Troponin T 412 ng/L (<14)", "troponin", "ng/L", 412, FlagHigh, "STATED"},
		{"HDL-C 1.1 mmol/L (>1.0)", "HDL-C 1.1 mmol/L (>1.0)", "HDL cholesterol", "mmol/L", 1.1, FlagNormal, "STATED"},
		{"eGFR 62 mL/min/1.73m2 (>90)", "eGFR 62 mL/min/1.73m2 (>90)", "eGFR", "mL/min/1.73m2", 62, FlagLow, "STATED"},
		{"Potassium            5.9 mmol/L      (3.5-5.3)     H", "Potassium            5.9 mmol/L      (3.5-5.3)     H", "potassium", "mmol/L", 5.9, FlagHigh, "STATED"},
		{"Sodium 131 mmol/L (normal range 135 to 145)", "Sodium 131 mmol/L (normal range 135 to 145)", "sodium", "mmol/L", 131, FlagLow, "STATED"},
		{"Ferritin 6 ug/L L", "Ferritin 6 ug/L L", "ferritin", "ug/L", 6, FlagLow, "MARKER"},
		{"Platelets 250,000 /µL", "Platelets 250,000 /µL", "platelets", "/µL", 250000, "", ""},
		{"TSH <0.01 mU/L (0.4-4.0)", "TSH <0.01 mU/L (0.4-4.0)", "TSH", "mU/L", 0.01, FlagLow, "STATED"},
		{"LVEF 35-40%", "LVEF 35-40%", "ejection fraction", "%", 35, "", ""},
		{"Troponin on admission was 0.5 ng/mL", "Troponin on admission was 0.5 ng/mL", "troponin", "ng/mL", 0.5, "", ""},
	} {
		a := analyze(tc.text)
		if len(a.Entities) == 0 || a.Entities[0].Type != Lab {
			t.Errorf("%q: no lab, got %+v", tc.text, a.Entities)
			continue
		}
		e := a.Entities[0]
		m := e.Measurement
		if e.Text != tc.span || m.Name != tc.name || m.Unit != tc.unit || m.Value != tc.value || m.Flag != tc.flag || m.RefSource != tc.refSource {
			t.Errorf("%q: got span %q %+v", tc.text, e.Text, *m)
		}
	}
	// a lab name without a number is not an entity
	if a := analyze("Troponin was negative."); len(a.Entities) != 0 {
		t.Errorf("troponin without a value: %+v", a.Entities)
	}
}

func TestVitals(t *testing.T) {
	for _, tc := range []struct {
		text, span, name string
		flag             Flag
	}{
		{"BP 150/95 mmHg", "BP 150/95 mmHg", "blood pressure", FlagHigh},
		{"BP 150/80 mmHg", "BP 150/80 mmHg", "blood pressure", FlagHigh},
		{"BP 138/92", "BP 138/92", "blood pressure", FlagHigh},
		{"blood pressure 84/50", "blood pressure 84/50", "blood pressure", FlagLow},
		{"BP: 120/80 mmHg", "BP: 120/80 mmHg", "blood pressure", FlagNormal},
		{"HR 104 bpm", "HR 104 bpm", "heart rate", FlagHigh},
		{"pulse was 54 bpm", "pulse was 54 bpm", "heart rate", FlagLow},
		{"T 38.3 C", "T 38.3 C", "temperature", FlagHigh},
		{"Temp 101.2 F", "Temp 101.2 F", "temperature", FlagHigh},
		{"temperature 36.8 °C", "temperature 36.8 °C", "temperature", FlagNormal},
		{"SpO2 91% on room air", "SpO2 91%", "oxygen saturation", FlagLow},
		{"RR 24/min", "RR 24/min", "respiratory rate", FlagHigh},
		{"BMI 36.4 kg/m2", "BMI 36.4 kg/m2", "BMI", FlagHigh},
		{"weight 82 kg", "weight 82 kg", "weight", ""},
	} {
		a := analyze(tc.text)
		if len(a.Entities) == 0 || a.Entities[0].Type != Vital {
			t.Errorf("%q: no vital, got %+v", tc.text, a.Entities)
			continue
		}
		e := a.Entities[0]
		if e.Text != tc.span || e.Measurement.Name != tc.name || e.Measurement.Flag != tc.flag {
			t.Errorf("%q: got span %q %+v", tc.text, e.Text, *e.Measurement)
		}
	}
	if a := analyze("BP was checked."); len(a.Entities) != 0 {
		t.Errorf("a vital without a value: %+v", a.Entities)
	}
}

func TestSections(t *testing.T) {
	text := "DISCHARGE SUMMARY\n" +
		"History of present illness: cough.\n" +
		"PAST MEDICAL HISTORY\nhypertension\n" +
		"Family history:\nasthma\n" +
		"Current medications:\naspirin\n" +
		"Labs on admission:\nNa 140 mmol/L\n" +
		"FINDINGS:\nnodule\n" +
		"Impression/Conclusion:\npneumonia\n" +
		"Assessment and plan: asthma\n" +
		"Recommendations:\nfollow-up\n" +
		"Blood pressure: 140/90\n" +
		"History was unremarkable.\n"
	a := analyze(text)
	var got []string
	for _, s := range a.Sections {
		got = append(got, string(s.Kind)+"="+s.Heading)
		if text[s.Cite.Start:s.Cite.End] != s.Heading {
			t.Errorf("heading cite %v is %q, not %q", s.Cite, text[s.Cite.Start:s.Cite.End], s.Heading)
		}
	}
	want := []string{"OTHER=DISCHARGE SUMMARY", "HISTORY=History of present illness", "HISTORY=PAST MEDICAL HISTORY",
		"FAMILY_HISTORY=Family history", "MEDICATIONS=Current medications", "LABS=Labs on admission", "FINDINGS=FINDINGS",
		"IMPRESSION=Impression/Conclusion", "IMPRESSION=Assessment and plan", "PLAN=Recommendations"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sections\n got %v\nwant %v", got, want)
	}
	for text, want := range map[string]SectionKind{"cough": SectionHistory, "hypertension": SectionHistory, "aspirin": SectionMedications,
		"Na 140 mmol/L": SectionLabs, "nodule": SectionFindings, "pneumonia": SectionImpression, "BP": ""} {
		if want == "" {
			continue
		}
		if got := find(t, a, text).Section; got != want {
			t.Errorf("%q in section %s, want %s", text, got, want)
		}
	}
	// a section goes on across pages
	a = Analyze([]Page{{Number: 1, Text: "Findings:\nA nodule."}, {Number: 2, Text: "A small pleural effusion."}})
	if e := find(t, a, "pleural effusion"); e.Section != SectionFindings || e.Cite.Page != 2 {
		t.Errorf("page 2 entity: %+v", e)
	}
	if s := a.Sections[0]; s.End != (Position{Page: 2, Offset: len("A small pleural effusion.")}) {
		t.Errorf("section end %+v", s.End)
	}
}

func TestSentences(t *testing.T) {
	text := "Dr. Smith saw him. HbA1c was 8.2 today.\nLine one\ncontinues here.\n- bullet one\n- bullet two\nIs it pneumonia? No."
	var got []string
	for _, s := range splitSentences(text, 0, len(text)) {
		got = append(got, text[s[0]:s[1]])
	}
	want := []string{"Dr. Smith saw him.", "HbA1c was 8.2 today.", "Line one\ncontinues here.", "bullet one", "bullet two", "Is it pneumonia?", "No."}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sentences\n got %q\nwant %q", got, want)
	}
}

func TestConceptsAndAbbreviations(t *testing.T) {
	a := analyze("Known HTN and T2DM. Hx of MI. No PE. Breast carcinoma.")
	for text, code := range map[string]string{"HTN": "I10", "T2DM": "E11", "MI": "I21", "PE": "I26", "Breast carcinoma": "C50"} {
		e := find(t, a, text)
		if e.Concept == nil || e.Concept.Code != code {
			t.Errorf("%s: concept %+v, want %s", text, e.Concept, code)
		}
	}
	if e := find(t, a, "HTN"); e.Match != MatchAbbreviation {
		t.Errorf("HTN match %s", e.Match)
	}
	// abbreviations are case-sensitive: "pe" and "mi" in prose are not conditions
	if a := analyze("We will see mi amigo and pe teacher."); len(a.Entities) != 0 {
		t.Errorf("lower-case abbreviations matched: %+v", a.Entities)
	}
	// plurals not listed in the dictionary
	if e := find(t, analyze("Two gallbladder polyps and renal cysts."), "cysts"); e.Type != Condition {
		t.Errorf("plural: %+v", e)
	}
	if e := find(t, analyze("Repeat biopsies were done."), "biopsies"); e.Type != Procedure || e.Match != MatchSynonym {
		t.Errorf("plural -ies: %+v", e)
	}
}

func TestKeyFindingsAndSummary(t *testing.T) {
	text := "History: denies chest pain. Mother had breast cancer.\n" +
		"Labs:\nHbA1c 8.2 % (4.0-5.6)\nSodium 140 mmol/L (135-145)\n" +
		"Findings:\nNo pleural effusion. A 2 cm spiculated nodule in the right upper lobe.\n" +
		"Impression:\nPossible pneumonia. Type 2 diabetes mellitus.\n"
	a := analyze(text)
	var labels []string
	for _, f := range a.KeyFindings {
		labels = append(labels, f.Label)
		if got := text[f.Cite.Start:f.Cite.End]; got != a.Entities[f.Entity].Text {
			t.Errorf("finding %q cites %q", f.Label, got)
		}
	}
	joined := strings.Join(labels, "|")
	for _, want := range []string{"Type 2 diabetes mellitus (ICD-10 E11)", "pneumonia (ICD-10 J18), uncertain", "spiculated nodule (ICD-10 R91)", "HbA1c 8.2 % HIGH (reference 4.0-5.6)"} {
		if !strings.Contains(joined, want) {
			t.Errorf("key findings %q lack %q", joined, want)
		}
	}
	for _, no := range []string{"chest pain", "breast cancer", "pleural effusion", "Sodium"} {
		if strings.Contains(strings.ToLower(joined), strings.ToLower(no)) {
			t.Errorf("key findings %q contain %q", joined, no)
		}
	}
	if !strings.HasPrefix(joined, "Type 2 diabetes mellitus") {
		t.Errorf("IMPRESSION should come first: %q", joined)
	}
	if len(a.Summary) == 0 {
		t.Fatal("no summary")
	}
	for _, s := range a.Summary {
		if text[s.Cite.Start:s.Cite.End] != s.Text || len(s.Reasons) == 0 {
			t.Errorf("summary sentence %+v", s)
		}
	}
}

func TestConfidence(t *testing.T) {
	a := analyze("Impression: hypertension. HTN. Possible pneumonia.")
	pref, abbr, unc := find(t, a, "hypertension"), find(t, a, "HTN"), find(t, a, "pneumonia")
	if !(pref.Confidence > abbr.Confidence && abbr.Confidence > unc.Confidence) {
		t.Errorf("confidence order: preferred %.2f, abbreviation %.2f, uncertain %.2f", pref.Confidence, abbr.Confidence, unc.Confidence)
	}
	if pref.Confidence != 0.95 { // 0.90 preferred + 0.05 in IMPRESSION
		t.Errorf("preferred in impression: %.2f", pref.Confidence)
	}
}

func TestEmptyAndOdd(t *testing.T) {
	for _, pages := range [][]Page{nil, {{Number: 1, Text: ""}}, {{Number: 1, Text: "\n\n  \t"}}, {{Number: 3, Text: "Ω ≥ µ ? ; : ( ) [ ]"}}, {{Number: 1, Text: "No"}}, {{Number: 1, Text: "BP 120/"}}, {{Number: 1, Text: "HbA1c 8.2 % ("}}} {
		a := Analyze(pages)
		if a == nil || a.Version != Version || a.Entities == nil || a.KeyFindings == nil || a.Summary == nil {
			t.Errorf("%+v: %+v", pages, a)
		}
	}
}

func TestDictionaries(t *testing.T) {
	l, err := loadLexicon(icd10TSV, lexiconTSV)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.codes) < 200 {
		t.Errorf("%d ICD-10 codes, want a few hundred", len(l.codes))
	}
	for code := range l.codes {
		if !icdRe.MatchString(code) {
			t.Errorf("code %q is not ICD-10 shaped", code)
		}
	}
	if _, err := loadLexicon("X99\n", ""); err == nil {
		t.Error("a line without a term loads")
	}
}
