package auth

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Policy says when failures lock a key and for how long: from the
// Threshold-th failure on, each further failure locks for Base doubled per
// failure beyond the threshold, at most Max. Failures are forgotten after
// Forget without one.
type Policy struct {
	Threshold int
	Base, Max time.Duration
	Forget    time.Duration
}

// lockFor is how long the failures-th failure locks.
func (p Policy) lockFor(failures int) time.Duration {
	if failures < p.Threshold {
		return 0
	}
	d := p.Base
	for i := p.Threshold; i < failures && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// The limits of login, 2FA and reset: per account after 5 failures as
// required; per client address later, as many people may share one.
var (
	accountPolicy = Policy{Threshold: 5, Base: time.Minute, Max: time.Hour, Forget: 24 * time.Hour}
	addressPolicy = Policy{Threshold: 20, Base: time.Minute, Max: time.Hour, Forget: time.Hour}
)

// Throttle counts failures per key and locks keys that fail too often.
type Throttle interface {
	// Locked says how long key stays locked at now (0: not locked).
	Locked(ctx context.Context, key string, now time.Time) (time.Duration, error)
	// Fail records a failure and returns the failure count and the lock it
	// starts (0: none).
	Fail(ctx context.Context, key string, p Policy, now time.Time) (int, time.Duration, error)
	// Clear forgets key's failures after a success.
	Clear(ctx context.Context, key string) error
}

// MemoryThrottle is the embedded Throttle of one process.
type MemoryThrottle struct {
	mu   sync.Mutex
	keys map[string]*throttleState
}

type throttleState struct {
	failures int
	last     time.Time
	until    time.Time
}

// NewMemoryThrottle returns an empty in-process throttle.
func NewMemoryThrottle() *MemoryThrottle { return &MemoryThrottle{keys: map[string]*throttleState{}} }

func (m *MemoryThrottle) Locked(_ context.Context, key string, now time.Time) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.keys[key]; ok && now.Before(st.until) {
		return st.until.Sub(now), nil
	}
	return 0, nil
}

func (m *MemoryThrottle) Fail(_ context.Context, key string, p Policy, now time.Time) (int, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, st := range m.keys {
		if now.Sub(st.last) > p.Forget && !now.Before(st.until) {
			delete(m.keys, k)
		}
	}
	st, ok := m.keys[key]
	if !ok {
		st = &throttleState{}
		m.keys[key] = st
	}
	st.failures++
	st.last = now
	lock := p.lockFor(st.failures)
	if lock > 0 {
		st.until = now.Add(lock)
	}
	return st.failures, lock, nil
}

func (m *MemoryThrottle) Clear(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, key)
	return nil
}

// RedisThrottle shares the counts between all replicas. The lock's end is
// stored as a time rather than left to key expiry, so it follows the
// service's clock; expiry only collects old keys.
type RedisThrottle struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisThrottle keeps its keys under prefix.
func NewRedisThrottle(c redis.UniversalClient, prefix string) *RedisThrottle {
	return &RedisThrottle{c: c, prefix: prefix + "throttle:"}
}

func (r *RedisThrottle) Locked(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	v, err := r.c.Get(ctx, r.prefix+key+":until").Result()
	if err == redis.Nil {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("throttle: %w", err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("throttle: bad lock value: %w", err)
	}
	if until := time.UnixMilli(ms); now.Before(until) {
		return until.Sub(now), nil
	}
	return 0, nil
}

func (r *RedisThrottle) Fail(ctx context.Context, key string, p Policy, now time.Time) (int, time.Duration, error) {
	k := r.prefix + key
	pipe := r.c.TxPipeline()
	incr := pipe.Incr(ctx, k+":n")
	pipe.Expire(ctx, k+":n", p.Forget)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, 0, fmt.Errorf("throttle: %w", err)
	}
	n := int(incr.Val())
	lock := p.lockFor(n)
	if lock > 0 {
		if err := r.c.Set(ctx, k+":until", now.Add(lock).UnixMilli(), p.Forget+lock).Err(); err != nil {
			return n, 0, fmt.Errorf("throttle: %w", err)
		}
	}
	return n, lock, nil
}

func (r *RedisThrottle) Clear(ctx context.Context, key string) error {
	if err := r.c.Del(ctx, r.prefix+key+":n", r.prefix+key+":until").Err(); err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	return nil
}
