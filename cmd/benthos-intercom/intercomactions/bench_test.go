package intercomactions

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/intercom-actions/intercom-actions/engine/intercom/intercomtest"
)

// workload is n events, about n/5 users: each user's identify, group, two
// tracks and a second identify, in that order, user after user in each
// step (as engine/dispatch's BenchmarkSend).
func workload(n int) []string {
	users := max(n/5, 1)
	var out []string
	for step := 0; step < 5; step++ {
		for u := 0; u < users; u++ {
			ts := fmt.Sprintf("2024-01-01T00:%02d:%02dZ", step, u%60)
			switch step {
			case 0:
				out = append(out, fmt.Sprintf(`{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com","name":"User %d"},"timestamp":%q}`, u, u, u, ts))
			case 1:
				out = append(out, fmt.Sprintf(`{"type":"group","userId":"u%d","groupId":"g%d","traits":{"name":"Company %d","employees":%d,"plan":"pro"}}`, u, u%50, u%50, u%50+1))
			case 2:
				out = append(out, fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Signed Up","timestamp":%q,"properties":{"plan":"pro","seats":%d}}`, u, ts, u%7))
			case 3:
				out = append(out, fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Order Completed","timestamp":%q,"properties":{"revenue":%d.5,"currency":"EUR"}}`, u, ts, u%100))
			case 4:
				out = append(out, fmt.Sprintf(`{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com","name":"User %d (renamed)"},"timestamp":%q}`, u, u, u, ts))
			}
		}
	}
	return out[:n]
}

// BenchmarkPipeline runs b.N events through a Benthos stream: an
// in-memory input of batches (of 100, or 1: a message at a time) →
// intercom_actions (concurrency 16) → an output that drops them, against
// the simulator on loopback with no limits. It reports events/s, from the
// first batch in to the last batch out. Run with -benchtime=20000x.
func BenchmarkPipeline(b *testing.B) {
	for _, size := range []int{100, 1} {
		b.Run(fmt.Sprintf("batch-%d", size), func(b *testing.B) { benchPipeline(b, size) })
	}
}

func benchPipeline(b *testing.B, size int) {
	sim := intercomtest.NewServer(intercomtest.Options{Token: "tok", MaxRequests: 1000})
	defer sim.Close()
	env, mm := testEnv(b)
	sb := env.NewStreamBuilder()
	if err := sb.SetLoggerYAML("level: none"); err != nil {
		b.Fatal(err)
	}
	if err := sb.SetMetricsYAML("mem: {}"); err != nil {
		b.Fatal(err)
	}
	produce, err := sb.AddBatchProducerFunc()
	if err != nil {
		b.Fatal(err)
	}
	if err := sb.AddProcessorYAML(fmt.Sprintf("intercom_actions: {api_base: %q, token: tok, concurrency: 16}", sim.URL())); err != nil {
		b.Fatal(err)
	}
	if err := sb.AddBatchConsumerFunc(func(context.Context, service.MessageBatch) error { return nil }); err != nil {
		b.Fatal(err)
	}
	stream, err := sb.Build()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stream.Run(ctx) }()

	events := workload(max(b.N, 5))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(events); i += size {
		batch := make(service.MessageBatch, 0, size)
		for _, ev := range events[i:min(i+size, len(events))] {
			batch = append(batch, service.NewMessage([]byte(ev)))
		}
		if err := produce(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := stream.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	<-done
	m := mm.ours()
	if failed := m["intercom_actions_events_total{failed}"]; failed > 0 {
		b.Fatalf("%d events failed: %v", failed, m)
	}
	b.ReportMetric(float64(len(events))/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(m["intercom_actions_calls_total{}"])/float64(len(events)), "calls/event")
}
