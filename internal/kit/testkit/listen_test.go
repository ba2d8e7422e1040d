package testkit_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(p, &n)
	if n < 20000 || n >= 32768 {
		t.Fatalf("port %d is not below the ephemeral range", n)
	}
	return n
}

func TestListen(t *testing.T) {
	ln := testkit.Listen(t)
	port(t, ln.Addr().String())
	if _, err := net.Listen("tcp", ln.Addr().String()); err == nil {
		t.Fatal("a second listener took the port of a listener the test holds")
	}
}

// An address that refuses: what a client meets when a server is down, and
// no other test can start answering on it.
func TestRefusingAddr(t *testing.T) {
	addr := testkit.RefusingAddr(t)
	port(t, addr)
	if _, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Fatalf("another listener took %s", addr)
	}
}

func TestOnFreePort(t *testing.T) {
	// A start that loses the race twice gets two more ports, then binds.
	var tried []string
	var ln net.Listener
	got := testkit.OnFreePort(t, func(addr string) error {
		tried = append(tried, addr)
		if len(tried) < 3 {
			return fmt.Errorf("listen %s: bind: address already in use: %w", addr, testkit.ErrPortTaken)
		}
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	defer ln.Close()
	if len(tried) != 3 || got != tried[2] || ln.Addr().String() != got {
		t.Fatalf("tried %v, returned %s, listening on %s", tried, got, ln.Addr())
	}
	port(t, got)

	for out, want := range map[string]bool{
		`FATAL:  could not create any TCP/IP sockets` + "\n" + `LOG:  could not bind IPv4 address "127.0.0.1": Address already in use`: true,
		`[FTL] Error listening on port: 127.0.0.1:4222, "listen tcp 127.0.0.1:4222: bind: address already in use"`:                     true,
		`FATAL:  data directory "/x" has wrong ownership`:                                                                              false,
	} {
		if testkit.PortTaken(out) != want {
			t.Errorf("PortTaken(%q) = %v", strings.SplitN(out, "\n", 2)[0], !want)
		}
	}
}
