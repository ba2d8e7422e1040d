package idempotency

import (
	"context"
	"time"
)

// SetClock makes m see time through now.
func (m *Memory) SetClock(now func() time.Time) { m.now = now }

// SetClock makes s see time through now.
func (s *SQL) SetClock(now func() time.Time) { s.now = now }

// SetLease shortens how long s's runs hold their keys unrenewed.
func (s *SQL) SetLease(d time.Duration) { s.lease = d }

// Lease is how long a run holds its key unrenewed.
const Lease = lease

// InFlightTTL is how long Memory and Redis keep a reservation.
const InFlightTTL = inFlightTTL

// Hold is the context a run that reserved key with token works under.
func Hold(s *SQL, ctx context.Context, key, token string) (context.Context, func()) {
	return s.hold(ctx, key, token)
}
