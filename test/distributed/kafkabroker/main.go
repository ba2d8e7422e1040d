// Command kafkabroker is a one-broker Kafka cluster for the distributed
// test: franz-go's kfake, which speaks the real protocol, in a process of
// its own, so that the platform's processes reach it over TCP as they
// would a real broker. No Kafka server is installed on the machines the
// tests run on.
//
//	kafkabroker -port 24567
//
// It says "listening on 127.0.0.1:<port>" once it accepts connections,
// keeps every record in memory, and runs until it is signalled.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "the port to listen on at 127.0.0.1")
	flag.Parse()
	if *port <= 0 || *port > 65535 {
		fmt.Fprintln(os.Stderr, "kafkabroker: -port must be 1–65535")
		os.Exit(2)
	}
	// The topic is created by the platform's transport, as on a cluster
	// that refuses automatic creation; warnings show what a client got
	// wrong.
	c, err := kfake.NewCluster(kfake.Ports(*port), kfake.WithLogger(kfake.BasicLogger(os.Stderr, kfake.LogLevelWarn)))
	if err != nil {
		// "address already in use" tells the test to try another port.
		fmt.Fprintln(os.Stderr, "kafkabroker:", err)
		os.Exit(1)
	}
	fmt.Println("listening on", c.ListenAddrs()[0])
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	c.Close()
}
