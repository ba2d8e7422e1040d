package domain

import (
	"strings"
	"time"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// Follow-up rules: a patient may ask up to MaxQuestions questions about an
// approved opinion, within QuestionWindow after its approval.
const (
	MaxQuestions   = 3
	QuestionWindow = 30 * 24 * time.Hour
	MaxQuestion    = 2000
	MaxFollowUp    = 5000 // an answer
)

// MayAsk decides whether a patient may ask another follow-up question at
// now about an opinion in status s approved at approvedAt, with asked
// questions so far. The question is returned trimmed.
func MayAsk(s Status, approvedAt time.Time, asked int, now time.Time, question string) (string, error) {
	question = strings.TrimSpace(question)
	if err := required("question", question, MaxQuestion); err != nil {
		return "", err
	}
	switch {
	case s != Approved:
		return "", fault.NotFound("opinion")
	case now.After(approvedAt.Add(QuestionWindow)):
		return "", fault.Conflict("Follow-up window closed", "questions are taken for 30 days after the opinion's approval")
	case asked >= MaxQuestions:
		return "", fault.Conflict("Follow-up limit reached", "at most 3 questions per opinion")
	}
	return question, nil
}

// AnswerText validates the author's answer to a follow-up question not
// answered yet, and returns it trimmed.
func AnswerText(answer string, answered bool) (string, error) {
	answer = strings.TrimSpace(answer)
	if err := required("answer", answer, MaxFollowUp); err != nil {
		return "", err
	}
	if answered {
		return "", fault.Conflict("Question already answered", "a follow-up question is answered once")
	}
	return answer, nil
}
