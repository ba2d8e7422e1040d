package outage

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// postgres is a throwaway PostgreSQL server of the test's own, which the
// test stops, restarts and freezes.
type postgres struct {
	bin  string // folder of initdb, pg_ctl and postgres
	dir  string // the data directory
	addr string // 127.0.0.1:port
	log  *os.File
	cred *syscall.Credential // the postgres user's, when the test runs as root
	cmd  *exec.Cmd           // the running postmaster; nil when stopped
	done chan struct{}       // closed when cmd has exited
}

// pgBin finds PostgreSQL's server programs.
func pgBin() (string, bool) {
	for _, dir := range []string{"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"} {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, true
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), true
	}
	return "", false
}

// startPostgres initialises a cluster in a temporary folder and starts it
// on a free port below 32768. Without initdb on the machine the test is
// skipped, or fails under TEST_REQUIRE_SERVICES=1.
func startPostgres(t *testing.T) *postgres {
	t.Helper()
	bin, ok := pgBin()
	if !ok {
		if os.Getenv(testkit.RequireServicesEnv) == "1" {
			t.Fatalf("initdb (PostgreSQL's server programs) is not on this machine but %s=1", testkit.RequireServicesEnv)
		}
		t.Skip("initdb not found: this test starts a PostgreSQL server of its own")
	}
	// Not t.TempDir: when the test runs as root, the server runs as the
	// postgres user (initdb refuses root), who must own the folder and
	// reach it.
	root, err := os.MkdirTemp("", "outage-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	pg := &postgres{bin: bin, dir: filepath.Join(root, "data")}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root and there is no postgres user to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(root, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if pg.log, err = os.OpenFile(filepath.Join(root, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(pg.log.Name())
			t.Logf("server log:\n%s", tail(string(b), 3000))
		}
		pg.log.Close()
	})
	if out, err := pg.command("initdb", "-D", pg.dir, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		pg.thaw(t)
		if pg.cmd != nil {
			pg.cmd.Process.Kill()
			<-pg.done
		}
	})
	pg.addr = testkit.OnFreePort(t, pg.run)
	return pg
}

func (pg *postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(pg.bin, name), args...)
	if pg.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	}
	return cmd
}

// URL is the server's, for the default database.
func (pg *postgres) URL() string {
	return "postgres://postgres@" + pg.addr + "/postgres?sslmode=disable"
}

// run starts the postmaster on addr and waits until it says it accepts
// connections — its own word, as another server may hold the port.
func (pg *postgres) run(addr string) error {
	_, port, _ := strings.Cut(addr, ":")
	st, err := pg.log.Stat()
	if err != nil {
		return err
	}
	from := st.Size()
	cmd := pg.command("postgres", "-D", pg.dir, "-p", port, "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "max_connections=300", "-c", "shared_buffers=16MB")
	cmd.Stdout, cmd.Stderr = pg.log, pg.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	said := func() string {
		b, _ := os.ReadFile(pg.log.Name())
		return string(b[min(from, int64(len(b))):])
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case <-done:
			if out := said(); testkit.PortTaken(out) {
				return fmt.Errorf("%w: %s", testkit.ErrPortTaken, tail(out, 500))
			}
			return fmt.Errorf("postgres exited: %s", tail(said(), 2000))
		case <-deadline:
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("postgres did not get ready: %s", tail(said(), 2000))
		case <-time.After(50 * time.Millisecond):
		}
		if strings.Contains(said(), "database system is ready to accept connections") {
			pg.cmd, pg.done = cmd, done
			return nil
		}
	}
}

// start starts the server again where it was.
func (pg *postgres) start(t *testing.T) {
	t.Helper()
	if err := pg.run(pg.addr); err != nil {
		t.Fatal(err)
	}
}

// stop shuts the server down at once, as a crash does: every connection
// is cut and new ones are refused.
func (pg *postgres) stop(t *testing.T) {
	t.Helper()
	if out, err := pg.command("pg_ctl", "stop", "-D", pg.dir, "-m", "immediate", "-w").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
	<-pg.done
	pg.cmd = nil
}

// freeze stops the postmaster and every process it started (SIGSTOP), as
// a server that hangs: connections are accepted by the kernel but nothing
// answers.
func (pg *postgres) freeze(t *testing.T) {
	t.Helper()
	pm := pg.cmd.Process.Pid
	// The postmaster first, so it starts no process behind our back.
	if err := syscall.Kill(pm, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	kids, err := children(pm)
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range kids {
		syscall.Kill(pid, syscall.SIGSTOP)
	}
}

// thaw continues the postmaster and its processes (SIGCONT).
func (pg *postgres) thaw(t *testing.T) {
	t.Helper()
	if pg.cmd == nil {
		return
	}
	pm := pg.cmd.Process.Pid
	kids, _ := children(pm)
	for _, pid := range kids {
		syscall.Kill(pid, syscall.SIGCONT)
	}
	syscall.Kill(pm, syscall.SIGCONT)
}

// children lists the processes whose parent is pid. PostgreSQL's backends
// are the postmaster's children, each in a process group of its own.
func children(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the postmaster has no processes")
	}
	return out, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
