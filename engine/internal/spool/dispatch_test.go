package spool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/dispatch"
	"github.com/intercom-actions/intercom-actions/rules"
)

// countingIntercom counts how often each data event is sent and stops the
// dispatcher after a number of them.
type countingIntercom struct {
	mu    sync.Mutex
	sent  map[string]int
	after int
	stop  func()
}

func (c *countingIntercom) Execute(_ context.Context, a action.Action) (action.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent[a.Fields.(*action.TrackEvent).EventName]++
	if len(c.sent) == c.after {
		c.stop()
	}
	return action.Result{Calls: 1}, nil
}

// TestDispatchFromTheSpoolAcrossRestarts: a dispatcher reads the spool,
// is stopped midway, and the spool is closed and reopened (a restart),
// twice; the events a stop left are dispatched after the restart, and every
// event is sent exactly once.
func TestDispatchFromTheSpoolAcrossRestarts(t *testing.T) {
	set, _ := rules.ParseAll(rules.Defaults()...)
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := 0; i < n; i += 100 {
		var items []delivery.Item
		for j := i; j < i+100; j++ {
			items = append(items, delivery.Item{ID: fmt.Sprint(j), Data: []byte(fmt.Sprintf(`{"type":"track","userId":"u%d","event":"e%d","timestamp":1700000000}`, j%37, j))})
		}
		if _, err := s.Append(context.Background(), items); err != nil {
			t.Fatal(err)
		}
	}
	fake := &countingIntercom{sent: map[string]int{}}
	for run, stopAfter := range []int{700, 1900, n} {
		d, err := dispatch.New(dispatch.Config{Engine: eng, Executor: fake, Concurrency: 4})
		if err != nil {
			t.Fatal(err)
		}
		fake.after, fake.stop = stopAfter, d.Stop
		sum, err := d.Run(context.Background(), s.Source())
		if !errors.Is(err, delivery.ErrStopped) {
			t.Fatalf("run %d: %v", run, err)
		}
		s.Close() // settles are written on close
		if s, err = Open(dir, Options{}); err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d: %d read, %d sent, %d unsettled; %d left in the spool", run, sum.Read, sum.Sent, sum.Unsettled, s.Depth())
		if s.Depth() != int64(n-len(fake.sent)) {
			t.Errorf("run %d: %d in the spool, %d sent of %d", run, s.Depth(), len(fake.sent), n)
		}
	}
	defer s.Close()
	for name, c := range fake.sent {
		if c != 1 {
			t.Errorf("%s sent %d times", name, c)
		}
	}
	if len(fake.sent) != n || s.Depth() != 0 {
		t.Errorf("%d sent, %d left", len(fake.sent), s.Depth())
	}
}
