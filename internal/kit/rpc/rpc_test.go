package rpc_test

import (
	"context"
	"net/http"
	"testing"

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
