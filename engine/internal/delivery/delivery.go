// Package delivery is the vocabulary that sources of events, the places
// their outcomes go, and the dispatcher between them share: an Event (its
// bytes, where it came from, how it is settled), a Source of them, a
// DeadLetter and where dead letters are kept, an event's Result and a
// run's Summary, and a Store that ingestion appends accepted events to.
//
// It knows no engine and no Intercom: the spool, the checkpoint, Kafka and
// HTTP ingestion depend on it, not on the dispatcher or the rules.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Event is one input event and where it came from.
type Event struct {
	// Raw is the event's JSON, handed over to the dispatcher: it must not
	// change afterwards, even once the event is settled. The planned
	// actions refer to it rather than to a copy, and so may what outlives
	// them (the client's cache of attribute names, a merged upsert).
	Raw  []byte
	Ref  string // e.g. "events.ndjson:12", for messages and dead letters
	Only string // when set, only this rule's action is sent (a dead-letter re-run)
	// Err is set when the source could not read this event whole (Raw is
	// then its start); it is dead-lettered with this error and not evaluated.
	Err error
	// Key, if set, names the event in its source for good: given again
	// (after a crash), the event has the same Key, and no other event has
	// it (the spool's sequence number). Its dead letters carry it
	// (DeadLetter.Key), so that a store can keep one per event, rule and
	// action however often the event is dispatched.
	Key string
	// Redeliverable says the source can give this event again after a stop
	// (it keeps a checkpoint or a spool): a stopped run then leaves the event
	// unsettled rather than dead-lettering it unsent (Summary.Unsettled).
	Redeliverable bool
	// Done, if set, is called once when the event is settled: sent, skipped
	// (no rule matched) or dead-lettered, "outcome unknown" included. It is
	// not called for an event a stopped run leaves unsettled. It may be
	// called from any goroutine, out of read order.
	Done func()
}

// Source yields events; Next returns io.EOF after the last one. Next
// should return when ctx is done; a run stops waiting for a Next that does
// not, and drops what it returns.
type Source interface {
	Next(ctx context.Context) (Event, error)
}

// MultiSource reads several sources one after another.
type MultiSource []Source

// Next returns the next event of the first source that has one.
func (m *MultiSource) Next(ctx context.Context) (Event, error) {
	for len(*m) > 0 {
		ev, err := (*m)[0].Next(ctx)
		if err != io.EOF {
			return ev, err
		}
		*m = (*m)[1:]
	}
	return Event{}, io.EOF
}

// ErrStopped is a run's error after a graceful stop: it ended before its
// input did.
var ErrStopped = errors.New("the run was stopped")

// ErrOutcomeUnknown marks an action cut off after a request was sent:
// Intercom may or may not have applied it. Its dead letter has outcome
// "unknown" (OutcomeUnknown).
var ErrOutcomeUnknown = errors.New("outcome unknown")

// ErrOutcomeUnknownEarlier marks a dead letter whose outcome was unknown,
// read back to be sent again: it is not, unless asked (LineSource's
// IncludeUnknown), and is dead-lettered again as unknown.
var ErrOutcomeUnknownEarlier = fmt.Errorf("%w in an earlier run", ErrOutcomeUnknown)

// ErrNotSent marks what a stopped run settles without sending: an event
// it read and did not start, when its source cannot give it again, or an
// action of an event whose other actions it sent.
var ErrNotSent = errors.New("not sent: the run was stopped")

// Status is what happened to an event.
type Status int

// The outcomes of an event.
const (
	Sent    Status = iota // every action was sent
	Skipped               // a good event that no rule matched
	Failed                // the event or some of its actions were dead-lettered
)

func (s Status) String() string {
	return [...]string{"sent", "skipped", "failed"}[s]
}

// Result is the outcome of one event.
type Result struct {
	Ref     string
	Status  Status
	Actions int // actions planned
	Sent    int // actions sent
	Calls   int // Intercom calls spent, retries included
	// Saved counts, by reason, the calls not sent because Intercom already
	// held what they would send (e.g. "unchanged_contact"); nil for none.
	Saved   map[string]int
	Errors  []string // why actions failed (also in the dead letters)
	Unknown int      // actions cut off mid-request: outcome unknown
	// Err is Errors as errors, for errors.Is and errors.As: nil unless
	// something was dead-lettered, else an errors.Join of each failure in
	// the order of Errors (its text is Errors joined by newlines).
	Err error
	// Unsettled says a dead letter of the event could not be written (a
	// full or broken disk: Errors says why) and the event was left to its
	// source, which gives it again (Event.Redeliverable): nothing of it is
	// lost, and what of it was sent may be sent again.
	Unsettled bool
}

// Summary counts a run.
type Summary struct {
	Read         int // events taken from the source
	Events       int // events settled: Sent + Skipped + Failed; Read - Unsettled at the end
	Sent         int // events fully sent
	Skipped      int // events no rule matched
	Failed       int // events with something dead-lettered
	Unsettled    int // events a stopped run left for their source to deliver again
	Actions      int // actions planned
	ActionsSent  int
	DeadLettered int // dead-letter records written (an event or one action each)
	Unknown      int // actions cut off mid-request by an abort: outcome unknown
	Waited       int // actions that waited for their contact's identify
	Early        int // waiting actions given their last try early: too many others waited (the bounds on waiting)
	// WaitingBytes is the memory the actions waiting for their contact's
	// identify hold (their events' bytes and overhead) when the summary is
	// taken.
	WaitingBytes int64
	Calls        int
	Saved        map[string]int // calls not sent, by reason: Intercom held what they would send
	PerAction    map[string]ActionCount
	// Failures groups the dead letters by reason.
	Failures map[string]*Failure
	Elapsed  time.Duration
	// SameSecond counts track events of one name for one contact in a
	// second another had: Intercom keeps one of them, unless they were
	// spread over the following free seconds (Spread counts those).
	SameSecond, Spread int
}

// AddSaved adds the counts of calls saved src to *dst, making it if need
// be.
func AddSaved(dst *map[string]int, src map[string]int) {
	for r, n := range src {
		if *dst == nil {
			*dst = map[string]int{}
		}
		(*dst)[r] += n
	}
}

// SavedTotal is the sum of the counts of calls saved.
func SavedTotal(saved map[string]int) int {
	n := 0
	for _, c := range saved {
		n += c
	}
	return n
}

// Failure counts the dead letters of one reason, with the first as an
// example.
type Failure struct {
	Count   int
	Ref     string // where the first was read, e.g. "events.ndjson:12"
	Example string // its full error
}

// ActionCount is the sent and failed actions and the calls of one action
// kind.
type ActionCount struct {
	Sent   int
	Failed int // dead-lettered, outcome unknown included
	Calls  int
}

// Add adds the counts of s to sum (the summaries of several runs, such as
// a consumer's partitions); Elapsed is the longest.
func (sum *Summary) Add(s Summary) {
	sum.Read += s.Read
	sum.Events += s.Events
	sum.Sent += s.Sent
	sum.Skipped += s.Skipped
	sum.Failed += s.Failed
	sum.Unsettled += s.Unsettled
	sum.Actions += s.Actions
	sum.ActionsSent += s.ActionsSent
	sum.DeadLettered += s.DeadLettered
	sum.Unknown += s.Unknown
	sum.Waited += s.Waited
	sum.SameSecond += s.SameSecond
	sum.Spread += s.Spread
	sum.Early += s.Early
	sum.WaitingBytes += s.WaitingBytes
	sum.Calls += s.Calls
	AddSaved(&sum.Saved, s.Saved)
	for k, c := range s.PerAction {
		if sum.PerAction == nil {
			sum.PerAction = map[string]ActionCount{}
		}
		t := sum.PerAction[k]
		t.Sent += c.Sent
		t.Failed += c.Failed
		t.Calls += c.Calls
		sum.PerAction[k] = t
	}
	for r, f := range s.Failures {
		if sum.Failures == nil {
			sum.Failures = map[string]*Failure{}
		}
		t := sum.Failures[r]
		if t == nil {
			t = &Failure{Ref: f.Ref, Example: f.Example}
			sum.Failures[r] = t
		}
		t.Count += f.Count
	}
	sum.Elapsed = max(sum.Elapsed, s.Elapsed)
}
