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

// complete and release act only on the record of the run that reserved
// the key (its token), atomically: a run whose reservation lapsed and was
// taken over must not overwrite or drop its successor's.
var (
	complete = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur or cjson.decode(cur)['token'] ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`)
	release = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur)['token'] == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`)
)

func (s *Redis) Complete(ctx context.Context, key string, rec Record) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	done, err := complete.Run(ctx, s.c, []string{key}, rec.Token, raw, TTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if done == 0 {
		return fmt.Errorf("complete idempotency key: %w", errTakenOver)
	}
	return nil
}

func (s *Redis) Release(ctx context.Context, key, token string) error {
	if err := release.Run(ctx, s.c, []string{key}, token).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}
