// Command secondopinion is the platform's one binary: it serves any set of
// targets (every service and the gateway, or one of them), applies their
// migrations, and inspects their configuration and dead letters.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "secondopinion:", err)
		os.Exit(1)
	}
}

// run executes the command line; SIGINT and SIGTERM start a graceful
// shutdown.
func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(os.LookupEnv)
	root.SetArgs(os.Args[1:])
	return root.ExecuteContext(ctx)
}
