// Package testkit holds test helpers shared by every service: fresh stores
// on both engines, and the switch that turns a missing integration service
// into a failure in CI instead of a skip.
package testkit

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// RequireServicesEnv, when "1", makes a missing TEST_* service URL fail the
// test instead of skipping it. .ci/run sets it.
const RequireServicesEnv = "TEST_REQUIRE_SERVICES"

// Env returns the value of an integration-service variable such as
// TEST_DATABASE_URL. Unset, it skips the test — or fails it when
// TEST_REQUIRE_SERVICES=1.
func Env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv(RequireServicesEnv) == "1" {
		t.Fatalf("%s is not set but %s=1: the integration service is required", name, RequireServicesEnv)
	}
	t.Skipf("%s not set", name)
	return ""
}

// Engines lists the engines to run a contract suite on: SQLite always,
// PostgreSQL when TEST_DATABASE_URL is set (required under
// TEST_REQUIRE_SERVICES=1).
func Engines(t testing.TB) []sqldb.Engine {
	t.Helper()
	if os.Getenv("TEST_DATABASE_URL") == "" {
		if os.Getenv(RequireServicesEnv) == "1" {
			t.Fatalf("TEST_DATABASE_URL is not set but %s=1", RequireServicesEnv)
		}
		return []sqldb.Engine{sqldb.SQLite}
	}
	return []sqldb.Engine{sqldb.SQLite, sqldb.Postgres}
}

// ForEachEngine runs fn as a subtest per engine with a fresh, empty store
// of the named service.
func ForEachEngine(t *testing.T, service string, fn func(t *testing.T, db *sqldb.DB)) {
	for _, e := range Engines(t) {
		t.Run(string(e), func(t *testing.T) { fn(t, OpenDB(t, e, service)) })
	}
}

// OpenDB opens a fresh store for service: a SQLite file in a temporary
// folder, or a PostgreSQL schema of its own that is dropped afterwards.
func OpenDB(t testing.TB, e sqldb.Engine, service string) *sqldb.DB {
	t.Helper()
	o := StoreOptions(t, e, service)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, o)
	if err != nil {
		t.Fatalf("open %s store: %v", e, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// StoreOptions returns options for a fresh store of service on engine e:
// a temporary data folder for SQLite, a unique schema (dropped when the
// test ends) for PostgreSQL.
func StoreOptions(t testing.TB, e sqldb.Engine, service string) sqldb.Options {
	t.Helper()
	if e == sqldb.SQLite {
		return sqldb.Options{Service: service, DataDir: t.TempDir()}
	}
	url := Env(t, "TEST_DATABASE_URL")
	schema := fmt.Sprintf("t_%s_%s", sqldb.SchemaFor(service), strings.ReplaceAll(uuid.NewString()[:8], "-", ""))
	t.Cleanup(func() { DropSchema(t, url, schema) })
	return sqldb.Options{Service: service, URL: url, Schema: schema}
}

// DropSchema removes a test schema and everything in it.
func DropSchema(t testing.TB, url, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, sqldb.Options{Service: "testkit", URL: url, Schema: schema, MaxConns: 1})
	if err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
	}
}
