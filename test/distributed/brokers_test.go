package distributed

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The buses are the test's own: the JetStream transport names one stream
// and its consumers after the services, with no prefix to tell runs
// apart, so a platform on the shared NATS server would consume the events
// of every other test running beside it.

// startNATS starts a nats-server with JetStream and returns the
// platform's NATS_URL.
func startNATS(t *testing.T) map[string]string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		// Debian installs it in /usr/sbin, which a user's PATH may lack.
		if bin, err = exec.LookPath("/usr/sbin/nats-server"); err != nil {
			t.Fatal("nats-server is not installed (Debian package nats-server)")
		}
	}
	dir := t.TempDir()
	addr := testkit.OnFreePort(t, func(addr string) error {
		host, port, _ := strings.Cut(addr, ":")
		return serve(t, exec.Command(bin, "-a", host, "-p", port, "-js", "-sd", dir), "Server is ready")
	})
	return map[string]string{"NATS_URL": "nats://" + addr}
}

// startKafka starts the kfake broker (./kafkabroker) and returns the
// platform's KAFKA_BROKERS.
func startKafka(t *testing.T) map[string]string {
	t.Helper()
	addr := testkit.OnFreePort(t, func(addr string) error {
		_, port, _ := strings.Cut(addr, ":")
		return serve(t, exec.Command(broker, "-port", port), "listening on "+addr)
	})
	return map[string]string{"KAFKA_BROKERS": addr}
}

// serve starts a broker and stops it when the test ends, after the
// platform's processes, which were started later.
func serve(t *testing.T, cmd *exec.Cmd, ready string) error {
	proc, err := testkit.StartProcess(cmd, ready, 30*time.Second)
	if err != nil {
		return err
	}
	t.Cleanup(func() { proc.Stop(syscall.SIGTERM, 10*time.Second) })
	return nil
}
