package intercomactions

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// workload is n events of simulator.Workload (n/5 users, rounded up, in 50
// companies), as engine/dispatch's BenchmarkSend sends.
func workload(n int) []string {
	return simulator.Workload((n+4)/5, 50)[:n]
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
	sim := simulator.NewServer(simulator.Options{Token: "tok", MaxRequests: 1000})
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
