package samesecond

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkMemoryPerPair measures the heap a Seconds takes per contact and
// event name pair at its bound of SecondsPerKey seconds each, every event
// with a messageId of its own (a UUID), with runtime.MemStats: reported as
// bytes/pair; DefaultKeys pairs take DefaultKeys times that.
func BenchmarkMemoryPerPair(b *testing.B) {
	const pairs = 10_000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s := New(pairs)
		for p := range pairs {
			contact := fmt.Sprintf("user:%d", p)
			for i := range int64(SecondsPerKey) {
				id := fmt.Sprintf("%08x-0000-4000-8000-%012x", p, i)
				s.Place(contact, "Order Completed", 1_700_000_000+i, id, true)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if s.Len() != pairs {
			b.Fatalf("%d pairs", s.Len())
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/pairs, "bytes/pair")
		runtime.KeepAlive(s)
	}
}

// BenchmarkPlace is the cost of placing an event for a pair that holds
// SecondsPerKey seconds, at a second of its own.
func BenchmarkPlace(b *testing.B) {
	s := New(0)
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("00000000-0000-4000-8000-%012x", i)
	}
	i := int64(0)
	for b.Loop() {
		s.Place("user:1", "Order Completed", 1_700_000_000+i, ids[i%1024], true)
		i++
	}
}
