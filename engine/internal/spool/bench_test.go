package spool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// BenchmarkAppendBatch100 appends batches of 100 events (~600 bytes each)
// from parallel goroutines, each batch acknowledged only once fsynced: the
// spool's part of serve's ingestion rate. Reports events/s and commits
// (fsyncs) per batch.
func BenchmarkAppendBatch100(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	pad := strings.Repeat("x", 450)
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			base := next.Add(100)
			items := make([]delivery.Item, 100)
			for i := range items {
				id := fmt.Sprintf("msg-%d", base+int64(i))
				items[i] = delivery.Item{ID: id, Data: []byte(`{"type":"track","userId":"u1","event":"Order Completed","messageId":"` + id + `","properties":{"note":"` + pad + `"}}`)}
			}
			if _, err := s.Append(context.Background(), items); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(s.Commits())/float64(b.N), "commits/batch")
}

// BenchmarkDeadLetterAndSettle is a failed event's end in serve: its dead
// letter kept (PutDeadLetter, one commit of its own: the dispatcher's
// dead letters go one at a time) and then the event settled (SettleSync,
// another commit). Reports the dead letter's and the settle's time apart;
// nosync leaves out the fsyncs, which take most of the time, to show the
// rest.
func BenchmarkDeadLetterAndSettle(b *testing.B) {
	b.Run("fsync", func(b *testing.B) { benchDeadLetterAndSettle(b, false) })
	b.Run("nosync", func(b *testing.B) { benchDeadLetterAndSettle(b, true) })
}

func benchDeadLetterAndSettle(b *testing.B, noSync bool) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.db.NoSync = noSync
	pad := strings.Repeat("x", 450)
	for i := 0; i < b.N; i += 100 {
		items := make([]delivery.Item, 0, 100)
		for j := i; j < min(i+100, b.N); j++ {
			id := fmt.Sprintf("msg-%d", j)
			items = append(items, delivery.Item{ID: id, Ref: "messageId " + id, Data: []byte(`{"type":"track","userId":"u1","event":"Order Completed","messageId":"` + id + `","properties":{"note":"` + pad + `"}}`)})
		}
		if _, err := s.Append(context.Background(), items); err != nil {
			b.Fatal(err)
		}
	}
	src := s.Source()
	refused := errors.New(`intercom: 422 parameter_invalid: Custom attribute 'plan' does not exist`)
	var put, settle time.Duration
	b.ResetTimer()
	for range b.N {
		ev, err := src.Next(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := s.PutDeadLetter(delivery.NewDeadLetter(ev, "Track Event", "track_event", refused, start)); err != nil {
			b.Fatal(err)
		}
		put += time.Since(start)
		start = time.Now()
		ev.Done()
		settle += time.Since(start)
	}
	b.ReportMetric(float64(put.Nanoseconds())/float64(b.N), "put-ns/op")
	b.ReportMetric(float64(settle.Nanoseconds())/float64(b.N), "settle-ns/op")
}
