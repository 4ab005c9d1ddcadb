package dispatch

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/pause"
)

// pausedAfterStop knows no contact; once its dispatcher is stopped, every
// call is held (pause.ErrHeld at once), as a client waiting for a refused
// token answers after the run's stop. Past maxAfter calls after the stop
// it fails them instead (a plain error), so that a dispatcher looping on
// held calls ends, and the test can say how many it made.
type pausedAfterStop struct {
	d        *Dispatcher
	stopAt   int // the call that stops the run (it is not found itself)
	maxAfter int

	mu         sync.Mutex
	calls      int
	afterStop  int
	stopIssued bool
}

func (e *pausedAfterStop) Execute(context.Context, action.Action) (action.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	if e.calls == e.stopAt {
		e.d.Stop()
		e.stopIssued = true
		return action.Result{Calls: 1}, fmt.Errorf("track_event: %w", action.ErrContactNotFound)
	}
	if !e.stopIssued {
		return action.Result{Calls: 1}, fmt.Errorf("track_event: %w", action.ErrContactNotFound)
	}
	e.afterStop++
	if e.afterStop > e.maxAfter {
		return action.Result{Calls: 1}, fmt.Errorf("track_event: the test's executor gave up after %d held calls", e.maxAfter)
	}
	return action.Result{Calls: 1, Undelivered: 1}, fmt.Errorf("intercom: POST /events: %w (the token was refused: Unauthorized)", pause.ErrHeld)
}

// TestStopAtTheWaitingLimitEndsWhileCallsAreHeld: with MaxWaiting
// reached, a new waiting action pushes the oldest out for its last try.
// When the run was stopped meanwhile and delivery is paused, that try is
// held and the action waits again: the eviction used to take it again, and
// again, forever (serve spun until --shutdown-timeout, send hung). Now a
// held last try ends the eviction: one held call after the stop, and every
// event is left to its source, nothing dead-lettered.
func TestStopAtTheWaitingLimitEndsWhileCallsAreHeld(t *testing.T) {
	ex := &pausedAfterStop{stopAt: 3, maxAfter: 50}
	var dl bytes.Buffer
	d, err := New(Config{Engine: trackEngine(t), Executor: ex, Concurrency: 1, ContactWait: time.Hour, MaxWaiting: 2,
		Sink: delivery.Sink{DeadLetters: delivery.DeadLetterWriter(&dl)}})
	if err != nil {
		t.Fatal(err)
	}
	ex.d = d
	log := &settleLog{refs: map[string]int{}}
	src := log.source(`{"type":"track","userId":"u1","event":"A","timestamp":1700000000}
{"type":"track","userId":"u2","event":"A","timestamp":1700000000}
{"type":"track","userId":"u3","event":"A","timestamp":1700000000}
`, true)
	sum, err := d.Run(context.Background(), src)
	if err != delivery.ErrStopped {
		t.Errorf("Run: %v, want %v", err, delivery.ErrStopped)
	}
	if ex.afterStop != 1 {
		t.Errorf("%d calls after the stop, want 1 (the held last try)", ex.afterStop)
	}
	if sum.Read != 3 || sum.Unsettled != 3 || sum.Events != 0 || sum.DeadLettered != 0 || sum.WaitingBytes != 0 || dl.Len() != 0 {
		t.Errorf("summary %+v; dead letters:\n%s", sum, dl.String())
	}
	if n, _ := log.count(); n != 0 {
		t.Errorf("settled %v, want none", log.refs)
	}
}

// heldSecond parks track_event (its contact is unknown), and holds the
// identify of the referrer that follows it in the same event: the token
// was refused and the run stopped while the identify waited.
type heldSecond struct{ d *Dispatcher }

func (h heldSecond) Execute(_ context.Context, a action.Action) (action.Result, error) {
	if a.Kind.Name == "track_event" {
		return action.Result{Calls: 1}, fmt.Errorf("%w (external_id %q)", action.ErrContactNotFound, a.Contact().ExternalID)
	}
	h.d.Stop()
	return action.Result{Calls: 1, Undelivered: 1}, fmt.Errorf("intercom: POST /contacts: %w (the token was refused: Unauthorized)", pause.ErrHeld)
}

// TestAHeldActionIsNotDeadLetteredBehindAWaitingOne: an event of two
// actions, the first waiting for its contact's identify, the second held
// by a refused token until the run stops. Both used to be dead-lettered
// ("not sent: the run was stopped ..."), though nothing is dead-lettered
// for a refused token; now the event is left whole to its source.
func TestAHeldActionIsNotDeadLetteredBehindAWaitingOne(t *testing.T) {
	eng := referrerEngine(t)
	for _, redeliver := range []bool{true, false} {
		t.Run(fmt.Sprint("redeliverable=", redeliver), func(t *testing.T) {
			var dl bytes.Buffer
			d, err := New(Config{Engine: eng, Executor: heldSecond{}, Concurrency: 1, ContactWait: time.Hour,
				Sink: delivery.Sink{DeadLetters: delivery.DeadLetterWriter(&dl)}})
			if err != nil {
				t.Fatal(err)
			}
			d.cfg.Executor = heldSecond{d}
			log := &settleLog{refs: map[string]int{}}
			sum, err := d.Run(context.Background(), log.source(`{"type":"track","userId":"ghost","event":"B","timestamp":1700000000,"properties":{"referrer":"r1"}}`+"\n", redeliver))
			if err != delivery.ErrStopped {
				t.Errorf("Run: %v, want %v", err, delivery.ErrStopped)
			}
			settled, _ := log.count()
			if redeliver {
				if sum.Unsettled != 1 || sum.Events != 0 || sum.DeadLettered != 0 || settled != 0 || dl.Len() != 0 {
					t.Errorf("summary %+v, settled %v; dead letters:\n%s", sum, log.refs, dl.String())
				}
				return
			}
			// A source that cannot give the event again: both actions are
			// dead-lettered, each with its rule, so nothing read is lost.
			want := []string{
				`"ref":"in:1","rule":"Identify Referrer","action":"identify_contact","error":"not sent: the run was stopped","time":`,
				`"ref":"in:1","rule":"Track Event","action":"track_event","error":"not sent: the run was stopped while it waited for its contact's identify","time":`,
			}
			lines := strings.Split(strings.TrimSpace(dl.String()), "\n")
			if len(lines) != len(want) || sum.Failed != 1 || sum.DeadLettered != 2 || settled != 1 {
				t.Fatalf("summary %+v, settled %v; dead letters:\n%s", sum, log.refs, dl.String())
			}
			for i, w := range want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("dead letter %d:\n%s\nwant it to hold\n%s", i+1, lines[i], w)
				}
			}
		})
	}
}
