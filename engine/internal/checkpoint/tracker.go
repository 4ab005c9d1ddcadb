// Package checkpoint records how far the inputs of a `send` run are
// settled — every event sent, skipped or dead-lettered — so that a stopped
// or killed run can resume without sending a settled event again.
//
// Events are read in line order but settled out of order (several workers;
// an action waiting for its contact's identify). So the point to resume
// from is a Mark: the line up to which every event is settled (the
// watermark: the line before the lowest unsettled one) and the lines after
// it that are settled already.
//
// A checkpoint File is an append-only journal of settled lines, written as
// events settle (one write per batch, so a killed process loses at most the
// events being settled at that moment), and compacted into marks.
package checkpoint

import (
	"slices"
	"sync"
)

// Mark says which lines of one input are settled.
type Mark struct {
	// Line is the watermark: every event on a line up to it is settled.
	Line int `json:"line"`
	// Settled are the lines after Line whose events are settled, ascending.
	Settled []int `json:"settled,omitempty"`
}

// Has says whether the event on line is settled.
func (m Mark) Has(line int) bool {
	if line <= m.Line {
		return true
	}
	_, ok := slices.BinarySearch(m.Settled, line)
	return ok
}

// Tracker follows the events of one input as they are read, in line order,
// and settled, in any order. It is safe for concurrent use.
type Tracker struct {
	mu      sync.Mutex
	last    int          // the last line read
	queue   []int        // lines read and not yet known settled, ascending; queue[head:] is live
	head    int          // index of the lowest line maybe unsettled
	settled map[int]bool // lines settled after the watermark
}

// NewTracker starts from m: its lines are settled, and reading continues
// after m.Line. A line in m.Settled, when reached, is skipped with Skip.
func NewTracker(m Mark) *Tracker {
	t := &Tracker{last: m.Line, settled: map[int]bool{}}
	for _, l := range m.Settled {
		t.settled[l] = true
	}
	return t
}

// Skip records that the event on line was settled before (by the run the
// tracker resumes) and is not read again.
func (t *Tracker) Skip(line int) {
	t.Read(line)
	t.Settle(line)
}

// Read records that the event on line was read; lines come in ascending
// order.
func (t *Tracker) Read(line int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if line <= t.last {
		return
	}
	t.last = line
	t.queue = append(t.queue, line)
}

// Settle records that the event on line is settled.
func (t *Tracker) Settle(line int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.settled[line] = true
	t.advance()
}

// advance moves the watermark past the settled head of the queue.
func (t *Tracker) advance() {
	for t.head < len(t.queue) && t.settled[t.queue[t.head]] {
		delete(t.settled, t.queue[t.head])
		t.head++
	}
	if t.head > 1024 && t.head > len(t.queue)/2 { // reclaim the settled front
		t.queue = append(t.queue[:0], t.queue[t.head:]...)
		t.head = 0
	}
}

// Mark returns what is settled now.
func (t *Tracker) Mark() Mark {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := Mark{Line: t.last}
	if t.head < len(t.queue) {
		m.Line = t.queue[t.head] - 1
	}
	for l := range t.settled {
		if l > m.Line {
			m.Settled = append(m.Settled, l)
		}
	}
	slices.Sort(m.Settled)
	return m
}

// Pending returns how many events were read and are not settled.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, l := range t.queue[t.head:] {
		if !t.settled[l] {
			n++
		}
	}
	return n
}
