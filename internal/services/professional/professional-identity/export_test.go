package professionalidentity

import (
	"context"

	"github.com/secondopinion/platform/internal/kit/bus"
)

// Handle lets the tests deliver an event as the bus would.
func Handle(s *Service, ctx context.Context, e bus.Event) error { return s.consumer.Handle(ctx, e) }
