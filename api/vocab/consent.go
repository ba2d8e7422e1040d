package vocab

import "slices"

// ConsentPurpose is what a patient's consent is for: processing by the AI
// pipeline, sharing their records with the professionals who take their
// cases, or use in research.
type ConsentPurpose string

const (
	ConsentAIProcessing           ConsentPurpose = "AI_PROCESSING"
	ConsentShareWithProfessionals ConsentPurpose = "SHARE_WITH_PROFESSIONALS"
	ConsentResearch               ConsentPurpose = "RESEARCH"
)

// ConsentPurposes lists every consent purpose.
var ConsentPurposes = []ConsentPurpose{ConsentAIProcessing, ConsentShareWithProfessionals, ConsentResearch}

func (ConsentPurpose) Values() []string { return strings(ConsentPurposes) }

// Valid reports whether p is a consent purpose.
func (p ConsentPurpose) Valid() bool { return slices.Contains(ConsentPurposes, p) }
