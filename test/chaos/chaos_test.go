// Package chaos breaks a running platform the way production does — a
// process killed with SIGKILL mid-burst and mid-journey, the bus stopped
// under load — and holds it to what its clients were promised, with a
// ledger of every acknowledged write and every event those writes owe:
// nothing acknowledged is lost, no event is lost, nothing happens twice.
// It drives real `secondopinion serve` processes, on SQLite and (with
// TEST_DATABASE_URL) on PostgreSQL with a NATS server of its own.
//
// `go test ./test/chaos` runs the short variants; CHAOS_LONG=1 (make
// chaos) runs longer loads and the 30-second bus outage.
package chaos

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// binary is the secondopinion command, built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "secondopinion")
	build := exec.Command("go", "build", "-o", binary, "github.com/secondopinion/platform/cmd/secondopinion")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	code := 1
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build secondopinion:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running `secondopinion serve`.
type process struct {
	*testkit.Process
	base string
}

// launch starts the platform on env and waits until it says it listens.
// The process opens its own port, so one another test took in between is
// tried again on a new one (testkit.OnFreePort).
func launch(t *testing.T, env map[string]string) *process {
	t.Helper()
	p := &process{}
	addr := testkit.OnFreePort(t, func(addr string) error {
		cmd := exec.Command(binary, "serve")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LISTEN=" + addr}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		proc, err := testkit.StartProcess(cmd, `"msg":"listening"`, time.Minute)
		if err != nil {
			return err
		}
		t.Cleanup(func() { proc.Stop(syscall.SIGKILL, 0) })
		p.Process = proc
		return nil
	})
	p.base = "http://" + addr
	return p
}

// kill ends the process with SIGKILL — no shutdown, no flush — and waits
// until it is gone.
func (p *process) kill(t *testing.T) {
	if !p.Stop(syscall.SIGKILL, 0) {
		t.Fatal("the process outlived SIGKILL")
	}
}

var client = &http.Client{Timeout: 20 * time.Second}

func do(method, url, token, key, body string) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, out, err
}
