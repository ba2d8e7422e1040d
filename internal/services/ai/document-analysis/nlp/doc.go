// Package nlp is document-analysis' language processing: it turns the text of
// a medical record (pages of text, as the extraction package produces them)
// into cited, coded findings for the professional. It is a domain package:
// plain Go, standard library only, no I/O, deterministic, offline and
// rule-based. Extraction (PDF, DOCX, OCR), storage, the HTTP API and any
// external AI provider belong to the service around it, not here.
//
// One function: Analyze(pages) returns an Analysis with
//
//   - Sections: headings found line by line (case-insensitive, common
//     variants: "HPI", "Past medical history", "Discharge medications",
//     "Labs on admission", "Impression/Conclusion", "Assessment and plan",
//     "Recommendations" …) normalised to a SectionKind. A section goes on
//     across pages until the next heading. A document title (first line) and
//     upper-case title lines or bare "Liver:" sub-headings are not extracted.
//   - Entities of six types: CONDITION (from icd10.tsv), MEDICATION (from
//     lexicon.tsv, with the dose, unit, route and frequency written after the
//     name), PROCEDURE, ANATOMY (with a preceding left/right), LAB (a test
//     name followed by a number, with unit, H/L marker and reference range;
//     the flag comes from the stated range, else the marker) and VITAL
//     (blood pressure, heart and respiratory rate, temperature, SpO2, weight,
//     height, BMI; flagged against fixed adult limits, see vitalFlag).
//     Dictionary terms match longest-first on words, across hyphens and
//     slashes, with plurals; upper-case abbreviations of up to six characters
//     (HTN, PE) match case-sensitively only.
//   - Context per condition, medication and procedure (context.go), in the
//     manner of NegEx/ConText: pre-triggers ("no", "denies", "no evidence
//     of", "negative for", "free of", "without"), post-triggers ("was ruled
//     out", "is unlikely", "not seen"), pseudo-triggers that look like
//     negation and are not ("no increase", "no interval change", "not
//     ruled out" — which is uncertainty), terminators ("but", "however",
//     "which", ";", "reports") and the sentence end, within a window of ten
//     units (a word, or a whole entity). The same machinery marks uncertainty
//     ("possible", "suspicious for", "cannot exclude", "likely", "?", "rule
//     out", "if"), history ("history of", "prior", "status post") and
//     family ("family history of", "mother had", "in his father", and every
//     entity of a family-history section). Each flag keeps the cue that set
//     it, with its citation.
//   - Concepts: ICD-10 codes of the conditions, with their mentions. The
//     dictionary lists codes and our own short terms only; the official
//     titles are WHO's and are not reproduced (see icd10.tsv).
//   - KeyFindings: positive conditions (not negated, not the family's) and
//     labs and vitals outside their range, one per code or test, scored by
//     section (IMPRESSION before FINDINGS before the rest), confidence, and
//     lowered when historical or uncertain.
//   - Summary: an extractive summary, the best-scoring sentences in document
//     order, each with the reasons for its score (section, positive
//     conditions, abnormal results, pertinent negatives).
//   - Confidence per entity and finding (confidence.go): the match kind
//     (preferred term 0.90, synonym 0.85, abbreviation 0.75, a value with its
//     unit 0.90), +0.05 in a section where the type is expected, +0.05 for a
//     dose or a stated range, −0.05 when a context cue applied, −0.20 when
//     uncertain.
//
// # Citations
//
// Every entity, cue, finding, summary sentence and heading cites its words
// as a Span: the page number and byte offsets [Start, End) into that page's
// Text, so page.Text[Start:End] is exactly the cited text (Entity.Text,
// Cue.Text, SummarySentence.Text, Section.Heading). Offsets are UTF-8 byte
// offsets, always on rune boundaries; a client that counts UTF-16 code units
// (JavaScript) converts them from the page text. The tests check this for
// every citation over the whole labelled corpus.
//
// # Quality
//
// testdata/ holds a labelled synthetic corpus (no real patient data) and
// corpus_test.go measures precision and recall per entity type and for each
// context flag, failing below the floors published in bench/RESULTS.md
// ("document-analysis NLP"), with BenchmarkAnalyze for throughput. The
// figures measure the rules against text written by the people who wrote
// the rules; expect less on real records (see RESULTS.md).
package nlp
