package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/platform/audit"
	auditstore "github.com/secondopinion/platform/internal/services/platform/audit/store"
)

// runMainEnv makes the test binary run main itself, so that a test sees
// what a shell or a cron job would: the exit status and the message.
const runMainEnv = "SECONDOPINION_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// command runs the binary's main in a child process with args and with
// env as its whole environment, and returns its output and exit status.
func command(t *testing.T, env map[string]string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = []string{runMainEnv + "=1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if _, exited := errors.AsType[*exec.ExitError](err); err != nil && !exited {
		t.Fatalf("run %v: %v", args, err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// execute runs the command line in process with env as the environment.
func execute(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	root := newRoot(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

func TestTargets(t *testing.T) {
	out, err := execute(t, nil, "targets")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 23 {
		t.Fatalf("%d lines, want a header and 22 targets:\n%s", len(lines), out)
	}
	for _, want := range [][]string{
		{"NAME", "DOMAIN", "REQUIRES"},
		{"patient-identity", "patient", "auth,patient-consent,case-management,medical-records,medical-opinion,audit"},
		{"auth", "platform", "notification"},
		{"case-management", "patient", "patient-identity,medical-records"},
		{"medical-records", "patient", "case-management,case-assignment"},
		{"payments", "financial", "pricing,case-management"},
		{"notification", "platform", "patient-identity,professional-identity"},
		{"search", "platform", "case-management"},
		{"gateway", "edge", "(every", "service)"},
	} {
		found := false
		for _, l := range lines {
			if strings.Join(strings.Fields(l), " ") == strings.Join(want, " ") {
				found = true
			}
		}
		if !found {
			t.Errorf("no line %v in\n%s", want, out)
		}
	}
}

func TestConfigIsRedacted(t *testing.T) {
	out, err := execute(t, map[string]string{
		"DATABASE_URL": "postgres://app:hunter2@db:5432/so",
		"REDIS_URL":    "redis://:hunter2@redis:6379/0",
		"REGION":       "EU",
	}, "config", "--region", "US", "--service-url", "patient-identity=http://pi:8080")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "hunter2") {
		t.Fatalf("a secret is printed:\n%s", out)
	}
	for _, want := range []string{
		"DATABASE_URL=postgres://app:xxxxx@db:5432/so\n",
		"REDIS_URL=redis://:xxxxx@redis:6379/0\n",
		"REGION=US\n", // the flag wins over the environment
		"PATIENT_IDENTITY_SERVICE_URL=http://pi:8080\n",
		"LISTEN=:8080\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config lacks %q:\n%s", want, out)
		}
	}
}

func TestVersion(t *testing.T) {
	out, err := execute(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "secondopinion ") || !strings.Contains(out, "go1.") {
		t.Fatalf("%q, %v", out, err)
	}
}

func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"REGION": "eu1"}, []string{"serve"}, `REGION: must be 2–3 upper-case letters, got "eu1"`},
		{map[string]string{"REGION": "eu1"}, nil, `REGION: must be 2–3 upper-case letters`},
		{nil, []string{"config", "--log-level", "loud"}, "LOG_LEVEL: must be debug, info, warn or error"},
		{map[string]string{"DATA_DIR": "/nonexistent"}, []string{"serve", "--target", "billing"}, `unknown target "billing"`},
		{nil, []string{"config", "--service-url", "billing=http://b"}, `--service-url: unknown target "billing"`},
		{map[string]string{"KAFKA_BROKERS": "k:9092", "NATS_URL": "nats://n:4222"}, []string{"migrate"}, "choose one event bus"},
	} {
		_, err := execute(t, tc.env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want %q", tc.env, tc.args, err, tc.want)
		}
	}
}

func TestDeadLetters(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir()}
	if _, err := execute(t, env, "migrate", "--target", "case-management"); err != nil {
		t.Fatal(err)
	}
	cfg, err := app.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	db, err := app.OpenStore(t.Context(), cfg, "case-management")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A consumer that gives up at the first failure parks the event dead.
	c := outbox.NewConsumer(db, "case-management", map[string]outbox.HandlerFunc{
		"payment.succeeded": func(context.Context, *sql.Tx, bus.Event) error { return errors.New("boom") },
	}, outbox.ConsumerOptions{MaxAttempts: 1})
	e, err := bus.New("payments", "payment.succeeded", uuid.NewString(), map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Handle(t.Context(), e); err != nil {
		t.Fatal(err)
	}

	out, err := execute(t, env, "deadletters", "list", "--target", "case-management")
	if err != nil || !strings.Contains(out, e.ID) || !strings.Contains(out, "payment.succeeded") || !strings.Contains(out, "boom") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err = execute(t, env, "deadletters", "replay", "--target", "case-management", "--event", e.ID); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if out, _ = execute(t, env, "deadletters", "list", "--target", "case-management"); strings.Contains(out, e.ID) {
		t.Fatalf("still dead after replay:\n%s", out)
	}
	if _, err = execute(t, env, "deadletters", "replay", "--target", "case-management", "--event", e.ID); err == nil {
		t.Fatal("replaying an event that is not dead succeeded")
	}
	if _, err = execute(t, env, "deadletters", "list", "--target", "gateway"); err == nil || !strings.Contains(err.Error(), "one service with a store") {
		t.Fatalf("gateway: %v", err)
	}
}

func TestAdminCreateAndAuditVerify(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir()}
	create := func(password string) (string, error) {
		root := newRoot(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetIn(strings.NewReader(password + "\n"))
		root.SetArgs([]string{"admin", "create", "--email", "root@example.org"})
		err := root.ExecuteContext(t.Context())
		return out.String(), err
	}
	out, err := create("a long admin passphrase")
	if err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("admin create: %q %v", out, err)
	}
	if strings.Contains(out, "passphrase") {
		t.Fatalf("password echoed: %q", out)
	}
	if _, err := create("short"); err == nil {
		t.Fatal("a short password was accepted")
	}
	out, err = execute(t, env, "audit", "verify")
	if err != nil || !strings.Contains(out, "ok: 0 entries") {
		t.Fatalf("audit verify: %q %v", out, err)
	}
}

// A broken chain fails `audit verify` with a non-zero exit status and the
// first broken entry named, whichever way it was broken.
func TestAuditVerifyFailsOnABrokenChain(t *testing.T) {
	for _, tc := range []struct {
		name, tamper, want string
	}{
		{"edited", `UPDATE audit_entries SET action = 'case.list' WHERE seq = 2`, "audit chain broken at entry 2 of 3"},
		{"tail deleted", `DELETE FROM audit_entries WHERE seq = 3`, "audit chain broken at entry 3 of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir()}
			cfg, err := app.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			db, err := app.OpenStore(t.Context(), cfg, audit.Name)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := audit.Migrate(t.Context(), db); err != nil {
				t.Fatal(err)
			}
			s := auditstore.New(db)
			for range 3 {
				if err := db.InTx(t.Context(), func(tx *sql.Tx) error {
					_, _, err := s.Append(t.Context(), tx, auditstore.Entry{Action: "case.read", SourceEventID: uuid.NewString()})
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			if out, code := command(t, env, "audit", "verify"); code != 0 || !strings.Contains(out, "ok: 3 entries") {
				t.Fatalf("intact chain: exit %d, %q", code, out)
			}
			// Whoever can write the store's file can drop the triggers
			// that keep the table append-only.
			for _, q := range []string{`DROP TRIGGER audit_entries_no_update`, `DROP TRIGGER audit_entries_no_delete`, tc.tamper} {
				if _, err := db.ExecContext(t.Context(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			out, code := command(t, env, "audit", "verify")
			if code == 0 || !strings.Contains(out, tc.want) {
				t.Fatalf("broken chain: exit %d, %q; want a non-zero exit and %q", code, out, tc.want)
			}
		})
	}
}

// The published documents print as `make generate` writes them.
func TestDocuments(t *testing.T) {
	for cmd, want := range map[string][]string{
		"openapi":  {`"openapi": "3.1.0"`, `"/api/v1/cases"`, `"bearerAuth"`},
		"asyncapi": {`"asyncapi": "3.0.0"`, `"case.created"`, `"case-assignment.receive"`},
	} {
		out, err := execute(t, nil, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s lacks %s", cmd, w)
			}
		}
	}
}
