package outbox_test

import (
	"testing"

	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/outbox/outboxtest"
)

// BenchmarkOutboxToConsumer measures events/s from Add to the consumer's
// committed effect. Transport packages run outboxtest.Pipeline with their
// own transport.
func BenchmarkOutboxToConsumer(b *testing.B) {
	outboxtest.Pipeline(b, inproc.New())
}
