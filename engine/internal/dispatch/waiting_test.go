package dispatch

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/rules"
)

// TestWaitingIsASetByKeyAndDeadline replays random parks, wake-ups by key,
// expiries and takes of the oldest against a plain list, the way the
// dispatcher used to keep them: the same actions come out, in the same
// order, whatever the index and the heap do lazily.
func TestWaitingIsASetByKeyAndDeadline(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var w waiting
	var model []*parked // in parking order
	now := time.Unix(0, 0)
	names := func(ps []*parked) string {
		var s []string
		for _, p := range ps {
			s = append(s, p.action.Rule)
		}
		return fmt.Sprint(s)
	}
	takeModel := func(due func(*parked) bool) []*parked {
		var out, kept []*parked
		for _, p := range model {
			if due(p) {
				out = append(out, p)
			} else {
				kept = append(kept, p)
			}
		}
		model = kept
		return out
	}
	for i := 0; i < 20000; i++ {
		switch rng.IntN(10) {
		case 0, 1, 2, 3, 4:
			keys := []string{fmt.Sprintf("user:%d", rng.IntN(50))}
			if rng.IntN(2) == 0 {
				keys = append(keys, fmt.Sprintf("email:%d", rng.IntN(50)))
			}
			p := &parked{keys: keys, deadline: now.Add(time.Duration(rng.IntN(100)) * time.Second)}
			p.action.Rule = fmt.Sprint(i)
			w.add(p)
			model = append(model, p)
		case 5, 6:
			keys := []string{fmt.Sprintf("user:%d", rng.IntN(50)), fmt.Sprintf("email:%d", rng.IntN(50))}
			got := w.takeKeys(keys)
			want := takeModel(func(p *parked) bool {
				return slices.ContainsFunc(p.keys, func(k string) bool { return slices.Contains(keys, k) })
			})
			if names(got) != names(want) {
				t.Fatalf("step %d: takeKeys(%v) = %s, want %s", i, keys, names(got), names(want))
			}
		case 7:
			now = now.Add(time.Duration(rng.IntN(5)) * time.Second)
			got := w.takeDue(now)
			want := takeModel(func(p *parked) bool { return !p.deadline.After(now) })
			slices.SortStableFunc(want, func(a, b *parked) int { return a.deadline.Compare(b.deadline) })
			if names(got) != names(want) {
				t.Fatalf("step %d: takeDue = %s, want %s", i, names(got), names(want))
			}
		case 8:
			if len(model) == 0 {
				continue
			}
			got := w.takeOldest()
			oldest := slices.MinFunc(model, func(a, b *parked) int {
				if c := a.deadline.Compare(b.deadline); c != 0 {
					return c
				}
				return bySeq(a, b)
			})
			takeModel(func(p *parked) bool { return p == oldest })
			if got != oldest {
				t.Fatalf("step %d: takeOldest = %s, want %s", i, got.action.Rule, oldest.action.Rule)
			}
		case 9:
			if next, ok := w.next(); ok != (len(model) > 0) ||
				ok && !next.Equal(slices.MinFunc(model, func(a, b *parked) int { return a.deadline.Compare(b.deadline) }).deadline) {
				t.Fatalf("step %d: next = %v, %v", i, next, ok)
			}
		}
		if w.len() != len(model) {
			t.Fatalf("step %d: len %d, want %d", i, w.len(), len(model))
		}
	}
	if got, want := w.takeAll(), model; names(got) != names(want) {
		t.Fatalf("takeAll = %s, want %s", names(got), names(want))
	}
	if w.len() != 0 || len(w.byKey) != 0 || w.due.Len() != 0 {
		t.Errorf("left behind: %d waiting, %d keys, %d in the heap", w.len(), len(w.byKey), w.due.Len())
	}
}

// TestMaxWaitingBoundsTheWait: with room for 10 waiting actions, 25 tracks
// of users who are never identified: the 15 oldest get their last try
// early as later ones come (dead-lettered, saying why), the last 10 at the
// end of the input; none is lost and no more than 10 wait at once.
func TestMaxWaitingBoundsTheWait(t *testing.T) {
	fake := &fakeIntercom{contacts: map[string]bool{}}
	set, err := rules.ParseAll(rules.Defaults()...)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	var dl bytes.Buffer
	d, err := New(Config{Engine: eng, Executor: fake, Concurrency: 1, ContactWait: time.Hour, MaxWaiting: 10, Sink: delivery.Sink{DeadLetters: delivery.DeadLetterWriter(&dl)}})
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 25 {
		fmt.Fprintf(&in, `{"type":"track","userId":"nobody-%d","event":"E","timestamp":1700000000}`+"\n", i)
	}
	sum, err := d.Run(context.Background(), delivery.NewLineSource("in", strings.NewReader(in.String())))
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.Count(dl.String(), "no identify for this contact came before 10 other actions were waiting (MaxWaiting)")
	expired := strings.Count(dl.String(), "no identify for this contact came before the end of the input")
	if sum.Events != 25 || sum.Failed != 25 || sum.Waited != 25 || cut != 15 || expired != 10 {
		t.Errorf("summary %+v; %d cut short, %d at the end", sum, cut, expired)
	}
}

// BenchmarkWaitingContacts sends b.N events with no network (a fake
// Intercom): first a track of b.N/2 users Intercom does not know yet, then
// their identifies, each of which wakes its user's waiting track. With the
// waiting actions indexed by contact and deadline, the cost per event does
// not grow with how many wait. Compare -benchtime=20000x with 200000x.
func BenchmarkWaitingContacts(b *testing.B) {
	set, _ := rules.ParseAll(rules.Defaults()...)
	eng, err := engine.Compile(set)
	if err != nil {
		b.Fatal(err)
	}
	fake := &fakeIntercom{contacts: map[string]bool{}}
	d, err := New(Config{Engine: eng, Executor: fake, Concurrency: 4, ContactWait: time.Hour, MaxWaiting: b.N})
	if err != nil {
		b.Fatal(err)
	}
	users := max(b.N/2, 1)
	var in strings.Builder
	for i := range users {
		fmt.Fprintf(&in, `{"type":"track","userId":"u%d","event":"E","timestamp":1700000000}`+"\n", i)
	}
	for i := range users {
		fmt.Fprintf(&in, `{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com"}}`+"\n", i, i)
	}
	fake.log = make([]string, 0, 2*users)
	b.ResetTimer()
	sum, err := d.Run(context.Background(), delivery.NewLineSource("bench", strings.NewReader(in.String())))
	b.StopTimer()
	if err != nil || sum.Sent != 2*users || sum.Waited != users {
		b.Fatalf("%+v, %v", sum, err)
	}
	b.ReportMetric(float64(sum.Events)/sum.Elapsed.Seconds(), "events/s")
	b.ReportMetric(peakRSS(), "peak-RSS-MB")
}
