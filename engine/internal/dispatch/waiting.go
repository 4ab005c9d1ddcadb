package dispatch

import (
	"container/heap"
	"slices"
	"sync/atomic"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/action"
)

// parked is an action waiting for its contact to be identified.
type parked struct {
	res      *Result
	ev       Event
	action   action.Action
	keys     []string // the contact it waits for (action.Contact.Keys)
	deadline time.Time
	pending  *int  // actions of the event still open; the event is done at 0
	size     int64 // the memory it holds, as MaxWaitingBytes counts it
	// wait is how long it waits (ContactWait, or SearchWait for a contact
	// search did not find); searchUntil, when not zero, is when search
	// will have caught up (see Dispatcher.parkFor).
	wait        time.Duration
	searchUntil time.Time

	seq  uint64 // order of parking: actions are retried in it
	gone bool   // taken out: the index and the heap drop it lazily
}

// waiting holds one worker's parked actions, indexed by contact key and by
// deadline, so that an identify or a deadline costs what it wakes, not a
// scan of everything that waits. A worker owns it; it is not shared.
type waiting struct {
	byKey   map[string][]*parked
	due     deadlines     // a min-heap by deadline; taken entries are dropped lazily
	n       int           // actions waiting (not gone)
	bytes   int64         // their size
	total   *atomic.Int64 // if set, the size of several workers' waiting actions, kept with bytes
	shared  *atomic.Int64 // if set, the same of several runs (Config.WaitingBytes)
	garbage int           // index entries of actions taken out, dropped by compact
	seq     uint64
}

// add parks p.
func (w *waiting) add(p *parked) {
	if w.byKey == nil {
		w.byKey = map[string][]*parked{}
	}
	w.seq++
	p.seq, p.gone = w.seq, false
	for _, k := range p.keys {
		w.byKey[k] = append(w.byKey[k], p)
	}
	heap.Push(&w.due, p)
	w.n++
	w.grow(p.size)
}

// grow adds n to the bytes held.
func (w *waiting) grow(n int64) {
	w.bytes += n
	if w.total != nil {
		w.total.Add(n)
	}
	if w.shared != nil {
		w.shared.Add(n)
	}
}

// len is the number of actions waiting.
func (w *waiting) len() int { return w.n }

// takeKeys removes and returns the actions waiting for any of keys, in the
// order they were parked.
func (w *waiting) takeKeys(keys []string) []*parked {
	var out []*parked
	for _, k := range keys {
		for _, p := range w.byKey[k] {
			if !p.gone {
				w.take(p)
				out = append(out, p)
			}
			w.garbage--
		}
		delete(w.byKey, k)
	}
	slices.SortFunc(out, bySeq)
	return out
}

// takeDue removes and returns the actions whose wait is over at now.
func (w *waiting) takeDue(now time.Time) []*parked {
	var out []*parked
	for w.due.Len() > 0 && !w.due[0].deadline.After(now) {
		if p := heap.Pop(&w.due).(*parked); !p.gone {
			w.take(p)
			out = append(out, p)
		}
	}
	return out
}

// takeOldest removes and returns the action that has waited longest.
func (w *waiting) takeOldest() *parked {
	for w.due.Len() > 0 {
		if p := heap.Pop(&w.due).(*parked); !p.gone {
			w.take(p)
			return p
		}
	}
	return nil
}

// takeAll removes and returns every waiting action, in parking order.
func (w *waiting) takeAll() []*parked {
	var out []*parked
	for _, p := range w.due {
		if !p.gone {
			w.take(p)
			out = append(out, p)
		}
	}
	*w = waiting{seq: w.seq, total: w.total, shared: w.shared}
	slices.SortFunc(out, bySeq)
	return out
}

// next returns the earliest deadline of the actions waiting.
func (w *waiting) next() (time.Time, bool) {
	for w.due.Len() > 0 {
		if p := w.due[0]; !p.gone {
			return p.deadline, true
		}
		heap.Pop(&w.due)
	}
	return time.Time{}, false
}

// take marks p taken out. Its entries in the index go lazily: when their
// key is taken, or when compact finds more taken entries than live ones.
func (w *waiting) take(p *parked) {
	p.gone = true
	w.n--
	w.grow(-p.size)
	w.garbage += len(p.keys)
	if w.garbage > 1024 && w.garbage > 2*w.n {
		w.compact()
	}
}

// compact rebuilds the index from the actions still waiting.
func (w *waiting) compact() {
	byKey := make(map[string][]*parked, len(w.byKey))
	for _, p := range w.due {
		if !p.gone {
			for _, k := range p.keys {
				byKey[k] = append(byKey[k], p)
			}
		}
	}
	for _, ps := range byKey {
		slices.SortFunc(ps, bySeq)
	}
	w.byKey, w.garbage = byKey, 0
}

func bySeq(a, b *parked) int {
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

// deadlines is a min-heap of parked actions by deadline (then parking
// order), for container/heap.
type deadlines []*parked

func (h deadlines) Len() int { return len(h) }
func (h deadlines) Less(i, j int) bool {
	if !h[i].deadline.Equal(h[j].deadline) {
		return h[i].deadline.Before(h[j].deadline)
	}
	return h[i].seq < h[j].seq
}
func (h deadlines) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deadlines) Push(x any)   { *h = append(*h, x.(*parked)) }
func (h *deadlines) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}
