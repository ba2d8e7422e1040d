package testkit

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// Listen opens a TCP listener on 127.0.0.1 at a free port below 32768.
// Ports the kernel hands out (":0") lie in the ephemeral range, where a
// test server can collide with outgoing connections on this machine.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			t.Cleanup(func() { ln.Close() })
			return ln
		}
	}
	t.Fatal("no free port below 32768")
	return nil
}

// FreeAddr returns a 127.0.0.1 address below port 32768 that was free a
// moment ago, for servers that insist on opening their own listener.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln := Listen(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
