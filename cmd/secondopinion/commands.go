package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/kit/logging"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// envFlags are the flags that override an environment variable of the
// same meaning; config.Load validates both alike.
var envFlags = []struct{ flag, env, usage string }{
	{"listen", "LISTEN", "host:port to serve on (overrides PORT)"},
	{"data-dir", "DATA_DIR", "folder of the embedded SQLite stores"},
	{"database-url", "DATABASE_URL", "PostgreSQL URL for every service's store (one schema each)"},
	{"redis-url", "REDIS_URL", "Redis URL"},
	{"kafka-brokers", "KAFKA_BROKERS", "comma-separated Kafka brokers (event bus)"},
	{"nats-url", "NATS_URL", "NATS JetStream URL (event bus)"},
	{"region", "REGION", "region code prefixing case numbers, e.g. EU"},
	{"service-name", "SERVICE_NAME", "service name in traces"},
	{"legacy-monolith-url", "LEGACY_MONOLITH_URL", "the v1 monolith taking unrouted /api/ requests"},
	{"otel-exporter-otlp-endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTLP/HTTP endpoint to export traces to"},
	{"log-level", "LOG_LEVEL", "debug, info, warn or error"},
	{"shutdown-timeout", "SHUTDOWN_TIMEOUT", "bound on graceful shutdown, e.g. 30s"},
	{"cors-allowed-origins", "CORS_ALLOWED_ORIGINS", "comma-separated origins allowed to call the API"},
}

// overrides turns the flags given on the command line into an environment
// lookup that prefers them.
type overrides struct {
	getenv      func(string) (string, bool)
	dbURLs      map[string]string
	serviceURLs map[string]string
}

func (o *overrides) register(root *cobra.Command) {
	fs := root.PersistentFlags()
	for _, f := range envFlags {
		fs.String(f.flag, "", f.usage+" ($"+f.env+")")
	}
	fs.StringToStringVar(&o.dbURLs, "service-database-url", nil, "TARGET=URL: a service's own PostgreSQL ($<TARGET>_DATABASE_URL)")
	fs.StringToStringVar(&o.serviceURLs, "service-url", nil, "TARGET=URL: a peer in another process ($<TARGET>_SERVICE_URL)")
}

// load reads the configuration of cmd: flags first, then the environment.
func (o *overrides) load(cmd *cobra.Command) (app.Config, error) {
	set := map[string]string{}
	for _, f := range envFlags {
		if fl := cmd.Flags().Lookup(f.flag); fl != nil && fl.Changed {
			set[f.env] = fl.Value.String()
		}
	}
	for flag, m := range map[string]map[string]string{"--service-database-url": o.dbURLs, "--service-url": o.serviceURLs} {
		for target, v := range m {
			if _, ok := app.Lookup(target); !ok {
				return app.Config{}, fmt.Errorf("%s: unknown target %q", flag, target)
			}
			if flag == "--service-url" {
				set[app.ServiceURLVar(target)] = v
			} else {
				set[app.DatabaseURLVar(target)] = v
			}
		}
	}
	return app.LoadConfig(func(k string) (string, bool) {
		if v, ok := set[k]; ok {
			return v, true
		}
		return o.getenv(k)
	})
}

func newRoot(getenv func(string) (string, bool)) *cobra.Command {
	o := &overrides{getenv: getenv}
	serve := serveCommand(o)
	root := &cobra.Command{
		Use:           "secondopinion",
		Short:         "Second Opinion platform: every service and the gateway in one binary",
		Long:          "Second Opinion platform: every service and the gateway in one binary.\nWithout a command it serves (see serve).",
		Args:          cobra.NoArgs,
		RunE:          serve.RunE,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	serveFlags(root)
	o.register(root)
	root.AddCommand(serve, migrateCommand(o), targetsCommand(), configCommand(o), versionCommand(), deadLettersCommand(o),
		adminCommand(o), auditCommand(o), readModelCommand(o, "search", "the full-text index of cases"),
		readModelCommand(o, "reporting", "the KPIs"), readModelCommand(o, "notification", "who is told of a case"),
		documentCommand("openapi", "the merged OpenAPI document of the public API", app.OpenAPIDocument),
		documentCommand("asyncapi", "the AsyncAPI document of the platform's events", app.AsyncAPIDocument),
		documentCommand("topology", "the distributed deployment: every target's process, peers, callers and variables", app.TopologyDocument))
	return root
}

func serveFlags(cmd *cobra.Command) {
	cmd.Flags().String("target", app.All, "comma-separated targets to serve, or all")
	cmd.Flags().Bool("migrate", true, "apply migrations before serving")
}

func serveCommand(o *overrides) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve targets (the default command)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load(cmd)
			if err != nil {
				return err
			}
			target, _ := cmd.Flags().GetString("target")
			migrate, _ := cmd.Flags().GetBool("migrate")
			// The middleware logs through slog's default logger.
			log := logging.New(cmd.ErrOrStderr(), cfg.LogLevel.Level)
			slog.SetDefault(log)
			return app.Run(cmd.Context(), cfg, []string{target}, app.Options{SkipMigrations: !migrate, Log: log})
		},
	}
	serveFlags(cmd)
	return cmd
}

func migrateCommand(o *overrides) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the targets' migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load(cmd)
			if err != nil {
				return err
			}
			target, _ := cmd.Flags().GetString("target")
			return app.Migrate(cmd.Context(), cfg, []string{target}, logging.New(cmd.ErrOrStderr(), cfg.LogLevel.Level))
		},
	}
	cmd.Flags().String("target", app.All, "comma-separated targets, or all")
	return cmd
}

func targetsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "targets",
		Short: "List every target: its domain and synchronous dependencies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tDOMAIN\tREQUIRES")
			for _, t := range app.Targets() {
				requires := strings.Join(t.Requires, ",")
				switch {
				case t.Name == app.Gateway:
					requires = "(every service)"
				case requires == "":
					requires = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", t.Name, t.Domain, requires)
			}
			return w.Flush()
		},
	}
}

func configCommand(o *overrides) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration, secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load(cmd)
			if err != nil {
				return err
			}
			for _, s := range cfg.Settings() {
				fmt.Fprintf(cmd.OutOrStdout(), "%s=%s\n", s.Name, s.Value)
			}
			return nil
		},
	}
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the build's version and VCS revision",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), version())
			return nil
		},
	}
}

func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "secondopinion (no build information)"
	}
	s := "secondopinion " + info.Main.Version
	vcs := map[string]string{}
	for _, kv := range info.Settings {
		vcs[kv.Key] = kv.Value
	}
	if rev := vcs["vcs.revision"]; rev != "" {
		s += " revision " + rev
		if vcs["vcs.modified"] == "true" {
			s += " (modified)"
		}
		if t := vcs["vcs.time"]; t != "" {
			s += " " + t
		}
	}
	return s + " " + info.GoVersion
}

func deadLettersCommand(o *overrides) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deadletters",
		Short: "Inspect and replay the events a target's consumer gave up on",
	}
	cmd.PersistentFlags().String("target", "", "the consuming target, e.g. case-management")
	_ = cmd.MarkPersistentFlagRequired("target")

	list := &cobra.Command{
		Use:   "list",
		Short: "List a target's dead letters, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			limit, _ := cmd.Flags().GetInt("limit")
			after, _ := cmd.Flags().GetString("after")
			return withStore(cmd, o, func(db *sqldb.DB, target string) error {
				dead, next, err := outbox.DeadLetters(cmd.Context(), db, target, after, limit)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "EVENT ID\tTYPE\tATTEMPTS\tFAILED AT\tLAST ERROR")
				for _, d := range dead {
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", d.EventID, d.EventType, d.Attempts,
						d.FailedAt.Format(time.RFC3339), d.LastError)
				}
				if next != "" {
					fmt.Fprintf(w, "more: --after %s\n", next)
				}
				return w.Flush()
			})
		},
	}
	list.Flags().Int("limit", 100, "at most this many (1–1000)")
	list.Flags().String("after", "", "the cursor printed after the previous page")

	replay := &cobra.Command{
		Use:   "replay",
		Short: "Make a dead letter due for retry by its consumer now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, _ := cmd.Flags().GetString("event")
			return withStore(cmd, o, func(db *sqldb.DB, target string) error {
				if err := outbox.Replay(cmd.Context(), db, target, id); err != nil {
					return fmt.Errorf("replay %s: %w", id, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "event %s of %s is due for retry\n", id, target)
				return nil
			})
		},
	}
	replay.Flags().String("event", "", "the event id")
	_ = replay.MarkFlagRequired("event")
	cmd.AddCommand(list, replay)
	return cmd
}

// withStore runs fn on the store of the --target service.
func withStore(cmd *cobra.Command, o *overrides, fn func(db *sqldb.DB, target string) error) error {
	cfg, err := o.load(cmd)
	if err != nil {
		return err
	}
	target, _ := cmd.Flags().GetString("target")
	ts, err := app.Resolve([]string{target})
	if err != nil {
		return err
	}
	if len(ts) != 1 || ts[0].Name == app.Gateway {
		return fmt.Errorf("--target must name one service with a store, got %q", target)
	}
	db, err := app.OpenStore(cmd.Context(), cfg, ts[0].Name)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db, ts[0].Name)
}

func adminCommand(o *overrides) *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Manage administrators"}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an admin user; the password is read from standard input",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load(cmd)
			if err != nil {
				return err
			}
			email, _ := cmd.Flags().GetString("email")
			// One line from stdin keeps the password out of the process
			// list and the shell history.
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("read the password from standard input: %w", err)
			}
			id, err := app.CreateAdmin(cmd.Context(), cfg, email, strings.TrimRight(line, "\r\n"),
				logging.New(cmd.ErrOrStderr(), cfg.LogLevel.Level))
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	create.Flags().String("email", "", "the admin's email address")
	_ = create.MarkFlagRequired("email")
	cmd.AddCommand(create)
	return cmd
}

func auditCommand(o *overrides) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Inspect the audit trail"}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit hash chain and name the first broken entry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load(cmd)
			if err != nil {
				return err
			}
			r, err := app.VerifyAudit(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if !r.OK {
				return fmt.Errorf("audit chain broken at entry %d of %d: %s", *r.FirstBrokenEntry, r.Entries, r.Reason)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d entries\n", r.Entries)
			return nil
		},
	}
	cmd.AddCommand(verify)
	return cmd
}

// readModelCommand is the maintenance of a read model built from events:
// `secondopinion search rebuild` empties it and replays its journal, with a
// progress bar on the terminal.
func readModelCommand(o *overrides, target, what string) *cobra.Command {
	cmd := &cobra.Command{Use: target, Short: "Maintain " + what + " (the " + target + " read model)"}
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Empty " + what + " and rebuild them from the events " + target + " has consumed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load(cmd)
			if err != nil {
				return err
			}
			bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(cmd.ErrOrStderr()),
				progressbar.OptionSetDescription("replaying events"), progressbar.OptionShowCount(),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
			err = app.Rebuild(cmd.Context(), cfg, target, logging.New(cmd.ErrOrStderr(), cfg.LogLevel.Level),
				func(done, total int64) {
					bar.ChangeMax64(total)
					_ = bar.Set64(done)
				})
			_ = bar.Finish()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %s rebuilt\n", target)
			return nil
		},
	}
	cmd.AddCommand(rebuild)
	return cmd
}

// documentCommand prints one of the platform's published documents, as
// `make generate` writes them under api/.
func documentCommand(name, what string, build func() ([]byte, error)) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: "Print " + what,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := build()
			if err != nil {
				return err
			}
			var out bytes.Buffer
			if err := json.Indent(&out, doc, "", "  "); err != nil {
				return fmt.Errorf("%s document: %w", name, err)
			}
			out.WriteByte('\n')
			_, err = out.WriteTo(cmd.OutOrStdout())
			return err
		},
	}
}
