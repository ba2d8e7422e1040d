package chaos

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The bus is stopped under load and started again: the platform keeps
// accepting writes and serving reads while it is down — the events wait
// in the services' outboxes — and once it is back every event is
// delivered, once.
func TestBusOutageUnderLoad(t *testing.T) {
	nats := startNATS(t)
	env := platformEnv(t)
	env["NATS_URL"] = nats.url
	proc := launch(t, env)
	p := &platform{}
	p.set(proc.base)
	l, admin, pro := prepare(t, proc.base)

	stop := l.load(t, p)
	time.Sleep(time.Second)
	nats.stop(t)
	before := l.acknowledged()
	time.Sleep(phase(6*time.Second, 30*time.Second))
	during := l.acknowledged() - before
	nats.start(t)
	time.Sleep(phase(2*time.Second, 5*time.Second))
	stop()

	if during == 0 {
		t.Errorf("no case was created and submitted while the bus was down")
	}
	if n, last := l.refusals(); n > 0 {
		t.Errorf("%d writes were refused or unanswered with the bus down; the last: %s", n, last)
	}
	t.Logf("%d cases created and submitted while the bus was down", during)
	l.check(t, proc.base, admin, pro)
}

// natsServer is a nats-server with JetStream of the test's own, so that
// it can be stopped and started again on the same port and store.
type natsServer struct {
	url, addr, dir string
	cmd            *exec.Cmd
	logs           *testkit.Buffer
	done           chan struct{}
}

func startNATS(t *testing.T) *natsServer {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		// Debian installs it in /usr/sbin, which a user's PATH may lack.
		if bin, err = exec.LookPath("/usr/sbin/nats-server"); err != nil {
			t.Fatal("nats-server is not installed (Debian package nats-server)")
		}
	}
	s := &natsServer{dir: t.TempDir()}
	s.addr = testkit.OnFreePort(t, func(addr string) error {
		s.addr = addr
		return s.run(t, bin)
	})
	s.url = "nats://" + s.addr
	t.Cleanup(func() { s.stop(t) })
	return s
}

// run starts the server on s.addr and waits until it is ready.
func (s *natsServer) run(t *testing.T, bin string) error {
	host, port, _ := strings.Cut(s.addr, ":")
	s.logs, s.done = &testkit.Buffer{}, make(chan struct{})
	s.cmd = exec.Command(bin, "-a", host, "-p", port, "-js", "-sd", s.dir)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		return err
	}
	done := s.done
	go func() { _ = s.cmd.Wait(); close(done) }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(s.logs.String(), "Server is ready") {
			return nil
		}
		select {
		case <-done:
			if testkit.PortTaken(s.logs.String()) {
				return testkit.ErrPortTaken
			}
			return fmt.Errorf("nats-server exited:\n%s", s.logs.String())
		default:
		}
	}
	return fmt.Errorf("nats-server not ready in 30 s:\n%s", s.logs.String())
}

// stop shuts the server down and waits until it is gone.
func (s *natsServer) stop(t *testing.T) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// start runs the server again on its port and store.
func (s *natsServer) start(t *testing.T) {
	t.Helper()
	if err := s.run(t, s.cmd.Path); err != nil {
		t.Fatalf("restart nats-server on %s: %v", s.addr, err)
	}
}
