package chaos

import (
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
	nats.stop()
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
	url, addr, dir, bin string
	proc                *testkit.Process
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
	s := &natsServer{dir: t.TempDir(), bin: bin}
	s.addr = testkit.OnFreePort(t, func(addr string) error {
		s.addr = addr
		return s.run()
	})
	s.url = "nats://" + s.addr
	t.Cleanup(s.stop)
	return s
}

// run starts the server on s.addr and waits until it is ready.
func (s *natsServer) run() error {
	host, port, _ := strings.Cut(s.addr, ":")
	proc, err := testkit.StartProcess(exec.Command(s.bin, "-a", host, "-p", port, "-js", "-sd", s.dir), "Server is ready", 30*time.Second)
	if err != nil {
		return err
	}
	s.proc = proc
	return nil
}

// stop shuts the server down and waits until it is gone.
func (s *natsServer) stop() { s.proc.Stop(syscall.SIGTERM, 10*time.Second) }

// start runs the server again on its port and store.
func (s *natsServer) start(t *testing.T) {
	t.Helper()
	if err := s.run(); err != nil {
		t.Fatalf("restart nats-server on %s: %v", s.addr, err)
	}
}
