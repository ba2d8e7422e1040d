package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/secondopinion/platform/internal/kit/bus"
)

// Serve is the background work of a service that publishes and consumes:
// it subscribes consumer to b as group, relays the outbox, runs the
// consumer's retries and every extra job (schedulers) until ctx ends, and
// returns once all of them have. After each delivered event the relay is
// woken for the events its effect wrote. A service that consumes nothing
// passes a nil consumer.
func Serve(ctx context.Context, b bus.Transport, group string, relay *Relay, consumer *Consumer, extra ...func(context.Context)) error {
	var wg sync.WaitGroup
	var relayErr, consumerErr error
	if consumer != nil {
		sub, err := b.Subscribe(ctx, group, func(ctx context.Context, e bus.Event) error {
			err := consumer.Handle(ctx, e)
			relay.Notify()
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: subscribe: %w", group, err)
		}
		defer sub.Close()
		wg.Go(func() { consumerErr = consumer.Run(ctx) })
	}
	wg.Go(func() { relayErr = relay.Run(ctx) })
	for _, job := range extra {
		wg.Go(func() { job(ctx) })
	}
	wg.Wait()
	return errors.Join(relayErr, consumerErr)
}
