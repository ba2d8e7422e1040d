package pipeline

import (
	"testing"

	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/outbox/outboxtest"
)

// BenchmarkOutboxToConsumer runs outboxtest.Pipeline over inproc.New(); the
// first sub-benchmark names the transport, as run.sh expects.
func BenchmarkOutboxToConsumer(b *testing.B) {
	b.Run("inproc", func(b *testing.B) {
		tr := inproc.New()
		b.Cleanup(func() { tr.Close() })
		outboxtest.Pipeline(b, tr)
	})
}
