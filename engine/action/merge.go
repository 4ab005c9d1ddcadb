package action

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Merges lets one call carry the parts of several actions that are still
// queued: the company upserts of a backfill's group calls, which would
// otherwise cost one POST /companies per member of a company.
//
// A dispatcher announces each action it plans (Announce), in input order,
// as it reads the action's event, and forgets those it will not run
// (Forget). An action whose kind declares a merge key (Spec.MergeKey) is
// then a part under its key. The first part of a key to run sends one call
// that carries every part of the key announced and not yet sent, merged in
// announce order, so later-announced values win whichever part runs first;
// the parts it carried, when they run, take its answer instead of sending
// their own. One call per key is in flight at a time: a part that runs
// meanwhile waits for it, so that an earlier merge cannot overtake a later
// one. What a failed call leaves to its parts is the call's to say (see
// MergeOutcome): a part it did not carry sends its own when it runs.
//
// Merges does no I/O: the action's Run sends the calls (see Call.Merged).
// The zero value is ready to use, and a Merges is safe for concurrent use.
// Share one between the Executors of one workspace (Executor.Merges).
type Merges struct {
	mu     sync.Mutex
	queues map[string]*mergeQueue // by kind and merge key
	parts  map[any]*mergePart     // by the action's Fields
}

// MergeOutcome is what a merged call did for one of the parts it carried.
type MergeOutcome struct {
	// Answer is what the part's action takes from the call's answer, e.g.
	// the company's Intercom id.
	Answer any
	// Err is the call's error for this part.
	Err error
	// Unsent says the call failed for a reason that is not the part's (an
	// error answer after retries, the sender's context ending): the part's
	// own action sends it alone when it runs. The sender's own part takes
	// Err.
	Unsent bool
}

// mergeQueue is one key's parts waiting to be sent and its call in flight.
type mergeQueue struct {
	waiting []*mergePart // announced, not yet carried, in announce order
	flying  *mergedCall  // nil when none
}

// mergePart is an announced action's part.
type mergePart struct {
	fields  any // the action's Fields: which action it is
	key     string
	carrier *mergedCall // the call that carried it; nil until one did
	index   int         // its place among carrier's parts
	alone   bool        // a failed call did not carry it: it sends its own
}

// mergedCall is one call carrying parts, and its outcome for each.
type mergedCall struct {
	parts    []any         // the parts' Fields, in announce order
	done     chan struct{} // closed once outcomes is set
	finished bool          // outcomes is set; guarded by Merges.mu
	outcomes []MergeOutcome
}

// errSendPanicked is the outcome of the parts of a call whose sender
// panicked.
var errSendPanicked = errors.New("the merged call's sender panicked")

// Announce adds a as a part, if its kind declares a merge key and a names
// one; other actions are ignored. Announce the actions in input order.
func (m *Merges) Announce(a Action) {
	if m == nil || a.Kind == nil || a.Kind.mergeKey == nil {
		return
	}
	key := a.Kind.mergeKey(a.Fields)
	if key == "" {
		return
	}
	key = a.Kind.Name + "\x00" + key
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.parts == nil {
		m.parts = map[any]*mergePart{}
		m.queues = map[string]*mergeQueue{}
	}
	if m.parts[a.Fields] != nil {
		return // announced already
	}
	p := &mergePart{fields: a.Fields, key: key}
	m.parts[a.Fields] = p
	q := m.queue(key)
	q.waiting = append(q.waiting, p)
}

// Forget removes a's part: a will not run, so no call carries it any more.
// (A call already sent with it has applied it.) Forgetting an action not
// announced, or already run, does nothing.
func (m *Merges) Forget(a Action) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.parts[a.Fields]
	if p == nil {
		return
	}
	delete(m.parts, a.Fields)
	if q := m.queues[p.key]; q != nil {
		if p.carrier == nil && !p.alone {
			q.remove(p)
		}
		m.tidy(p.key, q)
	}
}

// Len returns the number of parts announced and neither run nor
// forgotten.
func (m *Merges) Len() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.parts)
}

// turn is the part fields' turn to be sent. For a part not announced (or
// forgotten) it returns merged false: the action sends its own, as without
// Merges. Otherwise it waits while a call of the part's key is in flight;
// then it returns the outcome of the call that carried the part, or, when
// none did, calls send with the parts to carry — the key's parts announced
// and not yet sent, this one among them, in announce order (just this one
// if an earlier call failed to carry it) — and returns this part's outcome.
// send returns one outcome per part. The error is ctx's, if it ended while
// the part waited.
func (m *Merges) turn(ctx context.Context, fields any, send func(parts []any) []MergeOutcome) (out MergeOutcome, merged bool, err error) {
	if m == nil {
		return MergeOutcome{}, false, nil
	}
	m.mu.Lock()
	for {
		p := m.parts[fields]
		if p == nil {
			m.mu.Unlock()
			return MergeOutcome{}, false, nil
		}
		if wait := m.blocking(p); wait != nil {
			m.mu.Unlock()
			select {
			case <-wait.done:
			case <-ctx.Done():
				return MergeOutcome{}, true, ctx.Err()
			}
			m.mu.Lock()
			continue
		}
		if p.carrier != nil {
			out := p.carrier.outcomes[p.index]
			if !out.Unsent {
				delete(m.parts, fields)
				m.mu.Unlock()
				return out, true, nil
			}
			p.carrier, p.alone = nil, true // the call failed to carry it: it goes alone,
			continue                       // after any call of its key in flight
		}
		q := m.queue(p.key)
		call := m.lead(p, q)
		m.mu.Unlock()
		return m.send(call, p, q, send), true, nil
	}
}

// blocking returns the call p must wait for before its turn: the one that
// carries it, or else one of its key in flight; nil when none is
// unfinished. The caller holds m.mu.
func (m *Merges) blocking(p *mergePart) *mergedCall {
	wait := p.carrier
	if wait == nil {
		if q := m.queues[p.key]; q != nil {
			wait = q.flying
		}
	}
	if wait != nil && !wait.finished {
		return wait
	}
	return nil
}

// maxMergedParts bounds the parts one call carries, beyond those up to the
// part that sends it: should Intercom refuse the merged body, its sender
// sends each part again alone, one after another.
const maxMergedParts = 100

// lead makes the call that p, the first of its key to run, sends: p alone
// if an earlier call failed to carry it, else the parts waiting, in order,
// up to p and up to maxMergedParts (the rest wait for a later call). The
// caller holds m.mu.
func (m *Merges) lead(p *mergePart, q *mergeQueue) *mergedCall {
	carried := []*mergePart{p}
	if !p.alone {
		n := max(min(len(q.waiting), maxMergedParts), slices.Index(q.waiting, p)+1)
		carried, q.waiting = q.waiting[:n:n], q.waiting[n:]
	}
	call := &mergedCall{parts: make([]any, len(carried)), done: make(chan struct{})}
	for i, c := range carried {
		call.parts[i] = c.fields
		c.carrier, c.index = call, i
	}
	q.flying = call
	return call
}

// send runs the sender of call, which p leads, and records its outcomes,
// also when it panics: the parts waiting for it must not wait forever.
func (m *Merges) send(call *mergedCall, p *mergePart, q *mergeQueue, send func([]any) []MergeOutcome) MergeOutcome {
	var outs []MergeOutcome
	defer func() {
		if outs == nil { // send panicked
			outs = make([]MergeOutcome, len(call.parts))
			for i := range outs {
				outs[i] = MergeOutcome{Err: errSendPanicked, Unsent: true}
			}
		}
		m.finish(call, p, q, outs)
	}()
	outs = send(call.parts)
	if len(outs) != len(call.parts) {
		panic(fmt.Sprintf("action: a merged call of %d parts gave %d outcomes", len(call.parts), len(outs)))
	}
	return outs[p.index]
}

// finish records call's outcomes and lets the parts waiting for it go. p,
// the part that sent it, leaves the table.
func (m *Merges) finish(call *mergedCall, p *mergePart, q *mergeQueue, outs []MergeOutcome) {
	m.mu.Lock()
	call.outcomes, call.finished = outs, true
	q.flying = nil
	if m.parts[p.fields] == p {
		delete(m.parts, p.fields)
	}
	m.tidy(p.key, q)
	m.mu.Unlock()
	close(call.done)
}

// queue returns key's queue, making it if needed. The caller holds m.mu.
func (m *Merges) queue(key string) *mergeQueue {
	q := m.queues[key]
	if q == nil {
		if m.queues == nil {
			m.queues = map[string]*mergeQueue{}
		}
		q = &mergeQueue{}
		m.queues[key] = q
	}
	return q
}

// tidy drops key's queue once nothing waits in it and nothing is in
// flight; parts carried or alone find it again through queue. The caller
// holds m.mu.
func (m *Merges) tidy(key string, q *mergeQueue) {
	if len(q.waiting) == 0 && q.flying == nil && m.queues[key] == q {
		delete(m.queues, key)
	}
}

// remove takes p out of the waiting parts.
func (q *mergeQueue) remove(p *mergePart) {
	for i, w := range q.waiting {
		if w == p {
			q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
			return
		}
	}
}
