package nlp

// Version names the rule set and its dictionaries. It changes whenever a rule
// or a dictionary changes in a way that can change an Analysis, so a stored
// analysis can say which rules produced it (the plan's modelVersion).
const Version = "nlp-rules/1"

// Page is one page of extracted text. Number is the page's number as the
// extractor counts it (1-based); Text is its text as extracted, UTF-8.
type Page struct {
	Number int    `json:"number"`
	Text   string `json:"text"`
}

// Span cites words of the document: the page's Number and the byte offsets
// [Start, End) in that page's Text, so that pages[i].Text[Start:End] is
// exactly the cited words. Offsets are bytes of the UTF-8 text (Go string
// indices), always on rune boundaries; a caller that needs UTF-16 or rune
// offsets converts them from the page text.
type Span struct {
	Page  int `json:"page"`
	Start int `json:"start"`
	End   int `json:"end"`
}

// Position is a point in the document: a page number and a byte offset in
// that page's Text.
type Position struct {
	Page   int `json:"page"`
	Offset int `json:"offset"`
}

// EntityType is the kind of a medical entity.
type EntityType string

// The entity types.
const (
	Condition  EntityType = "CONDITION"  // diseases, disorders, symptoms, lesions
	Medication EntityType = "MEDICATION" // a drug with its dose, unit, route and frequency when written next to it
	Procedure  EntityType = "PROCEDURE"  // tests, imaging, operations, therapies
	Lab        EntityType = "LAB"        // a laboratory test with a numeric value
	Vital      EntityType = "VITAL"      // a vital sign or body measure with a numeric value
	Anatomy    EntityType = "ANATOMY"    // a body part or organ not inside another entity
)

// SectionKind is the normalised kind of a section of a medical record.
type SectionKind string

// The section kinds. Text before the first recognised heading is in
// SectionNone.
const (
	SectionNone          SectionKind = "NONE"
	SectionHistory       SectionKind = "HISTORY" // history of present illness, past history, indication, complaint
	SectionFamilyHistory SectionKind = "FAMILY_HISTORY"
	SectionSocialHistory SectionKind = "SOCIAL_HISTORY"
	SectionAllergies     SectionKind = "ALLERGIES"
	SectionMedications   SectionKind = "MEDICATIONS"
	SectionExamination   SectionKind = "EXAMINATION"
	SectionVitals        SectionKind = "VITALS"
	SectionLabs          SectionKind = "LABS"
	SectionProcedures    SectionKind = "PROCEDURES" // procedure, operation, technique
	SectionCourse        SectionKind = "COURSE"     // hospital course
	SectionFindings      SectionKind = "FINDINGS"
	SectionImpression    SectionKind = "IMPRESSION" // impression, conclusion, assessment, diagnosis, interpretation
	SectionPlan          SectionKind = "PLAN"       // plan, recommendations, follow-up, disposition
	SectionOther         SectionKind = "OTHER"      // a heading we recognise as one but do not classify (comparison …)
)

// Section is one section of the document: its heading as written, where the
// heading stands, and where the section ends (the next heading, or the end of
// the last page).
type Section struct {
	Kind    SectionKind `json:"kind"`
	Heading string      `json:"heading"`
	Cite    Span        `json:"cite"`
	End     Position    `json:"end"`
}

// MatchKind says how an entity was recognised; it drives its confidence.
type MatchKind string

// The match kinds.
const (
	MatchPreferred    MatchKind = "PREFERRED"    // the dictionary's preferred term
	MatchSynonym      MatchKind = "SYNONYM"      // one of its synonyms (or a plural of either)
	MatchAbbreviation MatchKind = "ABBREVIATION" // an upper-case abbreviation, matched case-sensitively
	MatchPattern      MatchKind = "PATTERN"      // a name followed by a value (labs, vitals)
)

// CueKind is the kind of context a cue sets.
type CueKind string

// The cue kinds.
const (
	CueNegation    CueKind = "NEGATION"
	CueUncertainty CueKind = "UNCERTAINTY"
	CueHistorical  CueKind = "HISTORICAL"
	CueFamily      CueKind = "FAMILY"
)

// Cue is the trigger that set one of an entity's context flags: the words of
// the trigger, or the section heading when the section set it.
type Cue struct {
	Kind CueKind `json:"kind"`
	Text string  `json:"text"`
	Cite Span    `json:"cite"`
}

// Concept is a code in a terminology. Term is our own short name for it (not
// the terminology's official title).
type Concept struct {
	System string `json:"system"` // "ICD-10"
	Code   string `json:"code"`
	Term   string `json:"term"`
}

// MedicationDetail is what was written next to a drug's name. Fields are
// empty when absent. Route is normalised (PO, IV, IM, SC, INH, SL, PR, TOP,
// TD, NEB); the others are as written.
type MedicationDetail struct {
	Name      string `json:"name"` // the drug's generic name, lower case
	Dose      string `json:"dose,omitempty"`
	Unit      string `json:"unit,omitempty"`
	Route     string `json:"route,omitempty"`
	Frequency string `json:"frequency,omitempty"`
}

// Flag says whether a measurement lies outside its range.
type Flag string

// The flags. An empty Flag means no range was known.
const (
	FlagHigh   Flag = "HIGH"
	FlagLow    Flag = "LOW"
	FlagNormal Flag = "NORMAL"
)

// Measurement is a lab result or vital sign.
type Measurement struct {
	Name      string   `json:"name"`             // canonical name: "HbA1c", "blood pressure"
	ValueText string   `json:"valueText"`        // as written: "8.2", "<0.01", "140/90"
	Value     float64  `json:"value"`            // the (first) number; systolic for blood pressure
	Value2    *float64 `json:"value2,omitempty"` // diastolic for blood pressure
	Unit      string   `json:"unit,omitempty"`
	RefLow    *float64 `json:"refLow,omitempty"`
	RefHigh   *float64 `json:"refHigh,omitempty"`
	RefText   string   `json:"refText,omitempty"` // the reference range as written
	// RefSource says where the range came from: "STATED" (written in the
	// document), "MARKER" (an H/L flag written next to the value, no range),
	// "ADULT_NORM" (vital signs: fixed adult limits, see vitals.go), or empty.
	RefSource string `json:"refSource,omitempty"`
	Flag      Flag   `json:"flag,omitempty"`
}

// Entity is one mention of a medical entity. Text is exactly the cited words.
// Negated, Uncertain, Historical and Family are set for conditions,
// medications and procedures only; Cues says what set them.
type Entity struct {
	Type        EntityType        `json:"type"`
	Text        string            `json:"text"`
	Cite        Span              `json:"cite"`
	Section     SectionKind       `json:"section"`
	Match       MatchKind         `json:"match"`
	Negated     bool              `json:"negated"`
	Uncertain   bool              `json:"uncertain"`
	Historical  bool              `json:"historical"`
	Family      bool              `json:"family"`
	Cues        []Cue             `json:"cues,omitempty"`
	Concept     *Concept          `json:"concept,omitempty"`     // conditions with a dictionary code
	Medication  *MedicationDetail `json:"medication,omitempty"`  // medications
	Measurement *Measurement      `json:"measurement,omitempty"` // labs and vitals
	// Confidence in [0,1] that the entity and its flags are right; see
	// confidence.go for the heuristic.
	Confidence float64 `json:"confidence"`
}

// Finding is a key finding for the professional: a positive (not negated,
// not family) condition, or a lab or vital sign outside its range. Mentions
// of the same concept (or lab) are merged: Cite is the best mention, Also the
// others.
type Finding struct {
	Label      string      `json:"label"` // e.g. "pneumonia (J18), uncertain" or "HbA1c 8.2 % HIGH"
	Type       EntityType  `json:"type"`
	Code       string      `json:"code,omitempty"`
	Entity     int         `json:"entity"` // index of the best mention in Analysis.Entities
	Cite       Span        `json:"cite"`
	Also       []Span      `json:"also,omitempty"`
	Section    SectionKind `json:"section"`
	Uncertain  bool        `json:"uncertain"`
	Historical bool        `json:"historical"`
	Flag       Flag        `json:"flag,omitempty"`
	Score      float64     `json:"score"` // priority; findings are sorted by it
	Confidence float64     `json:"confidence"`
}

// CodedConcept is a concept found in the document with the entities that
// mention it and whether any mention asserts it (not negated, not family).
type CodedConcept struct {
	Concept
	Mentions []int `json:"mentions"`
	Asserted bool  `json:"asserted"`
}

// SummarySentence is a sentence chosen for the extractive summary, with its
// score and the reasons that add up to it.
type SummarySentence struct {
	Text    string   `json:"text"`
	Cite    Span     `json:"cite"`
	Score   float64  `json:"score"`
	Reasons []string `json:"reasons"`
}

// Analysis is the result of Analyze. Every Entity, Finding, Section and
// SummarySentence cites its words.
type Analysis struct {
	Version     string            `json:"version"`
	Sections    []Section         `json:"sections"`
	Entities    []Entity          `json:"entities"`
	Concepts    []CodedConcept    `json:"concepts"`
	KeyFindings []Finding         `json:"keyFindings"`
	Summary     []SummarySentence `json:"summary"`
	// Confidence is the mean confidence of the key findings (of all
	// entities when there is none; 0 for a document without entities).
	Confidence float64 `json:"confidence"`
}
