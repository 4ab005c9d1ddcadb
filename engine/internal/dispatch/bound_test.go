package dispatch

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/rules"
)

// neverIdentified finds no contact, ever, and notes the most memory the
// waiting actions held at any call.
type neverIdentified struct {
	d       *Dispatcher
	mu      sync.Mutex
	maxHeld int64
}

func (n *neverIdentified) Execute(context.Context, action.Action) (action.Result, error) {
	held := n.d.Summary().WaitingBytes
	n.mu.Lock()
	n.maxHeld = max(n.maxHeld, held)
	n.mu.Unlock()
	return action.Result{Calls: 1}, fmt.Errorf("track_event: %w", action.ErrContactNotFound)
}

// bigTracks yields n tracks of about size bytes, each of a contact of its
// own; with shared, their bytes share one buffer (the test's memory), else
// each has its own (as events read from a spool do).
type bigTracks struct {
	n, i, size int
	shared     []byte
}

func (s *bigTracks) Next(ctx context.Context) (delivery.Event, error) {
	if s.i == s.n {
		return delivery.Event{}, io.EOF
	}
	s.i++
	head := fmt.Sprintf(`{"type":"track","userId":"never-%06d","event":"Viewed","timestamp":1700000000,"properties":{"pad":"`, s.i)
	if s.shared != nil {
		// The same bytes for every event but the user id, which the rules
		// read: the id is written into the shared buffer's copy.
		raw := append([]byte(head), s.shared[len(head):]...)
		return delivery.Event{Raw: raw, Ref: fmt.Sprint(s.i)}, nil
	}
	raw := head + strings.Repeat("x", s.size-len(head)-3) + `"}}`
	return delivery.Event{Raw: []byte(raw), Ref: fmt.Sprint(s.i)}, nil
}

func trackEngine(t testing.TB) *engine.Engine {
	set, _ := rules.ParseAll(rules.Defaults()...)
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// TestWaitingActionsStayUnderTheMemoryBound: 20,000 tracks of 29 KB for
// contacts that never identify used to wait all at once (the heap went to
// 961 MB; only their number was bounded, by 100,000). Waiting actions now
// count their bytes toward MaxWaitingBytes: past it the one that has waited
// longest gets its last try early, and is dead-lettered as not found with
// why. The accounted bytes never pass the bound, and every event ends
// dead-lettered once.
func TestWaitingActionsStayUnderTheMemoryBound(t *testing.T) {
	const n, size, bound = 20_000, 29 << 10, 16 << 20
	ic := &neverIdentified{}
	var mu sync.Mutex
	early := 0
	d, err := New(Config{Engine: trackEngine(t), Executor: ic, Concurrency: 4, ContactWait: time.Hour, MaxWaitingBytes: bound,
		Sink: delivery.Sink{OnResult: func(r delivery.Result) {
			mu.Lock()
			defer mu.Unlock()
			if strings.HasSuffix(r.Errors[0], "; no identify for this contact came before the actions waiting filled their memory bound (16 MiB)") {
				early++
			}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	ic.d = d
	shared := []byte(strings.Repeat("x", size-3) + `"}}`)
	sum, err := d.Run(context.Background(), &bigTracks{n: n, size: size, shared: shared})
	if err != nil {
		t.Fatal(err)
	}
	perAction := int64(size + waitingOverhead)
	t.Logf("most held by waiting actions: %d bytes (%d actions of %d); %d given their last try early", ic.maxHeld, ic.maxHeld/perAction, perAction, sum.Early)
	if ic.maxHeld > bound || ic.maxHeld < bound/2 {
		t.Errorf("waiting actions held up to %d bytes, bound %d", ic.maxHeld, bound)
	}
	// At most a worker's share of the bound (4 MiB: 132 actions) waits at
	// once per worker: the end of the input flushes those, the others were
	// pushed out early.
	if sum.Early != early || sum.Early < n-4*int(bound/4/perAction) || sum.DeadLettered != n || sum.Failed != n || sum.WaitingBytes != 0 {
		t.Errorf("summary %+v; %d early by the results", sum, early)
	}
}

// BenchmarkWaiting29KB parks 20,000 tracks of 29 KB of their own for
// contacts that never identify and reports the heap in use once they have
// all been read: with the default bound (64 MiB of waiting actions), and
// without one (as before it: only the 100,000 actions bound).
func BenchmarkWaiting29KB(b *testing.B) {
	for _, c := range []struct {
		name  string
		bound int64
	}{{"bounded", DefaultMaxWaitingBytes}, {"unbounded", 1 << 40}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				ic := &neverIdentified{}
				d, _ := New(Config{Engine: trackEngine(b), Executor: ic, Concurrency: 8, ContactWait: time.Hour, MaxWaitingBytes: c.bound})
				ic.d = d
				src := &heapAtEnd{bigTracks: bigTracks{n: 20_000, size: 29 << 10}}
				d.Run(context.Background(), src)
				b.ReportMetric(float64(src.heap)/(1<<20), "heap-MiB")
			}
		})
	}
}

// heapAtEnd measures the heap in use when its last event has been taken
// (after a GC).
type heapAtEnd struct {
	bigTracks
	heap uint64
}

func (h *heapAtEnd) Next(ctx context.Context) (delivery.Event, error) {
	ev, err := h.bigTracks.Next(ctx)
	if err == io.EOF && h.heap == 0 {
		time.Sleep(100 * time.Millisecond) // the workers park the last events read
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		h.heap = ms.HeapInuse
	}
	return ev, err
}
