package testkit

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Process is a server a test runs as a child process — the platform's
// binary, nats-server — with its output kept for the test to search and
// show.
type Process struct {
	Cmd    *exec.Cmd
	Output *Buffer
	done   chan struct{}
}

// StartProcess starts cmd and waits until its output says ready. A server
// that exits first because its port was taken answers ErrPortTaken, for
// OnFreePort to try another port; one that exits otherwise, or says
// nothing within the wait, is an error carrying its output.
func StartProcess(cmd *exec.Cmd, ready string, wait time.Duration) (*Process, error) {
	p := &Process{Cmd: cmd, Output: &Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Output, p.Output
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(p.Output.String(), ready) {
			return p, nil
		}
		select {
		case <-p.done:
			if PortTaken(p.Output.String()) {
				return nil, ErrPortTaken
			}
			return nil, fmt.Errorf("%s exited:\n%s", cmd.Path, p.Output.String())
		default:
		}
	}
	p.Stop(syscall.SIGKILL, 0)
	return nil, fmt.Errorf("%s not ready in %v:\n%s", cmd.Path, wait, p.Output.String())
}

// Stop sends sig and waits until the process is gone, sending SIGKILL
// after grace (at once when grace is 0). It reports whether the process
// ended within grace plus ten seconds.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) bool {
	select {
	case <-p.done:
		return true
	default:
	}
	_ = p.Cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return true
	case <-time.After(grace):
	}
	_ = p.Cmd.Process.Kill()
	select {
	case <-p.done:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}
