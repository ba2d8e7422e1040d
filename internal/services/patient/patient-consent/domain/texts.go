package domain

import "github.com/secondopinion/platform/api/vocab"

// Text is the consent text of a purpose at one version: what a patient
// reads and agrees to. A grant names the version it agrees to, so a text
// that changes gets a new version and patients consent to it anew.
type Text struct {
	Purpose vocab.ConsentPurpose
	Version string
	Title   string
	Body    string
}

// texts are the consent texts in force, one per purpose. Changing a text
// means a new Version here: grants of the old one stay as they were
// (Check answers both versions), new grants must name the new one.
var texts = []Text{
	{Purpose: vocab.ConsentAIProcessing, Version: "2026-12-01",
		Title: "Processing of my records by the AI pre-analysis",
		Body: "I agree that the medical records I upload for my cases are analysed by the platform's automated " +
			"pre-analysis, and, where the platform uses an external AI provider, sent to it without my direct " +
			"identifiers. A medical professional always writes the opinion. I can withdraw this consent at any " +
			"time; analyses already made remain part of my cases."},
	{Purpose: vocab.ConsentShareWithProfessionals, Version: "2026-12-01",
		Title: "Sharing my records with the professionals who review my cases",
		Body: "I agree that the verified medical professionals who take my cases see a de-identified summary " +
			"before they take a case, and my records and the AI pre-analysis once it is assigned to them. " +
			"I can withdraw this consent at any time; a case already assigned keeps its reviewer."},
	{Purpose: vocab.ConsentResearch, Version: "2026-12-01",
		Title: "Use of my de-identified data for research",
		Body: "I agree that my records and the opinions on my cases are used, de-identified, for medical research " +
			"and to improve the platform. I can withdraw this consent at any time; data already used in a study " +
			"cannot be withdrawn from it."},
}

// Texts lists the consent texts in force, in the order of the purposes.
func Texts() []Text {
	out := make([]Text, 0, len(vocab.ConsentPurposes))
	for _, p := range vocab.ConsentPurposes {
		out = append(out, Current(p))
	}
	return out
}

// Current is the consent text in force for purpose p; the zero Text for
// what is not a purpose.
func Current(p vocab.ConsentPurpose) Text {
	for _, t := range texts {
		if t.Purpose == p {
			return t
		}
	}
	return Text{}
}
