package processor

import (
	"context"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// openSource gives its events, then waits for more until its run stops.
type openSource struct{ batchSource }

func (s *openSource) Next(ctx context.Context) (Event, error) {
	if s.next < len(s.events) {
		return s.batchSource.Next(ctx)
	}
	<-ctx.Done()
	return Event{}, ctx.Err()
}

// TestWaitingBytesIsTheRunsWaitingMemory: WaitingBytes (serve reads it on
// every request, to refuse events past 90% of WaitingMax) is what the
// run's Summary says its waiting actions hold: each waiting track counts
// its event's bytes and 4 KiB; none once the run has stopped.
func TestWaitingBytesIsTheRunsWaitingMemory(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	p := newProcessor(t, Config{APIBase: sim.URL(), ContactWait: time.Hour})
	events := []string{
		`{"type":"track","userId":"never-1","event":"Viewed","timestamp":1700000000}`,
		`{"type":"track","userId":"never-2","event":"Viewed","timestamp":1700000000}`,
	}
	src := &openSource{}
	want := int64(0)
	for _, e := range events {
		src.events = append(src.events, []byte(e))
		want += int64(len(e)) + 4<<10
	}
	run := p.Start(context.Background(), src, Sink{})
	waitUntil(t, "both tracks waiting", func() bool { return run.Summary().Waited == 2 })
	if got, sum := p.WaitingBytes(), run.Summary().WaitingBytes; got != want || sum != want {
		t.Errorf("WaitingBytes %d, the run's summary %d; want %d", got, sum, want)
	}
	run.Stop()
	run.Wait()
	if got := p.WaitingBytes(); got != 0 {
		t.Errorf("WaitingBytes after the run: %d", got)
	}
}
