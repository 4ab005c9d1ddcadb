package spool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/dispatch"
	"github.com/intercom-actions/intercom-actions/rules"
)

// failingDisk fails the spool's writes while it is on: a full disk.
type failingDisk struct{ on atomic.Bool }

var errDiskFull = errors.New("no space left on device (injected)")

func (d *failingDisk) fail() error {
	if d.on.Load() {
		return errDiskFull
	}
	return nil
}

// openOnDisk opens a spool in dir (closed by the test's end, or before
// it) whose writes fail while its disk is full, holding the n events fill
// makes.
func openOnDisk(t *testing.T, dir string, n int) (*Spool, *failingDisk) {
	t.Helper()
	disk := &failingDisk{}
	s := open(t, dir, Options{failWrites: disk.fail, RetryInterval: 5 * time.Millisecond})
	fill(t, s, n)
	return s, disk
}

// refusingIntercom sends every track but those of events e0, e4, e8, ...,
// which it refuses (they become dead letters).
type refusingIntercom struct {
	mu      sync.Mutex
	sent    map[string]int
	refused atomic.Int64
}

func (r *refusingIntercom) Execute(_ context.Context, a action.Action) (action.Result, error) {
	name := a.Fields.(*action.TrackEvent).EventName
	var n int
	fmt.Sscanf(name, "e%d", &n)
	if n%4 == 0 {
		r.refused.Add(1)
		return action.Result{Calls: 1}, errors.New("intercom: 422 refused")
	}
	r.mu.Lock()
	r.sent[name]++
	r.mu.Unlock()
	return action.Result{Calls: 1}, nil
}

// fill appends n tracks, e0 to e(n-1), of 7 contacts: acknowledged events.
func fill(t *testing.T, s *Spool, n int) {
	t.Helper()
	var items []delivery.Item
	for j := range n {
		items = append(items, delivery.Item{ID: fmt.Sprint(j), Data: []byte(fmt.Sprintf(`{"type":"track","userId":"u%d","event":"e%d","timestamp":1700000000}`, j%7, j))})
	}
	if _, err := s.Append(context.Background(), items); err != nil {
		t.Fatal(err)
	}
}

func defaultEngine(t *testing.T) *engine.Engine {
	t.Helper()
	set, _ := rules.ParseAll(rules.Defaults()...)
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// deadNames are the events of the spool's dead letters, in order, and
// whether each says why it failed.
func deadNames(t *testing.T, s *Spool) []string {
	t.Helper()
	var names []string
	err := s.DeadLetters(func(dl DeadLetter) error {
		var n int
		fmt.Sscanf(string(dl.Event)[len(`{"type":"track","userId":"u0","event":"`):], "e%d", &n)
		if dl.Error != "intercom: 422 refused" {
			t.Errorf("dead letter %d: %q", dl.ID, dl.Error)
		}
		names = append(names, fmt.Sprintf("e%d", n))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// checkNothingLost: every event is sent, or a dead letter exactly once
// (the refused ones, as a clean run makes them), and the spool is empty.
func checkNothingLost(t *testing.T, s *Spool, ic *refusingIntercom, n int) {
	t.Helper()
	var want []string
	for j := range n {
		name := fmt.Sprintf("e%d", j)
		if j%4 == 0 {
			want = append(want, name)
		} else if ic.sent[name] == 0 {
			t.Errorf("%s: neither sent nor dead-lettered", name)
		}
	}
	slices.Sort(want)
	if got := deadNames(t, s); !slices.Equal(got, want) {
		t.Errorf("dead letters %v\nwant (a clean run's) %v", got, want)
	}
	if s.Depth() != 0 {
		t.Errorf("%d events left in the spool", s.Depth())
	}
}

// runUntilEmpty dispatches the spool until it is empty, then stops.
func runUntilEmpty(t *testing.T, s *Spool, ic *refusingIntercom) delivery.Summary {
	t.Helper()
	run := startDispatch(t, s, ic)
	waitUntil(t, "the spool emptied", func() bool { return s.Depth() == 0 })
	run.Stop()
	sum, _ := run.Wait()
	return sum
}

// startDispatch runs a dispatcher on the spool, its dead letters kept
// there and tried again every 5 ms while they cannot be written (serve's).
// after, if set, is called after each dead letter is kept.
func startDispatch(t *testing.T, s *Spool, ic *refusingIntercom, after ...func()) delivery.Run {
	put := func(dl delivery.DeadLetter) error {
		err := s.PutDeadLetter(dl)
		if err == nil {
			for _, f := range after {
				f()
			}
		}
		return err
	}
	d, _ := dispatch.New(dispatch.Config{Engine: defaultEngine(t), Executor: ic, Concurrency: 4,
		Sink: delivery.Sink{DeadLetters: delivery.DeadLetterFunc(put), DeadLetterRetry: 5 * time.Millisecond}})
	return d.Start(context.Background(), s.Source())
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s, still waiting for %s", what)
		}
	}
}

// TestFullDiskLosesNoAckedEvent: events are acknowledged (in the spool),
// then the disk fills: no dead letter can be written, no event settled.
// An event is settled only once its dead letter is written, so none is
// lost: while the disk is full, the spool says why writes fail (serve's
// /readyz); when it frees up during the run, the dead letters are written
// and their events settled; when the run is stopped first, the events stay
// in the spool and the next start dead-letters them. Either way the dead
// letters end as a clean run's, each once.
func TestFullDiskLosesNoAckedEvent(t *testing.T) {
	const n = 120
	t.Run("the disk frees up during the run", func(t *testing.T) {
		s, disk := openOnDisk(t, t.TempDir(), n)
		disk.on.Store(true)
		ic := &refusingIntercom{sent: map[string]int{}}
		run := startDispatch(t, s, ic)
		// Intercom refuses first; the dead letter's write fails a moment later.
		waitUntil(t, "a failed write", func() bool { return ic.refused.Load() > 0 && s.WriteError() != nil })
		if err := s.WriteError(); err.Error() != "spool: write: no space left on device (injected)" {
			t.Errorf("WriteError while the disk is full: %v", err)
		}
		if s.Depth() != n {
			t.Errorf("%d events in the spool while nothing can be written, want %d", s.Depth(), n)
		}
		disk.on.Store(false)
		waitUntil(t, "the spool emptied", func() bool { return s.Depth() == 0 })
		run.Stop()
		sum, _ := run.Wait()
		if s.WriteError() != nil || sum.Unsettled != 0 || sum.DeadLettered != n/4 {
			t.Errorf("write error %v, summary %+v", s.WriteError(), sum)
		}
		checkNothingLost(t, s, ic, n)
	})
	t.Run("stopped while the disk is full", func(t *testing.T) {
		dir := t.TempDir()
		s, disk := openOnDisk(t, dir, n)
		disk.on.Store(true)
		ic := &refusingIntercom{sent: map[string]int{}}
		run := startDispatch(t, s, ic)
		waitUntil(t, "a refused event", func() bool { return ic.refused.Load() > 0 })
		run.Stop()
		sum, err := run.Wait()
		if !errors.Is(err, delivery.ErrStopped) || sum.Unsettled == 0 || sum.DeadLettered != 0 {
			t.Errorf("stopped run: %v %+v", err, sum)
		}
		s.Close() // its last commit fails too: the settles are lost, not the events
		s = open(t, dir, Options{})
		if s.Depth() != n {
			t.Errorf("%d events in the spool after the restart, want all %d", s.Depth(), n)
		}
		runUntilEmpty(t, s, ic)
		checkNothingLost(t, s, ic, n)
	})
	t.Run("the disk fills between a dead letter and its settle", func(t *testing.T) {
		dir := t.TempDir()
		s, disk := openOnDisk(t, dir, n)
		ic := &refusingIntercom{sent: map[string]int{}}
		run := startDispatch(t, s, ic, func() { disk.on.Store(true) })
		waitUntil(t, "a failed write", func() bool { return s.WriteError() != nil })
		run.Stop()
		run.Wait()
		s.Close() // the settle of the event dead-lettered is lost with the disk
		s = open(t, dir, Options{})
		var kept []DeadLetter
		s.DeadLetters(func(dl DeadLetter) error { kept = append(kept, dl); return nil })
		if len(kept) != 1 || !slices.ContainsFunc(drain(t, s, int(s.Depth())), func(e delivery.Event) bool { return string(e.Raw) == string(kept[0].Event) }) {
			t.Fatalf("before the restart's run: dead letters %+v, want one, its event still in the spool", kept)
		}
		runUntilEmpty(t, s, ic) // the event comes again, and is refused again
		checkNothingLost(t, s, ic, n)
	})
}
