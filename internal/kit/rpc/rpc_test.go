package rpc_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// Both transports must carry the real gRPC protocol: the health client
// refuses anything else.
func TestHealthOverBothTransports(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker("patient.v1.PatientService")))

	mem := rpc.NewInProcess(mux)
	t.Cleanup(func() { mem.Close() })
	check(t, mem.Client(), rpc.BaseURL)

	ln := testkit.Listen(t)
	srv := &http.Server{Handler: mux, Protocols: rpc.Protocols()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	check(t, rpc.RemoteClient(), "http://"+ln.Addr().String())
}

func check(t *testing.T, hc *http.Client, base string) {
	t.Helper()
	c := grpchealth.NewClient(hc, base, rpc.ClientOptions()...)
	for range 3 {
		res, err := c.Check(context.Background(), &grpchealth.CheckRequest{Service: "patient.v1.PatientService"})
		if err != nil {
			t.Fatalf("check over %s: %v", base, err)
		}
		if res.Status != grpchealth.StatusServing {
			t.Fatalf("status %v", res.Status)
		}
	}
	_, err := c.Check(context.Background(), &grpchealth.CheckRequest{Service: "nope"})
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("unknown service: %v", err)
	}
}

// A call that outlasts the server's write timeout is cut, unless its
// handler is Unhurried.
func TestUnhurriedOutlastsTheWriteTimeout(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		_, _ = w.Write([]byte("done"))
	})
	for _, c := range []struct {
		name string
		h    http.Handler
		ok   bool
	}{{"plain", slow, false}, {"unhurried", rpc.Unhurried(slow, time.Minute), true}} {
		t.Run(c.name, func(t *testing.T) {
			ln := testkit.Listen(t)
			srv := &http.Server{Handler: c.h, Protocols: rpc.Protocols(), WriteTimeout: 100 * time.Millisecond}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			res, err := rpc.RemoteClient().Get("http://" + ln.Addr().String())
			var body []byte
			if err == nil {
				body, err = io.ReadAll(res.Body)
				res.Body.Close()
			}
			if got := err == nil && string(body) == "done"; got != c.ok {
				t.Fatalf("answered %v (%q, %v), want %v", got, body, err, c.ok)
			}
		})
	}
}
