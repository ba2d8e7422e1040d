package testkit

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"testing"
)

// Tests hand servers listeners they opened themselves, never port numbers
// that were free a moment ago: between closing a probe and the server's
// bind, another test on the machine may take the port. Test ports lie
// below 32768: ports the kernel hands out (":0") lie in the ephemeral
// range, where a test server can collide with outgoing connections.
const (
	firstPort = 20000
	ports     = 12000
)

// Listen opens a TCP listener on 127.0.0.1 at a free port below 32768.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", addr(randomPort()))
		if err == nil {
			t.Cleanup(func() { ln.Close() })
			return ln
		}
	}
	t.Fatal("no free port below 32768")
	return nil
}

// RefusingAddr returns a 127.0.0.1 address below port 32768 that refuses
// every connection while the test runs, as a server that is down does.
// The port is bound but never listened on, so no other socket can take it
// and start answering in the meantime.
func RefusingAddr(t testing.TB) string {
	t.Helper()
	for range 100 {
		port := randomPort()
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_TCP)
		if err != nil {
			t.Fatalf("socket: %v", err)
		}
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			syscall.Close(fd)
			continue
		}
		t.Cleanup(func() { syscall.Close(fd) })
		return addr(port)
	}
	t.Fatal("no free port below 32768")
	return ""
}

// ErrPortTaken is what a start function given to OnFreePort wraps when its
// server could not bind the address because another socket holds it.
var ErrPortTaken = errors.New("port taken by another socket")

// PortTaken reports whether a server's output says its address is in use,
// as Go programs, PostgreSQL and nats-server all put it.
func PortTaken(output string) bool {
	return strings.Contains(strings.ToLower(output), "address already in use")
}

// OnFreePort is for a server that must open its port itself — a child
// process such as PostgreSQL, nats-server or the platform's binary — and
// so cannot be handed a listener. It calls start with a 127.0.0.1 address
// below port 32768, free when chosen, and returns that address once start
// succeeds. The port is not held between choosing and the server's bind,
// so another test may take it first: start then returns an error wrapping
// ErrPortTaken, and OnFreePort tries another port. Any other error fails
// the test.
//
// start must know its own server from one that took the port first: wait
// for the server to say it is listening, or for its process to exit, never
// only for something on the port to answer.
func OnFreePort(t testing.TB, start func(addr string) error) string {
	t.Helper()
	for range 10 {
		port := randomPort()
		ln, err := net.Listen("tcp", addr(port))
		if err != nil {
			continue // in use now: no point starting a server on it
		}
		ln.Close()
		err = start(addr(port))
		switch {
		case err == nil:
			return addr(port)
		case !errors.Is(err, ErrPortTaken):
			t.Fatalf("start a server on %s: %v", addr(port), err)
		}
	}
	t.Fatal("every port tried was taken before the server could bind it")
	return ""
}

func randomPort() int { return firstPort + rand.IntN(ports) }

func addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
