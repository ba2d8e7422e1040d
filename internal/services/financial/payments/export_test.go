package payments

import (
	"context"
	"fmt"
)

// DriveRefund asks the provider for refund id and records the answer, as
// the recovery loop does, whatever the refund's state.
func (s *Service) DriveRefund(ctx context.Context, paymentID, id string) error {
	refunds, err := s.store.Refunds(ctx, s.DB, paymentID)
	if err != nil {
		return err
	}
	for _, r := range refunds {
		if r.ID == id {
			return s.driveRefund(ctx, r)
		}
	}
	return fmt.Errorf("no refund %s", id)
}
