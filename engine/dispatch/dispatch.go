// Package dispatch runs events through the engine and sends the planned
// actions to Intercom, in order per contact, with a bounded number of
// requests in flight, and writes everything that finally fails to a
// dead-letter output so no event is lost. It does I/O: through the
// Executor, and to the dead-letter output.
//
// Ordering: every event is evaluated once, where it is read, and routed by
// the contact its planned actions concern (action.Contact: the mapped
// external_id, else email, else Intercom id — whatever paths the rules map
// them from) to one of Concurrency workers; each worker handles its events
// one after another. So an identify is applied before a later track or
// group of the same contact, while different contacts proceed in parallel.
//
// A group or track for a contact Intercom does not know yet (the seed's
// FAQ: a group call before the user's identify) is parked, not dropped:
// it is retried as soon as an identify for that contact succeeds, and is
// dead-lettered with "contact not found" only when none succeeds within
// ContactWait (or by the end of the input).
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// ErrUnauthorized is the cause of a run stopped because Intercom refused
// the access token (401): every further call would fail the same way, so
// nothing more is sent; what was not sent is dead-lettered with this
// reason. Run's error wraps it and the *intercom.APIError.
var ErrUnauthorized = errors.New("intercom refused the access token")

// Executor runs one planned action; action.Executor (over the REST client)
// is the real one.
type Executor interface {
	Execute(ctx context.Context, a action.Action) (action.Result, error)
}

// Event is one input event and where it came from.
type Event struct {
	Raw  []byte
	Ref  string // e.g. "events.ndjson:12", for messages and dead letters
	Only string // when set, only this rule's action is sent (a dead-letter re-run)
	// Err is set when the source could not read this event whole (Raw is
	// then its start); it is dead-lettered with this error and not evaluated.
	Err error
}

// Source yields events; Next returns io.EOF after the last one.
type Source interface {
	Next(ctx context.Context) (Event, error)
}

// Config configures a Dispatcher.
type Config struct {
	Engine   *engine.Engine
	Executor Executor
	// Concurrency is the number of workers, and so the most actions in
	// flight; default 8.
	Concurrency int
	// ContactWait bounds how long an action whose contact does not exist
	// yet waits for that contact's identify; default 30s.
	ContactWait time.Duration
	// DeadLetter receives what finally failed; nil discards (the failures
	// are still counted and reported through OnResult).
	DeadLetter *DeadLetterWriter
	// OnResult, if set, is called once per event when it is done (from
	// several goroutines; it must be safe for concurrent use).
	OnResult func(Result)
}

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
	Actions int      // actions planned
	Sent    int      // actions sent
	Calls   int      // Intercom calls spent, retries included
	Errors  []string // why actions failed (also in the dead-letter output)
}

// Summary counts a run.
type Summary struct {
	Read         int // events taken from the source
	Events       int // events done: Sent + Skipped + Failed, equal to Read at the end
	Sent         int // events fully sent
	Skipped      int // events no rule matched
	Failed       int // events with something dead-lettered
	Actions      int // actions planned
	ActionsSent  int
	DeadLettered int // dead-letter records written (an event or one action each)
	Waited       int // actions that waited for their contact's identify
	Calls        int
	PerAction    map[string]ActionCount
	Elapsed      time.Duration
}

// ActionCount is the sent actions and calls of one action kind.
type ActionCount struct {
	Sent  int
	Calls int
}

// Dispatcher sends events to Intercom. Create it with New.
type Dispatcher struct {
	cfg  Config
	seed maphash.Seed

	turn int // the reader's round-robin worker for events naming no contact

	mu      sync.Mutex
	sum     Summary
	workers []*worker               // of the current Run, for announcing identified contacts
	stop    context.CancelCauseFunc // of the current Run: stops it (on a 401)
}

// New checks cfg and fills in defaults.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Engine == nil || cfg.Executor == nil {
		return nil, errors.New("dispatch: Engine and Executor are required")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.ContactWait <= 0 {
		cfg.ContactWait = 30 * time.Second
	}
	return &Dispatcher{cfg: cfg, seed: maphash.MakeSeed()}, nil
}

// Run reads src to its end, sends every event and returns the summary.
// A Dispatcher runs one Run at a time.
// It returns early, with ctx's error, if ctx is cancelled; an error from
// src ends the run after the events already read are done. A 401 from
// Intercom stops it at once, with an error wrapping ErrUnauthorized: no
// more is read or sent, and the events read but not sent are dead-lettered
// with that reason.
func (d *Dispatcher) Run(ctx context.Context, src Source) (Summary, error) {
	start := time.Now()
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	workers := make([]*worker, d.cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = &worker{d: d, in: make(chan *planned, 64), wake: make(chan []string, 256)}
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			w.run(ctx)
		}(workers[i])
	}
	d.mu.Lock()
	d.workers, d.stop = workers, stop
	d.mu.Unlock()
	var readErr error
	for {
		if ctx.Err() != nil { // stopped (a 401): read no more
			readErr = context.Cause(ctx)
			break
		}
		ev, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		d.count(func(s *Summary) { s.Read++ })
		p := d.plan(ev)
		w := workers[d.route(p)]
		select {
		case w.in <- p:
		case <-ctx.Done():
			readErr = context.Cause(ctx)
			(&worker{d: d}).interrupted(ev, readErr)
		}
		if readErr != nil {
			break
		}
	}
	for _, w := range workers {
		close(w.in)
	}
	wg.Wait()
	d.mu.Lock()
	d.workers, d.stop = nil, nil
	d.mu.Unlock()
	// Only now can no identify follow: give the waiting actions their last try.
	for _, w := range workers {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			w.flush(ctx)
		}(w)
	}
	wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sum.Elapsed = time.Since(start)
	if cause := context.Cause(ctx); errors.Is(cause, ErrUnauthorized) {
		readErr = cause // however the reader noticed, the run stopped for this
	}
	if err := d.cfg.DeadLetter.Flush(); err != nil && readErr == nil {
		readErr = err
	}
	return d.sum, readErr
}

// stopIfUnauthorized stops the current Run when err is a 401: Intercom
// refuses the token, and every further call would fail the same way.
func (d *Dispatcher) stopIfUnauthorized(err error) {
	var ae *intercom.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		return
	}
	d.mu.Lock()
	stop := d.stop
	d.mu.Unlock()
	if stop != nil {
		stop(fmt.Errorf("%w: %w", ErrUnauthorized, ae))
	}
}

// whyStopped adds to the error of an action cut short by a stopped run (a
// call in flight when another worker met a 401) why the run stopped.
func whyStopped(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || !errors.Is(err, context.Canceled) {
		return err
	}
	if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) {
		return fmt.Errorf("%w (the run was stopped: %w)", err, cause)
	}
	return err
}

// notSent is the error of an action not sent because the run stopped, or
// nil while it goes on.
func notSent(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return fmt.Errorf("not sent: the run was stopped (%w)", context.Cause(ctx))
}

// Process sends one event synchronously, for embedding the dispatcher as
// a processor stage. Ordering across calls is the caller's; an action
// whose contact is not found is dead-lettered at once.
func (d *Dispatcher) Process(ctx context.Context, ev Event) Result {
	w := &worker{d: d}
	res := w.handle(ctx, d.plan(ev))
	w.flush(ctx)
	return *res
}

// Summary returns the counts so far.
func (d *Dispatcher) Summary() Summary {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sum
}

// planned is an event evaluated where it was read, ready for its worker.
type planned struct {
	ev      Event
	actions []action.Action // of the rule Only, if set
	err     error           // *engine.EventError or engine.RuleErrors, or nil
}

// plan evaluates an event once; its actions then decide its worker.
func (d *Dispatcher) plan(ev Event) *planned {
	p := &planned{ev: ev}
	if ev.Err != nil {
		return p // unread: handle dead-letters it
	}
	p.actions, p.err = d.cfg.Engine.Evaluate(ev.Raw)
	if ev.Only != "" {
		kept := p.actions[:0]
		for _, a := range p.actions {
			if a.Rule == ev.Only {
				kept = append(kept, a)
			}
		}
		p.actions = kept
	}
	return p
}

// route picks the worker of an event: by the contact of its first action
// that names one, so that every event of one contact goes to one worker.
// An event that names no contact (unusable, or no rule matched) goes to
// the next worker in turn.
func (d *Dispatcher) route(p *planned) int {
	for i := range p.actions {
		if key := p.actions[i].Contact().Key(); key != "" {
			return int(maphash.String(d.seed, key) % uint64(d.cfg.Concurrency))
		}
	}
	d.turn = (d.turn + 1) % d.cfg.Concurrency
	return d.turn
}

// worker handles its events one at a time, so per-contact order holds.
type worker struct {
	d      *Dispatcher
	in     chan *planned
	wake   chan []string // contact keys identified by other workers
	parked []*parked
}

// parked is an action waiting for its contact to be identified.
type parked struct {
	res      *Result
	ev       Event
	action   action.Action
	keys     []string // the contact it waits for (action.Contact.Keys)
	deadline time.Time
	pending  *int // actions of the event still open; the event is done at 0
}

func (w *worker) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, ok := w.nextDeadline()
		if ok {
			timer.Reset(time.Until(next))
		}
		var timeout <-chan time.Time
		if ok {
			timeout = timer.C
		}
		select {
		case p, open := <-w.in:
			if !open {
				return // Run flushes the parked actions once every worker is done
			}
			if ctx.Err() != nil {
				w.interrupted(p.ev, context.Cause(ctx))
				continue
			}
			w.handle(ctx, p)
		case keys := <-w.wake:
			w.retryParked(ctx, keys)
		case <-timeout:
			w.expire(ctx, time.Now())
		case <-ctx.Done():
			// Nothing more is sent; what was queued goes to the dead letters,
			// so that sending them again picks up where this run stopped.
			for p := range w.in {
				w.interrupted(p.ev, context.Cause(ctx))
			}
			return
		}
		if ok && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// handle sends one evaluated event's actions in rule order.
func (w *worker) handle(ctx context.Context, p *planned) *Result {
	ev := p.ev
	res := &Result{Ref: ev.Ref}
	if ev.Err != nil {
		w.deadLetter(res, ev, ev.Only, "", ev.Err)
		w.done(res)
		return res
	}
	var ruleErrs engine.RuleErrors
	switch {
	case errors.As(p.err, &ruleErrs):
		for _, re := range ruleErrs {
			if ev.Only == "" || ev.Only == re.Rule {
				w.deadLetter(res, ev, re.Rule, "", re.Err)
			}
		}
	case p.err != nil:
		w.deadLetter(res, ev, "", "", p.err)
		w.done(res)
		return res
	}
	res.Actions = len(p.actions)
	pending := new(int)
	*pending = 1 // held until every action is started
	for _, a := range p.actions {
		if err := notSent(ctx); err != nil {
			w.deadLetter(res, ev, a.Rule, a.Kind.Name, err)
			continue
		}
		out, err := w.d.cfg.Executor.Execute(ctx, a)
		res.Calls += out.Calls
		w.d.stopIfUnauthorized(err)
		err = whyStopped(ctx, err)
		switch {
		case err == nil:
			w.sent(res, a, out.Calls)
			if a.Kind.Identifies {
				w.identified(ctx, identifiedKeys(a, out))
			}
		case errors.Is(err, action.ErrContactNotFound) && w.in != nil:
			*pending++
			w.parked = append(w.parked, &parked{res: res, ev: ev, action: a, keys: a.Contact().Keys(),
				deadline: time.Now().Add(w.d.cfg.ContactWait), pending: pending})
			w.d.count(func(s *Summary) { s.Waited++ })
		default:
			w.deadLetter(res, ev, a.Rule, a.Kind.Name, err)
		}
	}
	*pending--
	if *pending == 0 {
		w.done(res)
	}
	return res
}

// identifiedKeys are the keys an identifying action announces: its
// contact's, and the Intercom id it acted on.
func identifiedKeys(a action.Action, out action.Result) []string {
	keys := a.Contact().Keys()
	if out.ContactID != "" {
		keys = append(keys, "id:"+out.ContactID)
	}
	return keys
}

// identified retries the actions waiting for the contact just identified,
// here and, through their wake channels, in the other workers (an
// anonymous track keyed by email may wait in another worker than the
// identify keyed by userId).
func (w *worker) identified(ctx context.Context, keys []string) {
	w.retryParked(ctx, keys)
	w.d.mu.Lock()
	others := w.d.workers
	w.d.mu.Unlock()
	for _, o := range others {
		if o == w {
			continue
		}
		select {
		case o.wake <- keys:
		default: // a full queue: that action retries when its wait ends
		}
	}
}

// retryParked retries the actions waiting for any of the contact keys.
func (w *worker) retryParked(ctx context.Context, keys []string) {
	for _, p := range w.take(func(p *parked) bool { return sharesKey(p.keys, keys) }) {
		w.retry(ctx, p, false)
	}
}

// take removes and returns the parked actions for which due is true.
func (w *worker) take(due func(*parked) bool) []*parked {
	var out []*parked
	kept := w.parked[:0]
	for _, p := range w.parked {
		if due(p) {
			out = append(out, p)
		} else {
			kept = append(kept, p)
		}
	}
	w.parked = kept
	return out
}

func sharesKey(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// retry sends a parked action again; final means no more waiting.
func (w *worker) retry(ctx context.Context, p *parked, final bool) {
	var out action.Result
	err := notSent(ctx)
	if err == nil {
		out, err = w.d.cfg.Executor.Execute(ctx, p.action)
		w.d.stopIfUnauthorized(err)
		err = whyStopped(ctx, err)
	}
	p.res.Calls += out.Calls
	switch {
	case err == nil:
		w.sent(p.res, p.action, out.Calls)
	case errors.Is(err, action.ErrContactNotFound) && !final:
		w.parked = append(w.parked, p)
		return
	case errors.Is(err, action.ErrContactNotFound):
		w.deadLetter(p.res, p.ev, p.action.Rule, p.action.Kind.Name,
			fmt.Errorf("%w; no identify for this contact succeeded within %s", err, w.d.cfg.ContactWait))
	default:
		w.deadLetter(p.res, p.ev, p.action.Rule, p.action.Kind.Name, err)
	}
	*p.pending--
	if *p.pending == 0 {
		w.done(p.res)
	}
}

func (w *worker) nextDeadline() (time.Time, bool) {
	var next time.Time
	for _, p := range w.parked {
		if next.IsZero() || p.deadline.Before(next) {
			next = p.deadline
		}
	}
	return next, !next.IsZero()
}

// expire gives the actions whose wait is over one last try.
func (w *worker) expire(ctx context.Context, now time.Time) {
	for _, p := range w.take(func(p *parked) bool { return !p.deadline.After(now) }) {
		w.retry(ctx, p, true)
	}
}

// flush ends the waits at the end of the input: no identify can follow.
func (w *worker) flush(ctx context.Context) {
	due := w.parked
	w.parked = nil
	for _, p := range due {
		w.retry(ctx, p, true)
	}
}

// interrupted dead-letters an event the run stopped before sending.
func (w *worker) interrupted(ev Event, cause error) {
	res := &Result{Ref: ev.Ref}
	w.deadLetter(res, ev, ev.Only, "", fmt.Errorf("not sent: the run was stopped (%w)", cause))
	w.done(res)
}

func (w *worker) sent(res *Result, a action.Action, calls int) {
	res.Sent++
	w.d.count(func(s *Summary) {
		s.ActionsSent++
		if s.PerAction == nil {
			s.PerAction = map[string]ActionCount{}
		}
		c := s.PerAction[a.Kind.Name]
		c.Sent++
		c.Calls += calls
		s.PerAction[a.Kind.Name] = c
	})
}

func (w *worker) deadLetter(res *Result, ev Event, rule, action string, err error) {
	res.Errors = append(res.Errors, errorText(rule, err))
	if dlErr := w.d.cfg.DeadLetter.Write(ev, rule, action, err); dlErr != nil {
		res.Errors = append(res.Errors, "dead-letter write failed: "+dlErr.Error())
	}
	w.d.count(func(s *Summary) { s.DeadLettered++ })
}

func errorText(rule string, err error) string {
	if rule == "" {
		return err.Error()
	}
	return fmt.Sprintf("rule %q: %v", rule, err)
}

// done records a finished event.
func (w *worker) done(res *Result) {
	switch {
	case len(res.Errors) > 0:
		res.Status = Failed
	case res.Actions == 0:
		res.Status = Skipped
	default:
		res.Status = Sent
	}
	w.d.count(func(s *Summary) {
		s.Events++
		s.Actions += res.Actions
		s.Calls += res.Calls
		switch res.Status {
		case Sent:
			s.Sent++
		case Skipped:
			s.Skipped++
		case Failed:
			s.Failed++
		}
	})
	if w.d.cfg.OnResult != nil {
		w.d.cfg.OnResult(*res)
	}
}

func (d *Dispatcher) count(f func(*Summary)) {
	d.mu.Lock()
	f(&d.sum)
	d.mu.Unlock()
}
