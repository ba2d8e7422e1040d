package idempotency

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// A record keeps the answer it replays for TTL, and an answer may carry
// a person's data. When a person is erased, their service forgets the
// records of the calls they made (the key names them as the caller) and
// those whose answer names them — a registration's, made before its
// caller had an identity, or a professional's answer about their case.

// ForgetSQL deletes, within tx of a service's store on engine, every
// record made by one of ids or whose answer contains one of them. ids are
// UUIDs, but any LIKE wildcard in one is matched as itself: an id of "%"
// must not forget every record.
func ForgetSQL(ctx context.Context, tx *sql.Tx, engine sqldb.Engine, ids ...string) error {
	contains := `instr(body, CAST($2 AS BLOB)) > 0`
	if engine == sqldb.Postgres {
		contains = `position(convert_to($2, 'UTF8') in body) > 0`
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE key LIKE $1 ESCAPE '!' OR `+contains,
			"idem:%:%:"+likeLiteral.Replace(id)+":%", id); err != nil {
			return fmt.Errorf("forget idempotency records of %s: %w", id, err)
		}
	}
	return nil
}

// likeLiteral escapes a string to match itself in a LIKE pattern whose
// escape character is '!'.
var likeLiteral = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// Forget deletes service's records made by one of ids or whose answer
// contains one of them. It scans the service's keys, which expire within
// TTL: an erasure is rare, and no index of answers by content exists.
func (s *Redis) Forget(ctx context.Context, service string, ids ...string) error {
	iter := s.c.Scan(ctx, 0, "idem:"+service+":*", 500).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		raw, err := s.c.Get(ctx, key).Bytes()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			return fmt.Errorf("forget idempotency records: %w", err)
		}
		// The record keeps its answer's body base64-encoded: look for ids
		// in the decoded body, and in the rest of the record as stored.
		var rec Record
		_ = json.Unmarshal(raw, &rec)
		for _, id := range ids {
			if id != "" && (strings.Contains(key, ":"+id+":") || bytes.Contains(rec.Body, []byte(id)) || bytes.Contains(raw, []byte(id))) {
				if err := s.c.Del(ctx, key).Err(); err != nil {
					return fmt.Errorf("forget idempotency records: %w", err)
				}
				break
			}
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("forget idempotency records: %w", err)
	}
	return nil
}
