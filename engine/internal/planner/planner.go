// Package planner runs an engine over a stream of NDJSON events and reports
// what happened to every line: the actions planned, no rule matched, or why
// the line failed. It is the one code path behind `intercom-actions plan`,
// `intercom-actions test` and the golden tests.
package planner

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/ndjson"
	"github.com/intercom-actions/intercom-actions/engine/internal/samesecond"
)

// Result is the outcome of one input line.
type Result struct {
	Line    int             // 1-based line number in its input
	Event   []byte          // the line as read; only its start if it was too long
	Actions []action.Action // planned actions (may be non-empty even when Err != nil)
	Err     error           // *engine.EventError, engine.RuleErrors, or nil
	Output  []byte          // what Options.Render made of it, if set
	// SameSecond are warnings of its track events that share a second
	// with an earlier one of their name and contact: Intercom stores one.
	SameSecond []string
}

// Skipped reports whether no rule matched a good event.
func (r *Result) Skipped() bool { return r.Err == nil && len(r.Actions) == 0 }

// Summary counts the outcomes of a run.
type Summary struct {
	Events     int // non-blank lines read, too long ones included
	Actions    int // actions planned
	Skipped    int // good events no rule matched
	BadEvents  int // lines that were not usable events, or were too long to read
	RuleErrors int // rule failures on good events
	SameSecond int // track events in a second an earlier one of their name and contact had
}

// String is a one-line report, e.g. "5 events: 7 actions, 1 skipped (no rule matched), 0 bad events, 0 rule errors".
func (s Summary) String() string {
	out := fmt.Sprintf("%d events: %d actions, %d skipped (no rule matched), %d bad events, %d rule errors",
		s.Events, s.Actions, s.Skipped, s.BadEvents, s.RuleErrors)
	if s.SameSecond > 0 {
		out += fmt.Sprintf(", %d same-second track events (Intercom keeps one of each)", s.SameSecond)
	}
	return out
}

// Failed reports whether any line or rule failed.
func (s Summary) Failed() bool { return s.BadEvents > 0 || s.RuleErrors > 0 }

// Run evaluates every non-blank line of r and calls fn with its result, in
// input order (see RunWith).
func Run(eng *engine.Engine, r io.Reader, fn func(*Result) error) (Summary, error) {
	return RunWith(eng, r, Options{}, fn)
}

// Options tune RunWith.
type Options struct {
	// Workers is how many batches of lines are evaluated at once; 0 means
	// one per CPU (GOMAXPROCS). Results reach fn in input order whatever it is.
	Workers int
	// Render, if set, renders each result in the workers, into
	// Result.Output, so that formatting runs in parallel too (AppendJSON,
	// AppendReadable).
	Render func(dst []byte, r *Result) []byte
}

// batch is one read's worth of input lines (ndjson.Reader.Fill: about
// ndjson.BufferSize bytes from a file), their results and their rendered
// output. The lines stay in the buffer they were read into.
type batch struct {
	buf     []byte // the input read, the lines' bytes among it
	lines   []ndjson.Line
	results []Result
	mem     action.Arena // the results' actions
	out     []byte       // rendered output, one result after another
	outEnds []int
	readErr error         // the read error after the last line, if any
	done    chan struct{} // closed when the batch is evaluated
}

// RunWith evaluates every non-blank line of r, batches of lines on several
// cores, and calls fn with each result in input order, on the calling
// goroutine. A result (its Event, Actions and Output) is valid until fn
// returns. A line longer than ndjson.MaxLine is not evaluated: its result's
// Err is an *engine.EventError that gives its length, and the run goes on.
// RunWith stops at the first error from fn or from reading r.
func RunWith(eng *engine.Engine, r io.Reader, opts Options, fn func(*Result) error) (Summary, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	stop := make(chan struct{})
	order := make(chan *batch, 2*workers) // batches in input order, for the caller
	work := make(chan *batch, 2*workers)  // the same batches, for the workers
	// The run's batches are made once and reused until it ends, not left to
	// a sync.Pool, which the collector empties: every new arena is memory
	// the process must fault in (tens of µs a page on some VMs). At most
	// 2*workers+2 are in use at once: order's, the caller's, the reader's.
	free := make(chan *batch, 2*workers+2)
	go read(r, order, work, free, stop)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				b.evaluate(eng, opts.Render)
				close(b.done)
			}
		}()
	}
	defer func() {
		close(stop) // the reader stops; then the workers run out of work
		wg.Wait()
	}()

	var sum Summary
	seconds := samesecond.New(0)
	for b := range order {
		<-b.done
		for i := range b.results {
			res := &b.results[i]
			res.SameSecond = sameSecond(seconds, res, res.SameSecond[:0])
			sum.count(res)
			if err := fn(res); err != nil {
				return sum, err
			}
		}
		err := b.readErr
		b.reset()
		select {
		case free <- b:
		default: // cannot happen (see free); should it, the batch is garbage
		}
		if err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// count adds one result to the summary.
func (s *Summary) count(res *Result) {
	s.Events++
	s.Actions += len(res.Actions)
	s.SameSecond += len(res.SameSecond)
	if res.Err == nil {
		if len(res.Actions) == 0 {
			s.Skipped++
		}
		return
	}
	var ruleErrs engine.RuleErrors // escapes to errors.As: not made for a good event
	switch {
	case errors.As(res.Err, &ruleErrs):
		s.RuleErrors += len(ruleErrs)
	default:
		s.BadEvents++
	}
}

// read fills batches from r and hands each to both the workers and the
// caller, until the input ends, a read fails or stop closes.
func read(r io.Reader, order, work chan<- *batch, free <-chan *batch, stop <-chan struct{}) {
	defer close(order)
	defer close(work)
	rd := ndjson.NewReader(r)
	for {
		var b *batch
		select {
		case b = <-free:
		default:
			b = new(batch)
		}
		b.done = make(chan struct{})
		var err error
		b.buf, b.lines, err = rd.Fill(b.buf, b.lines)
		if err == io.EOF {
			return
		}
		if err != nil {
			b.readErr = err
		}
		for _, line := range b.lines {
			res := Result{Line: line.Number, Event: line.Bytes}
			if line.Err != nil {
				res.Err = &engine.EventError{Reason: line.Err.Error()}
			}
			b.results = append(b.results, res)
		}
		select {
		case order <- b:
		case <-stop:
			return
		}
		select {
		case work <- b:
		case <-stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// evaluate plans every line of the batch and renders its results.
func (b *batch) evaluate(eng *engine.Engine, render func([]byte, *Result) []byte) {
	for i := range b.results {
		res := &b.results[i]
		if res.Err == nil {
			// The batch outlives the actions: the caller is done with them
			// before the batch is reused.
			res.Actions, res.Err = eng.EvaluateIn(&b.mem, res.Event)
		}
		if render != nil {
			b.out = render(b.out, res)
			b.outEnds = append(b.outEnds, len(b.out))
		}
	}
	start := 0
	for i := range b.outEnds {
		b.results[i].Output = b.out[start:b.outEnds[i]]
		start = b.outEnds[i]
	}
}

// reset empties the batch for reuse, keeping its memory.
func (b *batch) reset() {
	clear(b.results) // let the actions go
	b.mem.Reset()
	b.buf, b.lines, b.results = b.buf[:0], b.lines[:0], b.results[:0]
	b.out, b.outEnds, b.readErr = b.out[:0], b.outEnds[:0], nil
}

// Messages lists a result's failures one per entry, each starting with
// "line N: ".
func (r *Result) Messages() []string {
	var ruleErrs engine.RuleErrors
	switch {
	case r.Err == nil:
		return nil
	case errors.As(r.Err, &ruleErrs):
		out := make([]string, len(ruleErrs))
		for i, e := range ruleErrs {
			out[i] = fmt.Sprintf("line %d: %v", r.Line, e)
		}
		return out
	}
	return []string{fmt.Sprintf("line %d: %v", r.Line, r.Err)}
}

// WriteReadable writes a result in the golden-file form (AppendReadable).
func WriteReadable(w io.Writer, r *Result) error {
	_, err := w.Write(AppendReadable(nil, r))
	return err
}

// Note is the JSON form of a line that planned no action, or of one failure
// on it, in the --pretty stream: {"line":3,"skip":"no rule matched"},
// {"line":4,"error":"invalid event: ..."} or
// {"line":5,"rule":"Track Event","error":"field event_name: ..."}.
type Note struct {
	Line  int    `json:"line"`
	Rule  string `json:"rule,omitempty"`
	Skip  string `json:"skip,omitempty"`
	Error string `json:"error,omitempty"`
}

// Notes lists a result's failures, and its skip, as Notes.
func (r *Result) Notes() []Note {
	var ruleErrs engine.RuleErrors
	switch {
	case r.Skipped():
		return []Note{{Line: r.Line, Skip: "no rule matched"}}
	case r.Err == nil:
		return nil
	case errors.As(r.Err, &ruleErrs):
		out := make([]Note, len(ruleErrs))
		for i, e := range ruleErrs {
			out[i] = Note{Line: r.Line, Rule: e.Rule, Error: e.Err.Error()}
		}
		return out
	}
	return []Note{{Line: r.Line, Error: r.Err.Error()}}
}

// WriteJSON writes each planned action of r as one JSON line (AppendJSON).
func WriteJSON(w io.Writer, r *Result) error {
	_, err := w.Write(AppendJSON(nil, r))
	return err
}

// sameSecond appends to dst a warning for each track event of res that
// has a second an earlier event of its name and contact had, in input
// order: Intercom de-duplicates events by contact, name and created_at,
// so it would store one of them.
func sameSecond(seconds *samesecond.Seconds, res *Result, dst []string) []string {
	for _, a := range res.Actions {
		contact, name, at, ok := action.EventSecond(a)
		if !ok || !seconds.Place(contact, name, at, "", false).Same {
			continue
		}
		dst = append(dst, fmt.Sprintf("line %d: warning: rule %q: event %q for %s at %d: an earlier event of this name for this contact has this second, and Intercom keeps one of them (send --spread-same-second-events keeps both)",
			res.Line, a.Rule, name, contact, at))
	}
	return dst
}
