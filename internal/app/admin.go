package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/telemetry"
	"github.com/secondopinion/platform/internal/services/platform/audit"
	"github.com/secondopinion/platform/internal/services/platform/auth"
)

// CreateAdmin adds an admin user to the auth store from the shell. Its
// events stay in the auth outbox until the auth service next runs.
func CreateAdmin(ctx context.Context, cfg Config, email, password string, log *slog.Logger) (string, error) {
	db, err := OpenStore(ctx, cfg, auth.Name)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if err := auth.Migrate(ctx, db); err != nil {
		return "", fmt.Errorf("migrate auth store: %w", err)
	}
	b := inproc.New()
	defer b.Close()
	own, ok := cfg.Services[auth.Name].(*auth.Config)
	if !ok {
		return "", fmt.Errorf("auth's configuration was not loaded")
	}
	c := *own
	// Create only the admin asked for, not ADMIN_EMAIL's as serve does;
	// creating one sends no message, so notification is not needed.
	c.AdminEmail, c.AdminPassword = "", ""
	c.Mailer = shellMailer{}
	s, err := auth.New(c, service.Deps{
		Region: cfg.Region, DataDir: cfg.DataDir, DB: db, Bus: b, Metrics: telemetry.NewMetrics(), Log: log,
	})
	if err != nil {
		return "", fmt.Errorf("build auth: %w", err)
	}
	return s.CreateAdmin(ctx, email, password)
}

// shellMailer refuses to send: the shell's commands tell no one.
type shellMailer struct{}

func (shellMailer) Send(context.Context, auth.Message) error {
	return errors.New("the shell sends no messages")
}

// VerifyAudit recomputes the audit chain in the audit store and names the
// first broken entry.
func VerifyAudit(ctx context.Context, cfg Config) (audit.AuditVerification, error) {
	db, err := OpenStore(ctx, cfg, audit.Name)
	if err != nil {
		return audit.AuditVerification{}, err
	}
	defer db.Close()
	// A store that never ran is an empty, intact chain.
	if err := audit.Migrate(ctx, db); err != nil {
		return audit.AuditVerification{}, fmt.Errorf("migrate audit store: %w", err)
	}
	return audit.Verify(ctx, db)
}

// Rebuilder is a read model that can be rebuilt from the events it keeps
// (search, reporting).
type Rebuilder interface {
	Rebuild(ctx context.Context, progress func(done, total int64)) error
}

// Rebuild empties target's read model and replays its journal into it.
// The target is built as serve builds it, but not served: alone when each
// peer it calls has a URL, else with the whole platform in this process
// (the embedded mode), since a replay may ask its peers again.
func Rebuild(ctx context.Context, cfg Config, target string, log *slog.Logger, progress func(done, total int64)) error {
	t, ok := Lookup(target)
	if !ok || t.Name == Gateway {
		return fmt.Errorf("unknown service %q", target)
	}
	names := []string{target}
	if !peersRemote(cfg, t) {
		names = []string{All}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", target, err)
	}
	a, err := New(ctx, cfg, names, Options{Listener: ln, Log: log})
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", target, err)
	}
	defer a.Close()
	r, ok := a.local(target).svc.(Rebuilder)
	if !ok {
		return fmt.Errorf("%s has no read model to rebuild", target)
	}
	if err := r.Rebuild(ctx, progress); err != nil {
		return fmt.Errorf("rebuild %s: %w", target, err)
	}
	return nil
}

// peersRemote reports whether every peer t calls has a URL.
func peersRemote(cfg Config, t Target) bool {
	for _, r := range t.Requires {
		if cfg.ServiceURLs[r] == "" {
			return false
		}
	}
	return true
}
