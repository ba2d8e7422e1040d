// Package rpc gives services the HTTP clients and servers for internal gRPC
// (Connect-Go speaking the gRPC protocol over HTTP/2 without TLS — Istio's
// mTLS wraps it in production). In `all` mode the same clients reach the
// peer's handler over an in-memory connection: the full protocol runs, only
// the network is skipped.
package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
)

// Protocols serves HTTP/1.1 (REST) and cleartext HTTP/2 (gRPC) on one port.
func Protocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return p
}

// ClientOptions makes Connect clients speak gRPC.
func ClientOptions() []connect.ClientOption {
	return []connect.ClientOption{connect.WithGRPC()}
}

// RemoteClient is the HTTP client for a peer reached over the network.
func RemoteClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:       p,
		IdleConnTimeout: 90 * time.Second,
	}}
}

// InProcess serves h over an in-memory listener. Its Client reaches h as a
// remote peer would; Close stops the server.
type InProcess struct {
	ln  *memListener
	srv *http.Server
}

// NewInProcess starts serving h in memory.
func NewInProcess(h http.Handler) *InProcess {
	ln := &memListener{conns: make(chan net.Conn), done: make(chan struct{})}
	srv := &http.Server{Handler: h, Protocols: Protocols(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &InProcess{ln: ln, srv: srv}
}

// Client dials the in-memory server; use it with BaseURL.
func (p *InProcess) Client() *http.Client {
	proto := new(http.Protocols)
	proto.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:   proto,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return p.ln.dial(ctx) },
	}}
}

// ErrServerClosed is returned when dialling an in-process server that has
// stopped — the in-memory twin of "connection refused".
var ErrServerClosed = errors.New("in-process server closed")

// BaseURL is the URL clients of an in-process server use.
const BaseURL = "http://in-process"

// Close stops the server, ending open connections.
func (p *InProcess) Close() error { return p.srv.Close() }

type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *memListener) dial(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, ErrServerClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

type memAddr struct{}

func (memAddr) Network() string { return "memory" }
func (memAddr) String() string  { return "in-process" }

// Serving is a readiness check that a peer's gRPC service answers
// SERVING through c; its error names the peer, never more.
func Serving(c *grpchealth.Client, peer, service string) func(context.Context) error {
	return func(ctx context.Context) error {
		res, err := c.Check(ctx, &grpchealth.CheckRequest{Service: service})
		if err != nil {
			return fmt.Errorf("%s: %s", peer, connect.CodeOf(err))
		}
		if res.Status != grpchealth.StatusServing {
			return fmt.Errorf("%s: %s", peer, res.Status)
		}
		return nil
	}
}

// Unhurried lets h answer for up to d, past the server's write timeout
// (HTTP_WRITE_TIMEOUT, meant for the REST API), for a call whose work
// takes minutes: analysing a scanned record, a language model's answer.
// The caller's own deadline still bounds it. A connection without
// deadlines (in process) has none to move.
func Unhurried(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		h.ServeHTTP(w, r)
	})
}
