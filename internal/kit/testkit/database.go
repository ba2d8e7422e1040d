package testkit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// FreshDatabase creates a database of its own on the PostgreSQL server at
// serverURL, drops it when the test ends, and returns its URL: a whole
// platform run gets its service schemas to itself.
func FreshDatabase(t testing.TB, serverURL string) string {
	t.Helper()
	return createDatabase(t, serverURL, "")
}

// createDatabase creates a database with options, drops it when the test
// ends, and returns its URL.
func createDatabase(t testing.TB, serverURL, options string) string {
	t.Helper()
	admin, err := sql.Open("pgx", serverURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+options); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return fmt.Sprint(u)
}

// MigratedDatabase is FreshDatabase with migrate's schemas already made: a
// clone of a template database that migrate fills once per test binary,
// since applying every service's migrations costs seconds each time a
// platform boots, and a clone a fraction of one. The template is named by
// the binary's hash, so a changed migration gets a template of its own;
// templates older than a day are dropped when a new one is made.
func MigratedDatabase(t testing.TB, serverURL string, migrate func(ctx context.Context, url string) error) string {
	t.Helper()
	tmpl, err := templateDatabase(serverURL, migrate)
	if err != nil {
		t.Fatalf("template database: %v", err)
	}
	return createDatabase(t, serverURL, " TEMPLATE "+tmpl)
}

var templates struct {
	sync.Mutex
	made map[string]string // server URL → template name
}

func templateDatabase(serverURL string, migrate func(ctx context.Context, url string) error) (string, error) {
	templates.Lock()
	defer templates.Unlock()
	if name, ok := templates.made[serverURL]; ok {
		return name, nil
	}
	if templates.made == nil {
		templates.made = map[string]string{}
	}
	key, err := binaryHash()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := sql.Open("pgx", serverURL)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	// Test binaries of several packages run at once on one server: one
	// makes a template while the others wait for it.
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(hashtext('testkit templates'))"); err != nil {
		return "", err
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(hashtext('testkit templates'))")
	var names []string
	rows, err := conn.QueryContext(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'tmpl\\_%'")
	if err != nil {
		return "", err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return "", err
		}
		names = append(names, n)
	}
	if err := rows.Close(); err != nil {
		return "", err
	}
	for _, n := range names {
		if strings.HasSuffix(n, "_"+key) {
			templates.made[serverURL] = n
			return n, nil
		}
	}
	for _, n := range names {
		if made, err := strconv.ParseInt(strings.Split(n, "_")[1], 10, 64); err == nil && time.Since(time.Unix(made, 0)) > 24*time.Hour {
			if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)"); err != nil {
				return "", fmt.Errorf("drop the old template %s: %w", n, err)
			}
		}
	}
	name := fmt.Sprintf("tmpl_%d_%s", time.Now().Unix(), key)
	building := "b" + name
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + building
	if err := migrate(ctx, u.String()); err != nil {
		_, _ = conn.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)")
		return "", fmt.Errorf("migrate: %w", err)
	}
	// A database is renamed, and copied, only once nobody is connected to
	// it: the server ends the migration's closed connections a moment
	// after they are closed.
	for try := 0; ; try++ {
		_, err := conn.ExecContext(ctx, "ALTER DATABASE "+building+" RENAME TO "+name)
		if err == nil {
			break
		}
		if try == 50 || !strings.Contains(err.Error(), "being accessed by other users") {
			return "", err
		}
		time.Sleep(100 * time.Millisecond)
	}
	templates.made[serverURL] = name
	return name, nil
}

// binaryHash names the running test binary's build.
func binaryHash() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
