package idempotency

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Memory is an in-process Store, for tests and services wrapped without a
// store. Records do not survive a restart and are not shared by replicas:
// the app keeps them in the service's database (SQL) or in Redis.
type Memory struct {
	mu      sync.Mutex
	entries map[string]memEntry
	now     func() time.Time
}

type memEntry struct {
	rec     Record
	expires time.Time
}

// NewMemory returns an empty in-process store.
func NewMemory() *Memory {
	return &Memory{entries: map[string]memEntry{}, now: time.Now}
}

func (m *Memory) Reserve(_ context.Context, key string, rec Record) (Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	if e, ok := m.entries[key]; ok {
		return e.rec, false, nil
	}
	m.entries[key] = memEntry{rec: rec, expires: now.Add(inFlightTTL)}
	return Record{}, true, nil
}

func (m *Memory) Complete(_ context.Context, key string, rec Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; !ok || e.rec.Token != rec.Token {
		return fmt.Errorf("complete idempotency key: %w", errTakenOver)
	}
	m.entries[key] = memEntry{rec: rec, expires: m.now().Add(TTL)}
	return nil
}

func (m *Memory) Release(_ context.Context, key, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && e.rec.Token == token {
		delete(m.entries, key)
	}
	return nil
}

// sweep drops expired entries; called under the lock on every
// reservation, so memory stays bounded by the traffic of one TTL.
func (m *Memory) sweep(now time.Time) {
	for k, e := range m.entries {
		if now.After(e.expires) {
			delete(m.entries, k)
		}
	}
}
