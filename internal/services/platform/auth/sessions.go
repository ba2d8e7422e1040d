package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/services/platform/auth/store"
)

// IdleTimeout ends a session nobody used for this long (automatic logoff).
const IdleTimeout = 15 * time.Minute

// Session is a login: the family of its refresh tokens and what its access
// tokens name as sid.
type Session struct {
	ID       string
	UserID   string
	Role     authn.Role
	LastSeen time.Time
}

// ErrSessionEnded says the session was logged out, revoked or idle too long.
var ErrSessionEnded = errors.New("session ended")

// Sessions keeps login sessions.
type Sessions interface {
	Start(ctx context.Context, s Session) error
	// Touch marks the session used at now; ErrSessionEnded if it is over,
	// including when it was idle for more than IdleTimeout.
	Touch(ctx context.Context, id string, now time.Time) (Session, error)
	End(ctx context.Context, id string) error
}

// storeSessions keeps sessions in the service's own store (embedded mode).
type storeSessions struct{ st *store.Store }

func (s storeSessions) Start(ctx context.Context, se Session) error {
	return s.st.StartSession(ctx, store.Session{ID: se.ID, UserID: se.UserID, Role: string(se.Role), LastSeen: se.LastSeen})
}

func (s storeSessions) Touch(ctx context.Context, id string, now time.Time) (Session, error) {
	se, err := s.st.TouchSession(ctx, id, now, IdleTimeout)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrSessionEnded
	}
	if err != nil {
		return Session{}, err
	}
	return Session{ID: se.ID, UserID: se.UserID, Role: authn.Role(se.Role), LastSeen: se.LastSeen}, nil
}

func (s storeSessions) End(ctx context.Context, id string) error { return s.st.EndSession(ctx, id) }

// RedisSessions keeps sessions in Redis so that every replica sees them.
// The last use is stored as a time and compared with the service's clock;
// the key's expiry only collects sessions nobody touches any more.
type RedisSessions struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisSessions keeps its keys under prefix.
func NewRedisSessions(c redis.UniversalClient, prefix string) *RedisSessions {
	return &RedisSessions{c: c, prefix: prefix + "session:"}
}

func (r *RedisSessions) Start(ctx context.Context, s Session) error {
	k := r.prefix + s.ID
	pipe := r.c.TxPipeline()
	pipe.HSet(ctx, k, "user", s.UserID, "role", string(s.Role), "seen", s.LastSeen.UnixMilli())
	pipe.Expire(ctx, k, IdleTimeout+time.Minute)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("start session %s: %w", s.ID, err)
	}
	return nil
}

// touchScript updates the last use only if the session exists and was not
// idle too long, atomically, so a concurrent End is never undone.
var touchScript = redis.NewScript(`
local seen = redis.call('HGET', KEYS[1], 'seen')
if not seen then return false end
if tonumber(ARGV[1]) - tonumber(seen) > tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('HMGET', KEYS[1], 'user', 'role')
`)

func (r *RedisSessions) Touch(ctx context.Context, id string, now time.Time) (Session, error) {
	res, err := touchScript.Run(ctx, r.c, []string{r.prefix + id},
		now.UnixMilli(), IdleTimeout.Milliseconds(), (IdleTimeout + time.Minute).Milliseconds()).Slice()
	if err == redis.Nil {
		return Session{}, ErrSessionEnded
	}
	if err != nil {
		return Session{}, fmt.Errorf("touch session %s: %w", id, err)
	}
	if len(res) != 2 {
		return Session{}, fmt.Errorf("touch session %s: unexpected reply", id)
	}
	user, _ := res[0].(string)
	role, _ := res[1].(string)
	return Session{ID: id, UserID: user, Role: authn.Role(role), LastSeen: time.UnixMilli(now.UnixMilli()).UTC()}, nil
}

func (r *RedisSessions) End(ctx context.Context, id string) error {
	if err := r.c.Del(ctx, r.prefix+id).Err(); err != nil {
		return fmt.Errorf("end session %s: %w", id, err)
	}
	return nil
}
