package spool

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

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
