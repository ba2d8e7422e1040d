package app

import (
	"context"
	"fmt"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/bus/jetstream"
	"github.com/secondopinion/platform/internal/kit/bus/kafka"
)

// openBus picks the event transport: Kafka or NATS JetStream when
// configured (LoadConfig refuses both), else the in-process bus, on which
// the consumers among targets are expected groups: until each has
// subscribed, publishing waits in the outbox instead of skipping it.
func openBus(ctx context.Context, cfg Config, targets []Target) (bus.Transport, error) {
	switch {
	case len(cfg.KafkaBrokers) > 0:
		t, err := kafka.New(ctx, kafka.Config{Brokers: cfg.KafkaBrokers, ClientID: processName(cfg)})
		if err != nil {
			return nil, fmt.Errorf("open kafka bus: %w", err)
		}
		return t, nil
	case cfg.NATSURL != "":
		t, err := jetstream.New(ctx, jetstream.Config{URL: cfg.NATSURL, Name: processName(cfg)})
		if err != nil {
			return nil, fmt.Errorf("open nats bus: %w", err)
		}
		return t, nil
	default:
		var groups []string
		for _, t := range targets {
			if len(t.Consumes) > 0 {
				groups = append(groups, t.Name)
			}
		}
		return inproc.New(groups...), nil
	}
}

func processName(cfg Config) string {
	if cfg.ServiceName != "" {
		return cfg.ServiceName
	}
	return "secondopinion"
}
