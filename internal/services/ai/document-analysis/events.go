package documentanalysis

import (
	"context"
	"database/sql"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
)

// subscriptions forget analyses whose record is gone: deleted by its
// patient, or erased with its case.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.DocumentDeletedV1, (*Service).onDocumentDeleted),
	outbox.Handle(events.CaseErasedV1, (*Service).onCaseErased),
}

func (s *Service) onDocumentDeleted(ctx context.Context, tx *sql.Tx, _ bus.Event, p events.DocumentChanged) error {
	return s.store.DeleteDocument(ctx, tx, p.DocumentID)
}

func (s *Service) onCaseErased(ctx context.Context, tx *sql.Tx, _ bus.Event, p events.CaseErased) error {
	return s.store.DeleteCase(ctx, tx, p.CaseID)
}
