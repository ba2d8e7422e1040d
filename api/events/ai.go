package events

import (
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
)

// The AI domain's producers: ai-orchestration the events case-management
// follows, ai-providers one per request to a provider, ai-usage the price
// of each request and the budget alerts.
const (
	AIOrchestration = "ai-orchestration"
	AIProviders     = "ai-providers"
	AIUsage         = "ai-usage"
)

// AnalysisProgress is ai.analysis.started and ai.analysis.completed: the
// pre-analysis of a case's documents began or is ready.
type AnalysisProgress struct {
	CaseID       string `json:"caseId" format:"uuid"`
	ProcessingID string `json:"processingId" format:"uuid"`
	// Outcome tells, on ai.analysis.completed, whether the case has a
	// pre-analysis or goes on without one (SKIPPED: no AI_PROCESSING
	// consent, or an admin sent it on from triage). Either way it enters
	// the pool.
	Outcome   string    `json:"outcome,omitempty" enum:"COMPLETED,SKIPPED" doc:"on ai.analysis.completed only"`
	Timestamp time.Time `json:"timestamp"`
}

// CaseOrphaned is case.orphaned: automatic processing gave up on a case,
// which now waits for manual triage — never silently dropped.
type CaseOrphaned struct {
	CaseID    string    `json:"caseId" format:"uuid"`
	Reason    string    `json:"reason"`
	Timestamp time.Time `json:"timestamp"`
}

// AIRequest is ai.request.completed and ai.request.failed: one request to
// an AI provider, what it used and how long it took. Ids and counts only:
// never a prompt or an answer.
type AIRequest struct {
	RequestID    string    `json:"requestId" format:"uuid"`
	CaseID       string    `json:"caseId,omitempty" format:"uuid" doc:"the case the request was for; absent for none"`
	Provider     string    `json:"provider" example:"openai"`
	Model        string    `json:"model" example:"gpt-4o-mini"`
	InputTokens  int64     `json:"inputTokens" minimum:"0"`
	OutputTokens int64     `json:"outputTokens" minimum:"0"`
	LatencyMs    int64     `json:"latencyMs" minimum:"0"`
	Error        string    `json:"error,omitempty" doc:"for a failed request, the kind of failure, e.g. RATE_LIMITED, TIMEOUT, MALFORMED_ANSWER"`
	Timestamp    time.Time `json:"timestamp"`
}

// AIRequestPriced is ai.request.priced: what ai-usage, which owns the
// prices, charged one ai.request.completed or ai.request.failed, once per
// request. The cost is in millionths of a US dollar. Ids and amounts only.
type AIRequestPriced struct {
	RequestID  string    `json:"requestId" format:"uuid"`
	CaseID     string    `json:"caseId,omitempty" format:"uuid" doc:"the case the request was for; absent for none"`
	Provider   string    `json:"provider" example:"openai"`
	Model      string    `json:"model" example:"gpt-4o-mini"`
	CostMicros int64     `json:"costMicros" minimum:"0" doc:"millionths of a US dollar; 0 when the model has no price"`
	Priced     bool      `json:"priced" doc:"false when the model has no price: the cost is then 0, not known"`
	Failed     bool      `json:"failed" doc:"the request is an ai.request.failed"`
	Timestamp  time.Time `json:"timestamp" doc:"the request's time, as the request's event gives it"`
}

// BudgetExceeded is ai.budget.exceeded: the AI spending of a month reached
// a budget, for all providers (scope "total") or one provider. Amounts are
// in millionths of a US dollar.
type BudgetExceeded struct {
	Month       string    `json:"month" pattern:"^[0-9]{4}-[0-9]{2}$" example:"2026-12"`
	Scope       string    `json:"scope" example:"total" doc:"total for all providers, else the provider whose budget it is"`
	LimitMicros int64     `json:"limitMicros" minimum:"0"`
	SpentMicros int64     `json:"spentMicros" minimum:"0"`
	Timestamp   time.Time `json:"timestamp"`
}

var (
	RequestCompletedV1 = bus.Contract[AIRequest]{Type: "ai.request.completed", Version: 1, Producer: AIProviders,
		Summary: "An AI provider answered a request."}
	RequestFailedV1 = bus.Contract[AIRequest]{Type: "ai.request.failed", Version: 1, Producer: AIProviders,
		Summary: "A request to an AI provider failed."}
	RequestPricedV1 = bus.Contract[AIRequestPriced]{Type: "ai.request.priced", Version: 1, Producer: AIUsage,
		Summary: "ai-usage priced a request to an AI provider."}
	BudgetExceededV1 = bus.Contract[BudgetExceeded]{Type: "ai.budget.exceeded", Version: 1, Producer: AIUsage,
		Summary: "A monthly AI budget is spent: the router falls back to the local provider."}
)

var (
	AnalysisStartedV1 = bus.Contract[AnalysisProgress]{Type: "ai.analysis.started", Version: 1, Producer: AIOrchestration,
		Summary: "The AI pre-analysis of a case started."}
	AnalysisCompletedV1 = bus.Contract[AnalysisProgress]{Type: "ai.analysis.completed", Version: 1, Producer: AIOrchestration,
		Summary: "The AI pre-analysis of a case is ready: the case enters the pool."}
	CaseOrphanedV1 = bus.Contract[CaseOrphaned]{Type: "case.orphaned", Version: 1, Producer: AIOrchestration,
		Summary: "Automatic processing gave up on a case: manual triage owns it."}
)
