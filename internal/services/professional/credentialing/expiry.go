package credentialing

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/services/professional/credentialing/domain"
)

// watchExpiry runs the expiry check at once and then every interval until
// ctx ends. A failed check is logged and tried again at the next tick.
func (s *Service) watchExpiry(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := s.checkExpiry(ctx); err != nil && ctx.Err() == nil {
			s.Log.ErrorContext(ctx, "expiry check failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkExpiry marks the credentials past their expiry EXPIRED and
// suspends the professionals left without a valid licence, in one
// transaction with the events. It is safe with several replicas checking
// at once: the conditional updates let exactly one of them expire each
// credential, and only that one re-decides (and publishes) the standing of
// its professional. It returns how many professionals it suspended.
func (s *Service) checkExpiry(ctx context.Context) (int, error) {
	now := s.now()
	suspended := 0
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		suspended = 0
		ids, err := s.store.Expire(ctx, tx, now)
		if err != nil {
			return err
		}
		// ids are sorted: replicas lock professionals in one order.
		for _, id := range ids {
			typ, err := s.restand(ctx, tx, id, now)
			if err != nil {
				return err
			}
			if typ == domain.EventSuspended {
				suspended++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("expiry check: %w", err)
	}
	if suspended > 0 {
		s.Relay.Notify()
		s.Log.InfoContext(ctx, "expiry check suspended professionals", "count", suspended)
	}
	return suspended, nil
}
