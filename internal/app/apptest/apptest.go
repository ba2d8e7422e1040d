// Package apptest helps tests that boot the whole platform.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// Database is a fresh PostgreSQL database at TEST_DATABASE_URL with every
// service's schema already migrated, for a platform the test boots: the
// platform's own migrations at start then find nothing to do.
func Database(t testing.TB) string {
	t.Helper()
	return testkit.MigratedDatabase(t, testkit.Env(t, "TEST_DATABASE_URL"), func(ctx context.Context, url string) error {
		env := map[string]string{"DATABASE_URL": url, "DATA_DIR": t.TempDir()}
		cfg, err := app.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			return err
		}
		return app.Migrate(ctx, cfg, []string{app.All}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	})
}
