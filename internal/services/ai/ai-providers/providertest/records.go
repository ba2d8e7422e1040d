package providertest

import (
	"time"

	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
)

// IdentifierLaden is a case whose records are full of direct identifiers
// — the patient's and their relatives' names, dates of birth and of care,
// e-mail, phones, address, record, insurance and case numbers, a portal
// URL, a DICOM UID — with its patient context, and the strings that must
// never reach an external provider.
func IdentifierLaden() (req domain.SynthesisRequest, secrets []string) {
	req = domain.SynthesisRequest{
		RequestID: "0190a4b2-0000-7000-8000-00000000beef",
		CaseID:    "0190a4b2-0000-7000-8000-00000000c0de",
		CaseType:  "SECOND_OPINION",
		Specialty: "ONCOLOGY",
		Language:  "en",
		Consent:   domain.Consent{AIProcessing: true},
		Patient: domain.PatientContext{
			Names:       []string{"Margaret Anne O'Brien", "Thomas O'Brien"},
			DateOfBirth: time.Date(1958, time.March, 7, 0, 0, 0, 0, time.UTC),
			Emails:      []string{"maggie.obrien@example.org"},
			Phones:      []string{"+44 20 7946 0958"},
			Addresses:   []string{"221B Baker Street, London, NW1 6XE"},
			Identifiers: []string{"RX8841207", "KV-55012877"},
			CaseNumber:  "EU-2026-7KQ2ZD",
		},
		Documents: []domain.Document{
			{ID: "0190a4b2-0000-7000-8000-0000000d0c01", Title: "Discharge letter for Margaret O'Brien (EU-2026-7KQ2ZD)", Passages: []domain.Passage{
				{Page: 1, Start: 0, End: 120, Kind: domain.Sentence,
					Text: "Patient: Margaret Anne O'Brien, DOB 07/03/1958, MRN RX-884 1207, insurance no. KV-55012877, case EU-2026-7KQ2ZD."},
				{Page: 1, Start: 121, End: 260, Kind: domain.Sentence,
					Text: "Lives at 221B Baker Street, London NW1 6XE; tel. +44 (0)20 7946 0958; e-mail maggie.obrien@example.org; portal https://portal.example-hospital.org/p/88412."},
				{Page: 1, Start: 261, End: 400, Kind: domain.Finding, Confidence: 0.92,
					Text: "On 14 January 2026 Mrs O'Brien underwent CT: a 3.2 cm spiculated mass in the right upper lobe."},
				{Page: 2, Start: 0, End: 150, Kind: domain.Finding, Confidence: 0.88,
					Text: "Margaret's son Thomas O'Brien (07700 900461) reports weight loss since March 2025; biopsy on 2026-01-20 showed adenocarcinoma."},
			}},
			{ID: "0190a4b2-0000-7000-8000-0000000d0c02", Title: "PET-CT", Passages: []domain.Passage{
				{Page: 1, Start: 40, End: 200, Kind: domain.Finding, Confidence: 0.9,
					Text: "Study UID 1.2.840.113619.2.55.3.604688119 (accession no. ACC-20260122-77). FDG-avid hilar node, SUVmax 8.1; no distant metastases."},
			}},
		},
	}
	secrets = []string{
		"Margaret", "Anne", "O'Brien", "O\\u0027Brien", "Thomas", "1958", "07/03", "7 March",
		"RX", "884", "1207", "KV-55012877", "55012877", "EU-2026-7KQ2ZD", "7KQ2ZD",
		"221B", "Baker", "London", "NW1", "6XE", "7946", "0958", "07700", "900461",
		"maggie", "example.org", "portal.", "88412", "14 January", "March 2025", "2026-01-20",
		"113619", "604688119", "20260122",
		req.CaseID, req.RequestID, req.Documents[0].ID, req.Documents[1].ID,
	}
	return req, secrets
}
