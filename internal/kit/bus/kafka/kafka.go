// Package kafka is the bus.Transport on Apache Kafka, through franz-go.
//
// Delivery is at least once. Publish returns once every record is
// acknowledged by all in-sync replicas (acks=all) through an idempotent
// producer, so a retried produce never duplicates or reorders a record
// within a partition. The record key is the aggregate id: events of one
// aggregate land in one partition, in publish order.
//
// A subscription is a consumer group with auto-commit disabled. The
// records of each partition are handled one after another (partitions in
// parallel); a record's offset is committed only after its handler
// returned nil, and a failing record is retried with capped exponential
// backoff, never skipped, so later records of its partition wait. Hence
// events of one aggregate are handled in order; events of different
// aggregates may interleave. After a crash or rebalance, records handled
// but not yet committed are delivered again. A new group starts at the
// oldest retained record.
package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/secondopinion/platform/internal/kit/bus"
)

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// commitTimeout bounds the commit made after a batch, also the last
	// one made while closing.
	commitTimeout = 10 * time.Second
	// pingTimeout keeps a readiness probe from hanging on a dead cluster.
	pingTimeout = 3 * time.Second
)

// Config locates the cluster and shapes the topic when this transport
// creates it.
type Config struct {
	Brokers           []string
	ClientID          string
	Topic             string // default bus.Topic
	Partitions        int32  // default 6
	ReplicationFactor int16  // default -1: the broker's default
}

// Transport publishes to and consumes from one topic.
type Transport struct {
	cfg Config
	cl  *kgo.Client
	adm *kadm.Client

	mu   sync.Mutex
	subs map[*subscription]struct{}
}

// New connects to the cluster and creates the topic unless it exists.
func New(ctx context.Context, cfg Config) (*Transport, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers configured")
	}
	if cfg.Topic == "" {
		cfg.Topic = bus.Topic
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 6
	}
	if cfg.ReplicationFactor == 0 {
		cfg.ReplicationFactor = -1
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		// franz-go's producer is idempotent by default, which needs
		// acks=all: a retried batch is neither duplicated nor reordered.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic(cfg.Topic),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka: new client: %w", err)
	}
	t := &Transport{cfg: cfg, cl: cl, adm: kadm.NewClient(cl), subs: map[*subscription]struct{}{}}
	res, err := t.adm.CreateTopic(ctx, cfg.Partitions, cfg.ReplicationFactor, nil, cfg.Topic)
	if err == nil {
		err = res.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		cl.Close()
		return nil, fmt.Errorf("kafka: create topic %s: %w", cfg.Topic, err)
	}
	return t, nil
}

// Publish produces the events in order and waits for every acknowledgement.
func (t *Transport) Publish(ctx context.Context, events ...bus.Event) error {
	records := make([]*kgo.Record, len(events))
	for i, e := range events {
		value, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("kafka: encode event %s: %w", e.ID, err)
		}
		records[i] = &kgo.Record{
			Key:   []byte(e.AggregateID),
			Value: value,
			Headers: []kgo.RecordHeader{
				{Key: "type", Value: []byte(e.Type)},
				{Key: "id", Value: []byte(e.ID)},
				{Key: "traceparent", Value: []byte(e.Traceparent)},
			},
		}
	}
	if err := t.cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("kafka: publish %d events: %w", len(events), err)
	}
	return nil
}

// Subscribe joins the consumer group and handles its partitions until the
// subscription or the transport is closed.
func (t *Transport) Subscribe(ctx context.Context, group string, h bus.Handler) (bus.Subscription, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(t.cfg.Brokers...),
		kgo.ClientID(t.cfg.ClientID),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(t.cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// Polled records are handled and committed before a rebalance
		// hands their partitions to another member.
		kgo.BlockRebalanceOnPoll(),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka: subscribe %s: %w", group, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &subscription{t: t, cl: cl, group: group, h: h, ctx: runCtx, cancel: cancel, done: make(chan struct{})}
	t.mu.Lock()
	t.subs[s] = struct{}{}
	t.mu.Unlock()
	go s.run()
	return s, nil
}

// Ping asks the cluster for the topic's metadata.
func (t *Transport) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	md, err := t.adm.Metadata(ctx, t.cfg.Topic)
	if err == nil {
		err = md.Topics.Error()
	}
	if err != nil {
		return fmt.Errorf("kafka: ping: %w", err)
	}
	return nil
}

// Close stops every subscription, then the producer.
func (t *Transport) Close() error {
	t.mu.Lock()
	subs := make([]*subscription, 0, len(t.subs))
	for s := range t.subs {
		subs = append(subs, s)
	}
	t.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
	t.cl.Close()
	return nil
}

type subscription struct {
	t      *Transport
	cl     *kgo.Client
	group  string
	h      bus.Handler
	ctx    context.Context // cancelled by Close; handlers get it
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Close cancels the handler's context, waits for the loop to commit what
// was handled, and leaves the group.
func (s *subscription) Close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.done
		s.cl.CloseAllowingRebalance()
		s.t.mu.Lock()
		delete(s.t.subs, s)
		s.t.mu.Unlock()
	})
	return nil
}

func (s *subscription) run() {
	defer close(s.done)
	for {
		fetches := s.cl.PollFetches(s.ctx)
		if s.ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			slog.Warn("kafka fetch", "group", s.group, "topic", topic, "partition", p, "err", err)
		})
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			handled []*kgo.Record
		)
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			wg.Go(func() {
				if last := s.handlePartition(p.Records); last != nil {
					mu.Lock()
					handled = append(handled, last)
					mu.Unlock()
				}
			})
		})
		wg.Wait()
		if len(handled) > 0 {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), commitTimeout)
			if err := s.cl.CommitRecords(ctx, handled...); err != nil {
				// The records come again after a restart or rebalance.
				slog.Warn("kafka commit", "group", s.group, "err", err)
			}
			cancel()
		}
		s.cl.AllowRebalance()
	}
}

// handlePartition handles records in order and returns the last one
// handled, or nil; it stops early only when the subscription closes.
func (s *subscription) handlePartition(records []*kgo.Record) *kgo.Record {
	var last *kgo.Record
	for _, r := range records {
		if !s.handle(r) {
			return last
		}
		last = r
	}
	return last
}

// handle delivers one record until the handler accepts it; false means the
// subscription closed first.
func (s *subscription) handle(r *kgo.Record) bool {
	var e bus.Event
	if err := json.Unmarshal(r.Value, &e); err != nil {
		// No handler can ever accept it; holding the partition on it
		// would stop every later event.
		slog.Error("kafka: skip undecodable record", "group", s.group, "partition", r.Partition, "offset", r.Offset, "err", err)
		return true
	}
	backoff := minBackoff
	for {
		err := s.h(s.ctx, e)
		if err == nil {
			return true
		}
		slog.Warn("kafka: handler failed, retrying", "group", s.group, "event", e.ID, "type", e.Type, "backoff", backoff, "err", err)
		select {
		case <-s.ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
