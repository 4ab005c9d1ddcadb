package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// Forwarder writes events to a topic, each keyed by its user (Key), and
// returns once the brokers have acknowledged them (every in-sync replica:
// acks=all, idempotent): it is the ingest.Store of serve --forward-kafka,
// which so answers a request only once its events are in Kafka.
type Forwarder struct {
	cl    *kgo.Client
	topic string
}

// NewForwarder connects to the brokers and checks that they answer.
func NewForwarder(ctx context.Context, conn Conn, topic string) (*Forwarder, error) {
	if topic == "" {
		return nil, errors.New("kafka: a topic is needed")
	}
	// A broker that does not answer makes a request fail (503: the client
	// sends it again later) rather than hang.
	cl, err := kgo.NewClient(append(conn.opts(), kgo.DefaultProduceTopic(topic), kgo.RecordDeliveryTimeout(15*time.Second))...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if err := ping(ctx, cl, conn); err != nil {
		cl.Close()
		return nil, err
	}
	return &Forwarder{cl: cl, topic: topic}, nil
}

// Append writes the events and waits for the brokers' acknowledgement. A
// messageId is not de-duplicated here (Kafka keeps what it is given); the
// event keeps it, and Intercom ignores a data event of the same contact,
// name and created_at as one it stored.
func (f *Forwarder) Append(ctx context.Context, items []delivery.Item) (delivery.Stored, error) {
	recs := make([]*kgo.Record, len(items))
	for i, it := range items {
		recs[i] = &kgo.Record{Topic: f.topic, Key: Key(it.Data), Value: it.Data}
	}
	if err := f.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return delivery.Stored{}, fmt.Errorf("kafka: writing to topic %s: %w", f.topic, err)
	}
	return delivery.Stored{Stored: len(items)}, nil
}

// Close waits for nothing (Append is synchronous) and closes the connections.
func (f *Forwarder) Close() { f.cl.Close() }

// topicDeadLetters returns a dead-letter store
// that writes each dead letter, as the JSON of delivery.DeadLetter (the
// event, where it was read, the rule, the action, the error), to topic
// with the event's key, and returns once the brokers have it. The header
// "error" repeats the reason, for tools that filter on headers.
func topicDeadLetters(cl *kgo.Client, topic string) func(context.Context, delivery.DeadLetter) error {
	return func(ctx context.Context, dl delivery.DeadLetter) error {
		b, err := json.Marshal(dl)
		if err != nil {
			return err
		}
		rec := &kgo.Record{Topic: topic, Key: Key(dl.Event), Value: b,
			Headers: []kgo.RecordHeader{{Key: "error", Value: []byte(dl.Error)}}}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			return fmt.Errorf("kafka: writing the dead letter to topic %s: %w", topic, err)
		}
		return nil
	}
}
