package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Redis is the Store shared by every replica of a service.
type Redis struct{ c redis.UniversalClient }

// NewRedis stores records through c.
func NewRedis(c redis.UniversalClient) *Redis { return &Redis{c: c} }

func (s *Redis) Reserve(ctx context.Context, key string, rec Record) (Record, bool, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return Record{}, false, fmt.Errorf("reserve idempotency key: %w", err)
	}
	err = s.c.SetArgs(ctx, key, raw, redis.SetArgs{Mode: "NX", TTL: inFlightTTL}).Err()
	if err == nil {
		return Record{}, true, nil
	}
	if !errors.Is(err, redis.Nil) {
		return Record{}, false, fmt.Errorf("reserve idempotency key: %w", err)
	}
	prev, err := s.c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		// Expired between the two calls: try once more.
		return s.Reserve(ctx, key, rec)
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	var out Record
	if err := json.Unmarshal(prev, &out); err != nil {
		return Record{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	return out, false, nil
}

func (s *Redis) Complete(ctx context.Context, key string, rec Record) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if err := s.c.Set(ctx, key, raw, TTL).Err(); err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	return nil
}

func (s *Redis) Release(ctx context.Context, key, _ string) error {
	if err := s.c.Del(ctx, key).Err(); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}
