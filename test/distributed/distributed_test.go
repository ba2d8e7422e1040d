// Package distributed runs the platform as it is deployed: every workload
// of app.Distributed() — each service and the gateway — as its own
// `secondopinion serve --target=<name>` process, on PostgreSQL, Redis and
// a bus of the test's own (a nats-server, or a Kafka broker from franz-go's
// kfake), each process given exactly the variables the topology lists for
// it, plus only what a test must choose itself (its ports, a cheap bcrypt
// cost, the first admin's email). A service that cannot work with what the
// topology gives it fails here, before a deployment rendered from the same
// topology does. The main journey then runs through the gateway, with a
// service killed with SIGKILL and restarted in the middle of it.
//
// `go test ./test/distributed` runs the short variants; DISTRIBUTED_LONG=1
// (make distributed) also kills every workload once in turn.
package distributed

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// binary is the secondopinion command and broker the Kafka broker, built
// once for the package.
var binary, broker string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "distributed-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, broker = filepath.Join(dir, "secondopinion"), filepath.Join(dir, "kafkabroker")
	code := 1
	if err := build(binary, "github.com/secondopinion/platform/cmd/secondopinion"); err != nil {
		fmt.Fprintln(os.Stderr, "build secondopinion:", err)
	} else if err := build(broker, "github.com/secondopinion/platform/test/distributed/kafkabroker"); err != nil {
		fmt.Fprintln(os.Stderr, "build kafkabroker:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// long is whether the long variant runs (make distributed).
var long = os.Getenv("DISTRIBUTED_LONG") == "1"

// The first admin, created by auth at start.
const adminPassword = "an admin's long passphrase"

// cluster is every workload of the topology running in its own process.
type cluster struct {
	topo  app.Topology
	admin string // the first admin's email, unique per run: the Redis throttle is shared
	// values are the test's values of the topology's variables that are
	// the same for every workload: the stores, the bus, the shared secrets.
	values map[string]string
	// secrets are the workloads' SERVICE_SECRETs.
	secrets map[string]string
	mu      sync.Mutex
	procs   map[string]*process
}

// process is one workload's `secondopinion serve`.
type process struct {
	name      string
	addr, ops string // public and operations listeners
	dataDir   string
	env       []string
	*testkit.Process
	stopped bool // by the test: its end is no failure
}

// boot starts every workload of the topology on a fresh PostgreSQL
// database and the bus that startBus starts (its NATS_URL or
// KAFKA_BROKERS), waits until each is ready, and returns the gateway's
// base URL.
func boot(t *testing.T, startBus func(*testing.T) map[string]string) (*cluster, string) {
	t.Helper()
	server, redis := testkit.Env(t, "TEST_DATABASE_URL"), testkit.Env(t, "TEST_REDIS_URL")
	c := &cluster{topo: app.Distributed(), admin: "admin." + uuid.NewString()[:8] + "@example.org",
		secrets: map[string]string{}, procs: map[string]*process{}}
	c.values = map[string]string{
		"DATABASE_URL": testkit.FreshDatabase(t, server),
		"REDIS_URL":    redis,
		// Every replica of a workload would share these: the test gives
		// them as a deployment's Secret does, in each one's own format.
		"JWT_SIGNING_KEYS":     "k1:" + base64.RawURLEncoding.EncodeToString(random(32)),
		"AUTH_SECRET_KEY":      base64.RawURLEncoding.EncodeToString(random(32)),
		"PRICING_QUOTE_KEY":    base64.RawURLEncoding.EncodeToString(random(32)),
		"DOCUMENTS_KEY_URL":    "base64key://" + base64.URLEncoding.EncodeToString(random(32)),
		"DOCUMENTS_BUCKET_URL": "file://" + t.TempDir(),
		"PAYOUTS_KEY_URL":      "base64key://" + base64.URLEncoding.EncodeToString(random(32)),
		"ADMIN_PASSWORD":       adminPassword,
	}
	for k, v := range startBus(t) {
		c.values[k] = v
	}
	var pairs []string
	for _, w := range c.topo.Workloads {
		if slices.ContainsFunc(w.Env, func(v app.Variable) bool { return v.Name == "SERVICE_SECRET" }) {
			c.secrets[w.Name] = base64.RawURLEncoding.EncodeToString(random(24))
			pairs = append(pairs, w.Name+"="+c.secrets[w.Name])
		}
	}
	c.values["SERVICE_SECRETS"] = strings.Join(pairs, ",")
	t.Cleanup(c.stop)
	t.Cleanup(func() { c.report(t) })
	start := time.Now()
	c.start(t)
	c.waitReady(t, 2*time.Minute)
	t.Logf("%d workloads ready in %v", len(c.topo.Workloads), time.Since(start).Round(time.Millisecond))
	return c, "http://" + c.procs[app.Gateway].addr
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// start starts every workload at once: they find each other by the
// addresses chosen beforehand, and wait for one another through their
// readiness. A port another test took between choosing and binding starts
// the whole set again on new ports, since every peer's URL names it.
func (c *cluster) start(t *testing.T) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		c.plan(t)
		var wg sync.WaitGroup
		errs := make([]error, len(c.topo.Workloads))
		for i, w := range c.topo.Workloads {
			wg.Go(func() { errs[i] = c.launch(c.proc(w.Name)) })
		}
		wg.Wait()
		taken := slices.ContainsFunc(errs, func(err error) bool { return errors.Is(err, testkit.ErrPortTaken) })
		if !taken {
			for i, err := range errs {
				if err != nil {
					t.Fatalf("start %s: %v", c.topo.Workloads[i].Name, err)
				}
			}
			return
		}
		c.stop()
		if attempt == 3 {
			t.Fatal("ports were taken by other tests three times over")
		}
	}
}

// plan chooses every workload's ports and data folder and derives its
// environment from the topology.
func (c *cluster) plan(t *testing.T) {
	t.Helper()
	used := map[string]bool{}
	free := func() string {
		for {
			ln := testkit.Listen(t)
			addr := ln.Addr().String()
			ln.Close()
			if !used[addr] {
				used[addr] = true
				return addr
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.topo.Workloads {
		p := c.procs[w.Name]
		if p == nil {
			p = &process{name: w.Name, dataDir: t.TempDir()}
			c.procs[w.Name] = p
		}
		p.addr, p.ops = free(), free()
	}
	for _, w := range c.topo.Workloads {
		c.procs[w.Name].env = c.environment(t, w)
	}
}

// environment is what workload w is given: each shared variable and each
// of its own that the test has a value for — a required one it has none
// for fails the test — and the test's own choices.
func (c *cluster) environment(t *testing.T, w app.Workload) []string {
	t.Helper()
	p := c.procs[w.Name]
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, v := range append(slices.Clone(c.topo.Shared), w.Env...) {
		var value string
		switch {
		case v.Peer != "":
			value = "http://" + c.procs[v.Peer].addr
		case v.Name == "DATA_DIR":
			value = p.dataDir
		case v.Name == "SERVICE_SECRET":
			value = c.secrets[w.Name]
		default:
			value = c.values[v.Name]
		}
		if value == "" {
			if v.Required {
				t.Fatalf("%s: the topology requires %s, which the test has no value for", w.Name, v.Name)
			}
			continue
		}
		env = append(env, v.Name+"="+value)
	}
	// What a test chooses itself: where each process listens, and, for
	// auth, a bcrypt cost a test can afford and the first admin's email
	// (its password is a secret of the topology's).
	env = append(env, "LISTEN="+p.addr, "METRICS_LISTEN="+p.ops)
	if w.Name == "auth" {
		env = append(env, "AUTH_BCRYPT_COST=4", "ADMIN_EMAIL="+c.admin)
	}
	return env
}

func (c *cluster) proc(name string) *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[name]
}

// launch starts p's process and waits until it says it listens.
func (c *cluster) launch(p *process) error {
	cmd := exec.Command(binary, "serve", "--target="+p.name)
	cmd.Env = p.env
	proc, err := testkit.StartProcess(cmd, `"msg":"listening"`, 2*time.Minute)
	if err != nil {
		return err
	}
	c.mu.Lock()
	p.Process, p.stopped = proc, false
	c.mu.Unlock()
	return nil
}

// kill ends a workload's process with SIGKILL — no shutdown, no flush —
// and starts it again with the same environment, on the same port and
// stores, but on an emptied data folder: a pod rescheduled elsewhere gets
// a new emptyDir, so whatever a workload keeps there by default (a key
// file made on first start) is lost unless the topology gives it. Then it
// waits until the whole cluster is ready again.
func (c *cluster) kill(t *testing.T, name string) {
	t.Helper()
	p := c.proc(name)
	c.mu.Lock()
	p.stopped = true
	c.mu.Unlock()
	if !p.Stop(syscall.SIGKILL, 0) {
		t.Fatalf("%s outlived SIGKILL", name)
	}
	if err := os.RemoveAll(p.dataDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := c.launch(p); err != nil {
		t.Fatalf("restart %s: %v", name, err)
	}
	c.waitReady(t, time.Minute)
}

// waitReady waits until every workload's readiness probe, on its
// operations listener as the deployment's probes ask it, answers 200.
// The gateway's checks every upstream's too.
func (c *cluster) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(within)
	for _, w := range c.topo.Workloads {
		p := c.proc(w.Name)
		for {
			res, err := client.Get("http://" + p.ops + "/api/ready")
			last := fmt.Sprint(err)
			if err == nil {
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					break
				}
				last = fmt.Sprintf("%d %s", res.StatusCode, body)
			}
			if c.exited(p) {
				t.Fatalf("%s exited", w.Name)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not ready within %v: %s", w.Name, within, last)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// exited reports whether p's process ended without the test ending it.
// It asks the process, not Cmd.ProcessState, which testkit's waiter
// writes concurrently.
func (c *cluster) exited(p *process) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return p.Process != nil && !p.stopped && errors.Is(p.Cmd.Process.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// stop ends every process.
func (c *cluster) stop() {
	c.mu.Lock()
	procs := make([]*process, 0, len(c.procs))
	for _, p := range c.procs {
		if p.Process != nil {
			p.stopped = true
			procs = append(procs, p)
		}
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { p.Stop(syscall.SIGTERM, 10*time.Second) })
	}
	wg.Wait()
}

// report shows, when the test failed, the end of the log of every
// process that exited on its own, and every process's last warnings and
// errors: enough to tell which workload failed and why.
func (c *cluster) report(t *testing.T) {
	if !t.Failed() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.topo.Workloads {
		p := c.procs[w.Name]
		if p == nil || p.Process == nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(p.Output.String()), "\n")
		if !p.stopped && errors.Is(p.Cmd.Process.Signal(syscall.Signal(0)), os.ErrProcessDone) {
			t.Logf("%s exited; the end of its log:\n%s", w.Name, strings.Join(tail(lines, 40), "\n"))
			continue
		}
		bad := slices.DeleteFunc(lines, func(l string) bool {
			return !strings.Contains(l, `"level":"WARN"`) && !strings.Contains(l, `"level":"ERROR"`)
		})
		if len(bad) > 0 {
			t.Logf("%s: its last warnings and errors:\n%s", w.Name, strings.Join(tail(bad, 10), "\n"))
		}
	}
}

func tail(lines []string, n int) []string { return lines[max(0, len(lines)-n):] }
