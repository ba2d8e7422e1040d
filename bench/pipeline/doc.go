// Package pipeline benchmarks the event pipeline — outbox, relay,
// transport, consumer — over the in-process transport. The Kafka and
// JetStream packages run outboxtest.Pipeline in their own benchmarks; the
// in-process package does not, so bench/RESULTS.md gets it from here.
package pipeline
