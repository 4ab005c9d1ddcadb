package dispatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/rules"
)

// gatedIntercom holds every action until it is let through, so a test can
// stop a run while actions are in flight. calls says how many requests an
// action cut off by ctx had sent (0: none; it was not started).
type gatedIntercom struct {
	started chan string   // the ref-less action name, as each action starts
	gate    chan struct{} // closed to let the actions through
	calls   int
	mu      sync.Mutex
	sent    []string
}

func newGated() *gatedIntercom {
	return &gatedIntercom{started: make(chan string, 1000), gate: make(chan struct{})}
}

func (g *gatedIntercom) Execute(ctx context.Context, a action.Action) (action.Result, error) {
	g.started <- a.Kind.Name + " " + a.Contact().ExternalID
	select {
	case <-g.gate:
		g.mu.Lock()
		g.sent = append(g.sent, a.Kind.Name+" "+a.Contact().ExternalID)
		g.mu.Unlock()
		return action.Result{Calls: 1}, nil
	case <-ctx.Done():
		return action.Result{Calls: g.calls}, fmt.Errorf("intercom: POST /x: %w", ctx.Err())
	}
}

// settleLog records which events were settled, through Event.Done.
type settleLog struct {
	mu   sync.Mutex
	refs map[string]int
}

func (l *settleLog) source(events string, redeliver bool) Source {
	return &hookSource{src: delivery.NewLineSource("in", strings.NewReader(events)), log: l, redeliver: redeliver}
}

func (l *settleLog) count() (n int, twice []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ref, c := range l.refs {
		n++
		if c > 1 {
			twice = append(twice, ref)
		}
	}
	return n, twice
}

// hookSource marks its events redeliverable (or not) and logs their Done.
type hookSource struct {
	src       Source
	log       *settleLog
	redeliver bool
}

func (h *hookSource) Next(ctx context.Context) (Event, error) {
	ev, err := h.src.Next(ctx)
	ev.Redeliverable = h.redeliver
	ref := ev.Ref
	ev.Done = func() {
		h.log.mu.Lock()
		h.log.refs[ref]++
		h.log.mu.Unlock()
	}
	return ev, err
}

// TestStopLetsInFlightFinishAndLeavesTheRest: Stop with actions in flight.
// They finish and are sent, not cut off; nothing else is started; the
// events read but not started are left unsettled for a source that can
// deliver them again; nothing is dead-lettered; Run says delivery.ErrStopped.
func TestStopLetsInFlightFinishAndLeavesTheRest(t *testing.T) {
	g := newGated()
	var dl bytes.Buffer
	d := newDispatcher(t, g, &dl, time.Minute)
	log := &settleLog{refs: map[string]int{}}
	done := make(chan struct{})
	var sum Summary
	var err error
	go func() {
		sum, err = d.Run(context.Background(), log.source(workload(500), true))
		close(done)
	}()
	for range 4 { // one action in flight in each of the 4 workers
		<-g.started
	}
	d.Stop()
	time.Sleep(20 * time.Millisecond) // give a wrong implementation time to start more
	close(g.gate)
	<-done
	if !errors.Is(err, delivery.ErrStopped) {
		t.Errorf("err = %v, want ErrStopped", err)
	}
	settled, twice := log.count()
	if sum.Sent != 4 || sum.Events != 4 || sum.Unsettled != sum.Read-4 || sum.DeadLettered != 0 || dl.Len() != 0 || settled != 4 || len(twice) != 0 {
		t.Errorf("summary %+v; %d settled (twice: %v); dead letters:\n%s", sum, settled, twice, dl.String())
	}
	if len(g.started) != 0 {
		t.Errorf("%d more actions were started after the stop", len(g.started))
	}
}

// TestStopOfANonRedeliverableSourceDeadLettersTheRest: events a stopped run
// read but did not send, from a source that cannot give them again (standard
// input), are dead-lettered as not sent: every event read is settled.
func TestStopOfANonRedeliverableSourceDeadLettersTheRest(t *testing.T) {
	g := newGated()
	var dl bytes.Buffer
	d := newDispatcher(t, g, &dl, time.Minute)
	log := &settleLog{refs: map[string]int{}}
	done := make(chan struct{})
	var sum Summary
	go func() {
		sum, _ = d.Run(context.Background(), log.source(workload(500), false))
		close(done)
	}()
	for range 4 {
		<-g.started
	}
	// Some events are read and not started (the reader goes on while the
	// workers wait at the gate): those are the ones the stop dead-letters.
	for d.Summary().Read <= 4 {
		time.Sleep(time.Millisecond)
	}
	d.Stop()
	close(g.gate)
	<-done
	settled, twice := log.count()
	lines := strings.Count(dl.String(), "\n")
	if sum.Unsettled != 0 || sum.Events != sum.Read || settled != sum.Read || len(twice) != 0 || sum.Sent != 4 || lines != sum.Read-4 {
		t.Errorf("summary %+v; %d settled (twice %v), %d dead letters", sum, settled, twice, lines)
	}
	if !strings.Contains(dl.String(), `"error":"not sent: the run was stopped"`) {
		t.Errorf("dead letters lack the reason:\n%s", firstLines(dl.String(), 3))
	}
}

// TestAbortCutsOffInFlightAsOutcomeUnknown: cancelling Run's context cuts
// off the requests in flight. An action that had sent a request is
// dead-lettered as "outcome unknown", never as a plain failure; one that
// had not is left unsettled like the rest.
func TestAbortCutsOffInFlightAsOutcomeUnknown(t *testing.T) {
	for _, calls := range []int{1, 0} {
		t.Run(fmt.Sprintf("calls=%d", calls), func(t *testing.T) {
			g := newGated()
			g.calls = calls
			var dl bytes.Buffer
			d := newDispatcher(t, g, &dl, time.Minute)
			log := &settleLog{refs: map[string]int{}}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			var sum Summary
			var err error
			go func() {
				sum, err = d.Run(ctx, log.source(workload(500), true))
				close(done)
			}()
			for range 4 {
				<-g.started
			}
			cancel()
			<-done
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			settled, _ := log.count()
			lines := strings.Count(dl.String(), "\n")
			if calls == 0 {
				if sum.Unknown != 0 || lines != 0 || settled != 0 || sum.Unsettled != sum.Read {
					t.Errorf("summary %+v, %d settled, dead letters:\n%s", sum, settled, dl.String())
				}
				return
			}
			if sum.Unknown != 4 || lines != 4 || settled != 4 || sum.Unsettled != sum.Read-4 || sum.Failed != 4 {
				t.Errorf("summary %+v, %d settled, dead letters:\n%s", sum, settled, dl.String())
			}
			first := firstLines(dl.String(), 1)
			if !strings.Contains(first, `"error":"outcome unknown: cut off by the stop after a request was sent, so Intercom may have applied it; check before sending it again (intercom: POST /x: context canceled)","outcome":"unknown"`) {
				t.Errorf("dead letter: %s", first)
			}
			f := sum.Failures[`rule "Identify Contact": outcome unknown (cut off by the stop)`]
			if f == nil || f.Count != 4 {
				t.Errorf("failures by reason: %+v", sum.Failures)
			}
		})
	}
}

// referrerEngine has two rules: a track's track_event, and the identify
// of the contact its properties.referrer names.
func referrerEngine(t *testing.T) *engine.Engine {
	t.Helper()
	set, err := rules.Parse("r.yaml", []byte(`rules:
  - name: Track Event
    action: track_event
  - name: Identify Referrer
    action: identify_contact
    trigger: type == "track" && properties.referrer != nil
    default_fields: false
    fields:
      role: {value: user}
      external_id: properties.referrer
`))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// TestStopSettlesWaitingActions: a stop while actions wait for their
// contact's identify. An event none of whose actions went is left whole
// (it comes again); one whose other action was sent gets its waiting action
// dead-lettered with its rule, so that re-sending the dead letters sends
// only that action.
func TestStopSettlesWaitingActions(t *testing.T) {
	eng := referrerEngine(t)
	var dl bytes.Buffer
	d, err := New(Config{Engine: eng, Executor: &fakeIntercom{contacts: map[string]bool{}}, Concurrency: 2,
		ContactWait: time.Minute, Sink: delivery.Sink{DeadLetters: delivery.DeadLetterWriter(&dl)}})
	if err != nil {
		t.Fatal(err)
	}
	log := &settleLog{refs: map[string]int{}}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	var sum Summary
	go func() {
		sum, _ = d.Run(context.Background(), &hookSource{src: delivery.NewLineSource("in", pr), log: log, redeliver: true})
		close(done)
	}()
	// in:1: its one action waits. in:2: the track waits, the identify of
	// the referrer is sent.
	fmt.Fprintln(pw, `{"type":"track","userId":"ghost","event":"A","timestamp":1700000000}`)
	fmt.Fprintln(pw, `{"type":"track","userId":"ghost2","event":"B","timestamp":1700000000,"properties":{"referrer":"r1"}}`)
	for d.Summary().Waited < 2 || d.Summary().ActionsSent < 1 {
		time.Sleep(time.Millisecond)
	}
	d.Stop()
	<-done
	pw.Close()
	settled, _ := log.count()
	if sum.Unsettled != 1 || settled != 1 || log.refs["in:2"] != 1 || sum.Failed != 1 || sum.DeadLettered != 1 {
		t.Errorf("summary %+v, settled %v", sum, log.refs)
	}
	want := `{"event":{"type":"track","userId":"ghost2","event":"B","timestamp":1700000000,"properties":{"referrer":"r1"}},"ref":"in:2","rule":"Track Event","action":"track_event","error":"not sent: the run was stopped while it waited for its contact's identify","time":`
	if !strings.HasPrefix(dl.String(), want) || strings.Count(dl.String(), "\n") != 1 {
		t.Errorf("dead letters:\n%s\nwant one starting\n%s", dl.String(), want)
	}
}

// TestOutcomeUnknownDeadLettersAreNotResentByDefault: sending a dead-letter
// file again re-sends the failures, not the actions whose outcome is
// unknown (they stay dead letters, still marked unknown), unless asked.
func TestOutcomeUnknownDeadLettersAreNotResentByDefault(t *testing.T) {
	file := `{"event":{"type":"track","userId":"u1","event":"A","timestamp":1700000000},"ref":"in:1","rule":"Track Event","action":"track_event","error":"outcome unknown: cut off","outcome":"unknown","time":"2026-01-02T03:04:05Z"}
{"event":{"type":"track","userId":"u1","event":"B","timestamp":1700000000},"ref":"in:2","rule":"Track Event","action":"track_event","error":"intercom: 500","time":"2026-01-02T03:04:05Z"}
`
	for _, include := range []bool{false, true} {
		fake := &fakeIntercom{contacts: map[string]bool{"u1": true}}
		var dl bytes.Buffer
		d := newDispatcher(t, fake, &dl, time.Minute)
		src := delivery.NewLineSource("dead.ndjson", strings.NewReader(file))
		src.IncludeUnknown = include
		sum, err := d.Run(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		if include {
			if sum.Sent != 2 || dl.Len() != 0 {
				t.Errorf("include: %+v\n%s", sum, dl.String())
			}
			continue
		}
		want := `{"event":{"type":"track","userId":"u1","event":"A","timestamp":1700000000},"ref":"in:1 (via dead.ndjson:1)","rule":"Track Event","error":"outcome unknown in an earlier run, so not sent again: Intercom may have applied it (outcome unknown: cut off); re-send it on purpose with --include-unknown","outcome":"unknown","time":"2026-01-02T03:04:05Z"}` + "\n"
		if sum.Sent != 1 || dl.String() != want || len(fake.log) != 1 || fake.log[0] != "track_event u1" {
			t.Errorf("%+v; sent %v; dead letters:\n%s\nwant\n%s", sum, fake.log, dl.String(), want)
		}
	}
}
