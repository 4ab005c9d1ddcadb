package spool

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

func open(t *testing.T, dir string, opts Options) *Spool {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ev(i int) delivery.Item {
	return delivery.Item{ID: fmt.Sprintf("m-%d", i), Data: []byte(fmt.Sprintf(`{"type":"track","userId":"u%d","event":"E%d"}`, i%7, i)), Ref: fmt.Sprintf("messageId m-%d", i)}
}

// drain reads n events from a fresh Source.
func drain(t *testing.T, s *Spool, n int) []delivery.Event {
	t.Helper()
	src := s.Source()
	var out []delivery.Event
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(out) < n {
		e, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		out = append(out, e)
	}
	return out
}

// nothingMore checks that a Source has no event to give.
func nothingMore(t *testing.T, s *Spool, src *Source) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if e, err := src.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("one more event: %+v, %v", e, err)
	}
}

// TestEventsSurviveAReopenUntilSettled: what Append acknowledged is there
// after a reopen, in order, until it is settled; the counters follow.
func TestEventsSurviveAReopenUntilSettled(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	var items []delivery.Item
	for i := range 10 {
		items = append(items, ev(i))
	}
	items[3].Only, items[3].ID = "Track Event", ""
	if res, err := s.Append(context.Background(), items); err != nil || res != (delivery.Stored{Stored: 10}) {
		t.Fatalf("append: %+v, %v", res, err)
	}
	evs := drain(t, s, 10)
	for i, e := range evs {
		if string(e.Raw) != string(items[i].Data) || e.Ref != items[i].Ref || e.Only != items[i].Only || !e.Redeliverable || e.Err != nil {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	for _, e := range evs[:6] {
		e.Done()
	}
	s.Close()

	s = open(t, dir, Options{})
	if s.Depth() != 4 {
		t.Errorf("depth %d after settling 6 of 10", s.Depth())
	}
	left := drain(t, s, 4)
	for i, e := range left {
		if string(e.Raw) != string(items[6+i].Data) {
			t.Errorf("left %d: %s", i, e.Raw)
		}
		e.Done()
	}
	s.Close()
	s = open(t, dir, Options{})
	if s.Depth() != 0 || s.Bytes() != 0 {
		t.Errorf("depth %d, %d bytes after settling all", s.Depth(), s.Bytes())
	}
	nothingMore(t, s, s.Source())
}

// TestConcurrentAppendsShareCommits: 200 requests at once are written in
// far fewer transactions (each an fsync) than requests.
func TestConcurrentAppendsShareCommits(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := s.Append(context.Background(), []delivery.Item{ev(i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if s.Depth() != 200 || s.Commits() > 100 {
		t.Errorf("%d events in %d commits", s.Depth(), s.Commits())
	}
	t.Logf("200 appends in %d commits", s.Commits())
}

// TestFullSpoolRefusesUntilSettled: past MaxBytes an Append stores nothing
// and says delivery.ErrFull; settling makes room again.
func TestFullSpoolRefusesUntilSettled(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxBytes: 1000})
	var n int
	for ; ; n++ {
		_, err := s.Append(context.Background(), []delivery.Item{ev(n)})
		if errors.Is(err, delivery.ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 || s.Bytes() > 1000 || s.Depth() != int64(n) || !s.Full() {
		t.Fatalf("%d stored, %d bytes, depth %d, full %v", n, s.Bytes(), s.Depth(), s.Full())
	}
	e := drain(t, s, 1)[0]
	e.Done()
	waitFor(t, func() bool { return s.Depth() == int64(n-1) })
	if s.Full() {
		t.Error("still full after a settle")
	}
	if _, err := s.Append(context.Background(), []delivery.Item{ev(n)}); err != nil {
		t.Errorf("after settling one: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out after 30 s")
		}
	}
}

// TestDuplicateMessageIDsAreStoredOnce: within a request, across requests
// and across a reopen; after the window, or once the oldest ids are
// forgotten past DedupMax, an id is new again.
func TestDuplicateMessageIDsAreStoredOnce(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	opts := Options{Clock: clock, DedupWindow: time.Hour, DedupMax: 5}
	s := open(t, dir, opts)
	res, err := s.Append(context.Background(), []delivery.Item{ev(1), ev(2), ev(1)})
	if err != nil || res != (delivery.Stored{Stored: 2, Duplicates: 1}) {
		t.Errorf("one request: %+v, %v", res, err)
	}
	res, _ = s.Append(context.Background(), []delivery.Item{ev(2), ev(3)})
	if res != (delivery.Stored{Stored: 1, Duplicates: 1}) {
		t.Errorf("second request: %+v", res)
	}
	s.Close()
	s = open(t, dir, opts)
	advance(59 * time.Minute)
	if res, _ = s.Append(context.Background(), []delivery.Item{ev(1)}); res != (delivery.Stored{Duplicates: 1}) {
		t.Errorf("after a reopen, within the window: %+v", res)
	}
	advance(2 * time.Minute)
	if res, _ = s.Append(context.Background(), []delivery.Item{ev(1)}); res != (delivery.Stored{Stored: 1}) {
		t.Errorf("after the window: %+v", res)
	}
	// ids 2 and 3 expired too and were pruned; 1 is remembered anew. Five
	// more ids: the oldest past DedupMax (1, then 4) are forgotten.
	s.Append(context.Background(), []delivery.Item{ev(4), ev(5), ev(6), ev(7), ev(8)})
	if res, _ = s.Append(context.Background(), []delivery.Item{ev(1), ev(8)}); res != (delivery.Stored{Stored: 1, Duplicates: 1}) {
		t.Errorf("past DedupMax: %+v", res)
	}
	if got := len(drain(t, s, 8)); got != 8 {
		t.Errorf("%d events", got)
	}
}

// TestSourceWaitsForNewEvents: Next blocks until an Append commits.
func TestSourceWaitsForNewEvents(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	src := s.Source()
	got := make(chan delivery.Event)
	go func() {
		e, err := src.Next(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- e
	}()
	s.Append(context.Background(), []delivery.Item{ev(1)})
	if e := <-got; string(e.Raw) != string(ev(1).Data) {
		t.Errorf("got %s", e.Raw)
	}
	nothingMore(t, s, src)
}

// TestSecondOpenIsRefused: one process at a time has a data dir.
func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("second open: %v", err)
	}
}

// TestDeadLettersListAndReplay: dead letters are kept, listed and replayed
// into the queue, each limited to its failed rule; one with an unknown
// outcome only when asked.
func TestDeadLettersListAndReplay(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	dls := []delivery.DeadLetter{
		{Event: []byte(`{"type":"group","userId":"u1","groupId":"g"}`), Ref: "messageId a", Rule: "Identify Company", Action: "identify_company", Error: "contact not found", Time: at},
		{Event: []byte(`"not json"`), Ref: "messageId b", Error: "invalid event: not valid JSON", Time: at},
		{Event: []byte(`{"type":"track","userId":"u1","event":"E"}`), Ref: "messageId c", Rule: "Track Event", Action: "track_event", Error: "outcome unknown: cut off", Outcome: delivery.OutcomeUnknown, Time: at},
	}
	for _, dl := range dls {
		if err := s.PutDeadLetter(dl); err != nil {
			t.Fatal(err)
		}
	}
	var listed []DeadLetter
	s.DeadLetters(func(dl DeadLetter) error { listed = append(listed, dl); return nil })
	if len(listed) != 3 || listed[0].ID != 1 || listed[2].ID != 3 || !reflect.DeepEqual(listed[1].DeadLetter, dls[1]) {
		t.Errorf("listed %+v", listed)
	}
	if dl, ok, err := s.DeadLetterByID(3); !ok || err != nil || dl.Outcome != "unknown" {
		t.Errorf("by id: %+v %v %v", dl, ok, err)
	}
	res, err := s.Replay(context.Background(), nil, false)
	if err != nil || !reflect.DeepEqual(res, ReplayResult{Replayed: []uint64{1, 2}, Unknown: []uint64{3}}) {
		t.Errorf("replay all: %+v, %v", res, err)
	}
	evs := drain(t, s, 2)
	if evs[0].Only != "Identify Company" || evs[0].Ref != "messageId a (replayed)" || string(evs[0].Raw) != string(dls[0].Event) || string(evs[1].Raw) != "not json" || evs[1].Only != "" {
		t.Errorf("replayed events %+v", evs)
	}
	res, _ = s.Replay(context.Background(), []uint64{3, 9}, true)
	if !reflect.DeepEqual(res, ReplayResult{Replayed: []uint64{3}, Missing: []uint64{9}}) {
		t.Errorf("replay 3 and 9: %+v", res)
	}
	var left []string
	s.DeadLetters(func(dl DeadLetter) error { left = append(left, dl.Ref); return nil })
	if len(left) != 0 {
		t.Errorf("left: %v", strings.Join(left, ", "))
	}
}
