package events

import (
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
)

// AIOrchestration produces the AI domain's events case-management follows.
const AIOrchestration = "ai-orchestration"

// AnalysisProgress is ai.analysis.started and ai.analysis.completed: the
// pre-analysis of a case's documents began or is ready.
type AnalysisProgress struct {
	CaseID       string    `json:"caseId" format:"uuid"`
	ProcessingID string    `json:"processingId" format:"uuid"`
	Timestamp    time.Time `json:"timestamp"`
}

// CaseOrphaned is case.orphaned: automatic processing gave up on a case,
// which now waits for manual triage — never silently dropped.
type CaseOrphaned struct {
	CaseID    string    `json:"caseId" format:"uuid"`
	Reason    string    `json:"reason"`
	Timestamp time.Time `json:"timestamp"`
}

var (
	AnalysisStartedV1 = bus.Contract[AnalysisProgress]{Type: "ai.analysis.started", Version: 1, Producer: AIOrchestration,
		Summary: "The AI pre-analysis of a case started."}
	AnalysisCompletedV1 = bus.Contract[AnalysisProgress]{Type: "ai.analysis.completed", Version: 1, Producer: AIOrchestration,
		Summary: "The AI pre-analysis of a case is ready: the case enters the pool."}
	CaseOrphanedV1 = bus.Contract[CaseOrphaned]{Type: "case.orphaned", Version: 1, Producer: AIOrchestration,
		Summary: "Automatic processing gave up on a case: manual triage owns it."}
)
