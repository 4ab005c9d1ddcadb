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
//
// Merging: an Executor that also has Announce and Forget methods
// (action.Executor with Merges) is told of each planned action as its
// event is read, in input order, and of each announced action a run will
// not run; it may then let one call carry the parts of several queued
// actions: the upserts of one company by the group calls of its members.
//
// Stopping: Stop ends a run gracefully. Reading stops, the events being
// sent are finished, and every other event read is settled: a source that
// can deliver an event again (Event.Redeliverable: a checkpointed file, a
// spool) gets it back unsettled; any other event is dead-lettered as not
// sent. Cancelling Run's context aborts: requests in flight are cut off,
// and an action cut off after a request was sent is dead-lettered as
// "outcome unknown" (delivery.ErrOutcomeUnknown), never as a plain failure whose
// replay could apply it twice. Event.Done tells a source when each event
// is settled, so it can checkpoint.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/pause"
	"github.com/intercom-actions/intercom-actions/engine/internal/samesecond"
)

// The vocabulary of a run, shared with its sources and sinks.
type (
	Event   = delivery.Event
	Source  = delivery.Source
	Result  = delivery.Result
	Summary = delivery.Summary
)

// Executor runs one planned action; action.Executor (over the REST client)
// is the real one.
type Executor interface {
	Execute(ctx context.Context, a action.Action) (action.Result, error)
}

// Announcer hears of the planned actions before they run, in input order,
// and of those a run will not run: *action.Merges is one.
type Announcer interface {
	Announce(action.Action)
	Forget(action.Action)
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
	// MaxWaiting bounds how many actions wait for their contact at once
	// (each holds its event); past it, the one that has waited longest
	// gets its last try early. Default 100,000.
	MaxWaiting int
	// MaxWaitingBytes bounds the memory of the actions waiting for their
	// contact: each counts its event's bytes and 4 KiB (waitingOverhead: what
	// its planned action and bookkeeping hold). Past it, as past
	// MaxWaiting, the action that has waited longest gets its last try
	// early. Default DefaultMaxWaitingBytes.
	MaxWaitingBytes int64
	// Merges, if set, is told of each planned action as its event is read,
	// in input order, and of each such action a run will not run, so that
	// the Executor (which must share it: an *action.Merges) can let one
	// call carry the parts of several queued actions.
	Merges Announcer
	// Sink receives each event's Result and the dead letters.
	Sink delivery.Sink
	// SearchWait is how long an action whose contact a search did not
	// find (action.SearchMissed: a lead, or a contact found by email)
	// waits, when that is longer than ContactWait: Intercom's search lags
	// writes by up to a few minutes. At the end of the input such an action
	// still waits that long for its last try. 0: ContactWait only.
	SearchWait time.Duration
	// Seconds, if set, places track events in time as they are planned:
	// one of a name for a contact in a second another has is counted, and
	// with SpreadSameSecond moved to the next free second (see
	// placeEvents). Share one across the runs of a workspace.
	Seconds          *samesecond.Seconds
	SpreadSameSecond bool
	// WaitingBytes, if set, also counts the memory of the actions waiting
	// for their contact (Summary.WaitingBytes), with that of the other
	// runs sharing it: an owner reads it without copying a Summary.
	WaitingBytes *atomic.Int64
}

// Dispatcher sends events to Intercom. Create it with New.
type Dispatcher struct {
	cfg  Config
	seed maphash.Seed
	now  func() time.Time // the dead letters' time

	turn int // the reader's round-robin worker for events naming no contact

	stop     chan struct{} // closed by Stop
	stopOnce sync.Once
	cause    error // why the run stopped by itself (ErrUnauthorized); guarded by mu

	waitingBytes atomic.Int64 // held by the waiting actions of every worker

	mu      sync.Mutex
	sum     Summary
	workers []*worker // of the current Run, for announcing identified contacts
}

// DefaultMaxWaitingBytes is the default of Config.MaxWaitingBytes.
const DefaultMaxWaitingBytes = 64 << 20

// waitingOverhead is what a waiting action holds besides its event's
// bytes, as Config.MaxWaitingBytes counts it: its planned action (the
// fields the rule mapped, which may copy parts of the event), the
// bookkeeping of its wait, and its entries in the index by contact.
const waitingOverhead = 4 << 10

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
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = 100_000
	}
	if cfg.MaxWaitingBytes <= 0 {
		cfg.MaxWaitingBytes = DefaultMaxWaitingBytes
	}
	return &Dispatcher{cfg: cfg, seed: maphash.MakeSeed(), now: time.Now, stop: make(chan struct{})}, nil
}

// Stop ends the current Run gracefully: it stops reading, lets the events
// being sent finish (bound that by cancelling Run's context, which aborts),
// leaves the events it read but did not start unsettled for a source that
// can redeliver them and dead-letters the others as not sent, and then Run
// returns delivery.ErrStopped. A stopped Dispatcher stays stopped: a later Run
// returns at once. Stop may be called from any goroutine, more than once.
func (d *Dispatcher) Stop() {
	d.stopOnce.Do(func() { close(d.stop) })
}

func (d *Dispatcher) stopped() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

// stopIfFatal stops the run when err is a 401 (Intercom refuses the
// token, and every further call would fail the same way: a client whose
// Pause waits for a good token never returns one) or an outage the client
// gave up on (pause.ErrOutage).
func (d *Dispatcher) stopIfFatal(err error) {
	var ae *intercom.APIError
	var cause error
	switch {
	case errors.Is(err, pause.ErrOutage):
		cause = err
	case errors.Is(err, intercom.ErrUnauthorized) && errors.As(err, &ae):
		cause = fmt.Errorf("%w: %w", intercom.ErrUnauthorized, ae)
	default:
		return
	}
	d.mu.Lock()
	if d.cause == nil {
		d.cause = cause
	}
	d.mu.Unlock()
	d.Stop()
}

// held says whether err is a call that waited for delivery to resume
// (a refused token, an outage) until the run stopped or gave up: the
// action was not applied, so its event goes back to its source, not to the
// dead letters.
func held(err error) bool { return errors.Is(err, pause.ErrHeld) || errors.Is(err, pause.ErrOutage) }

// stopCause is why the run stopped by itself, or nil.
func (d *Dispatcher) stopCause() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cause
}

// notSent is the dead-letter reason of an action a stopped run did not
// send: with the cause when the run stopped by itself.
func (d *Dispatcher) notSent() error {
	if cause := d.stopCause(); cause != nil {
		return fmt.Errorf("not sent: the run was stopped (%w)", cause)
	}
	return delivery.ErrNotSent
}

// Run reads src to its end, sends every event and returns the summary.
// A Dispatcher runs one Run at a time.
// After Stop it returns delivery.ErrStopped once the events being sent are done
// (see Stop). Cancelling ctx aborts: requests in flight are cut off (see
// delivery.ErrOutcomeUnknown) and Run returns ctx's error. An error from src ends
// the run after the events already read are done.
func (d *Dispatcher) Run(ctx context.Context, src Source) (Summary, error) {
	start := time.Now()
	ctx = pause.WithStop(ctx, d.stop) // a stop ends the waits for delivery to resume
	workers := make([]*worker, d.cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = &worker{d: d, ctx: ctx, in: make(chan *planned, 64), wake: make(chan []string, 256),
			waiting: waiting{total: &d.waitingBytes, shared: d.cfg.WaitingBytes}}
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			w.run(ctx)
		}(workers[i])
	}
	d.mu.Lock()
	d.workers = workers
	d.mu.Unlock()

	// A goroutine reads, so that a stop does not wait for a Next blocked in
	// a read (standard input, a spool waiting for events). readCtx ends it.
	readCtx, endRead := context.WithCancel(ctx)
	defer endRead()
	type read struct {
		ev  Event
		err error
	}
	reads := make(chan read)
	go func() {
		for {
			ev, err := src.Next(readCtx)
			select {
			case reads <- read{ev, err}:
			case <-readCtx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	var readErr error
	interrupted := func() bool { // a stop or an abort ends the reading
		if ctx.Err() != nil {
			readErr = ctx.Err()
			return true
		}
		if d.stopped() {
			readErr = delivery.ErrStopped
			return true
		}
		return false
	}
reading:
	for !interrupted() {
		var r read
		select {
		case r = <-reads:
		case <-d.stop:
			continue // interrupted() says so
		case <-ctx.Done():
			continue
		}
		if errors.Is(r.err, io.EOF) {
			break
		}
		if r.err != nil {
			if !interrupted() { // a read cut short by the stop is no error of src
				readErr = r.err
			}
			break
		}
		d.count(func(s *Summary) { s.Read++ })
		p := d.plan(r.ev)
		d.announce(p.actions)
		w := workers[d.route(p)]
		select {
		case w.in <- p:
		case <-ctx.Done():
			(&worker{d: d, ctx: ctx}).leave(p)
			break reading
		case <-d.stop:
			(&worker{d: d, ctx: ctx}).leave(p)
			break reading
		}
	}
	endRead()
	for _, w := range workers {
		close(w.in)
	}
	wg.Wait()
	d.mu.Lock()
	d.workers = nil
	d.mu.Unlock()
	if readErr == nil {
		interrupted() // a stop or abort after the last read ends this run too
	}
	if readErr == delivery.ErrStopped || ctx.Err() != nil {
		// Stopped: no identify will come in this run. What waits is settled
		// without another try (see leaveParked).
		for _, w := range workers {
			w.leaveParked()
		}
	} else {
		// Only now can no identify follow: give the waiting actions their last try.
		for _, w := range workers {
			wg.Add(1)
			go func(w *worker) {
				defer wg.Done()
				w.flush(ctx)
			}(w)
		}
		wg.Wait()
		for _, w := range workers { // held by a stop during the last tries
			w.leaveParked()
		}
	}
	if cause := d.stopCause(); cause != nil {
		readErr = cause // however the reader noticed, the run stopped for this
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sum.Elapsed = time.Since(start)
	d.sum.WaitingBytes = d.waitingBytes.Load()
	return d.sum, readErr
}

// Start runs src as Run does, in a goroutine of its own, and returns at
// once: the Run it returns stops the dispatcher, waits for it and counts.
func (d *Dispatcher) Start(ctx context.Context, src Source) delivery.Run {
	r := &started{d: d, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.sum, r.err = d.Run(ctx, src)
	}()
	return r
}

// started is a Dispatcher's Run in progress.
type started struct {
	d    *Dispatcher
	done chan struct{}
	sum  Summary
	err  error
}

func (r *started) Stop()            { r.d.Stop() }
func (r *started) Summary() Summary { return r.d.Summary() }
func (r *started) Wait() (Summary, error) {
	<-r.done
	return r.sum, r.err
}

// Process sends one event synchronously, for embedding the dispatcher as
// a processor stage. Ordering across calls is the caller's; an action
// whose contact is not found is dead-lettered at once. Its actions are not
// announced (nothing of them is queued): each sends its own calls, which
// the REST client still merges with concurrent upserts of a company.
func (d *Dispatcher) Process(ctx context.Context, ev Event) Result {
	ctx = pause.WithStop(ctx, d.stop)
	w := &worker{d: d, ctx: ctx}
	return *w.handle(ctx, d.plan(ev)) // a worker without input parks nothing
}

// Summary returns the counts so far: a copy, safe to read while the run
// goes on.
func (d *Dispatcher) Summary() Summary {
	d.mu.Lock()
	defer d.mu.Unlock()
	var s Summary
	s.Add(d.sum) // a copy that shares no map with d.sum
	s.WaitingBytes = d.waitingBytes.Load()
	return s
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
	p.actions, p.err = d.cfg.Engine.EvaluateNoCopy(ev.Raw)
	if ev.Only != "" {
		kept := p.actions[:0]
		for _, a := range p.actions {
			if a.Rule == ev.Only {
				kept = append(kept, a)
			}
		}
		p.actions = kept
	}
	d.placeEvents(p)
	return p
}

// announce tells the Executor, if it wants to know, of the actions just
// planned: before any of them runs, in input order.
func (d *Dispatcher) announce(actions []action.Action) {
	if d.cfg.Merges == nil {
		return
	}
	for _, a := range actions {
		d.cfg.Merges.Announce(a)
	}
}

// forget tells the Executor, if it wants to know, that announced actions
// will not run.
func (d *Dispatcher) forget(actions []action.Action) {
	if d.cfg.Merges == nil {
		return
	}
	for _, a := range actions {
		d.cfg.Merges.Forget(a)
	}
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
	d       *Dispatcher
	ctx     context.Context // of the run: ends the tries of a dead letter
	in      chan *planned
	wake    chan []string // contact keys identified by other workers
	waiting waiting       // actions waiting for their contact's identify
}

func (w *worker) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// A stop or an abort goes before the next event: what is queued is
		// not started. (select alone would pick among ready cases at random.)
		if w.d.stopped() || ctx.Err() != nil {
			for p := range w.in { // until Run closes it, after its last read
				w.leave(p)
			}
			return // Run settles the parked actions once every worker is done
		}
		next, ok := w.waiting.next()
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
			w.handle(ctx, p)
		case keys := <-w.wake:
			w.retryParked(ctx, keys)
		case <-timeout:
			w.expire(ctx, time.Now())
		case <-w.d.stop:
		case <-ctx.Done():
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
		w.done(res, ev)
		return res
	}
	var ruleErrs engine.RuleErrors
	switch {
	case errors.As(p.err, &ruleErrs):
		var failed engine.RuleErrors // of the rules sent; one error in res.Err
		for _, re := range ruleErrs {
			if ev.Only == "" || ev.Only == re.Rule {
				w.deadLetterAs(res, ev, re.Rule, "", re.Err, nil)
				failed = append(failed, re)
			}
		}
		if len(failed) > 0 {
			res.Err = joinErr(res.Err, failed)
		}
	case p.err != nil:
		w.deadLetter(res, ev, "", "", p.err)
		w.done(res, ev)
		return res
	}
	res.Actions = len(p.actions)
	pending := new(int)
	*pending = 1 // held until every action is started
	// Actions an abort cut off before any of their requests reached Intercom
	// (none sent, or all refused before they got there) were not started.
	var unstarted []action.Action
	wasHeld := false   // an action waited for delivery to resume until the run stopped
	var mine []*parked // this event's actions parked to wait for their contact
	for i, a := range p.actions {
		if ctx.Err() != nil || w.d.stopCause() != nil { // aborted, or Intercom refuses the token
			unstarted = p.actions[i:]
			break
		}
		out, err := w.d.cfg.Executor.Execute(ctx, a)
		res.Calls += out.Calls
		delivery.AddSaved(&res.Saved, out.Saved)
		if err != nil {
			w.d.stopIfFatal(err)
		}
		switch {
		case err == nil:
			w.sent(res, a, out.Calls)
			if a.Kind.Identifies {
				w.identified(ctx, identifiedKeys(a, out))
			}
		case held(err):
			unstarted, wasHeld = p.actions[i:], true
		case cutOff(ctx, err) && out.Calls == out.Undelivered:
			unstarted = p.actions[i:]
		case cutOff(ctx, err):
			w.deadLetter(res, ev, a.Rule, a.Kind.Name, outcomeUnknown(err))
			unstarted = p.actions[i+1:]
		case errors.Is(err, action.ErrContactNotFound) && w.in != nil:
			*pending++
			p := w.d.parkFor(&parked{res: res, ev: ev, action: a, keys: a.Contact().Keys(), pending: pending,
				size: int64(len(ev.Raw)) + waitingOverhead}, err, time.Now())
			mine = append(mine, p)
			w.park(ctx, p)
			w.d.count(func(s *Summary) { s.Waited++ })
		default:
			w.deadLetter(res, ev, a.Rule, a.Kind.Name, err)
		}
		if unstarted != nil {
			break
		}
	}
	w.d.forget(unstarted)
	if wasHeld && len(res.Errors) == 0 && ev.Redeliverable {
		// Held by a pause: the event goes back to its source whole, with
		// its actions still waiting for their contact (a stop settles them
		// so anyway: no identify comes in this run). None is dead-lettered.
		for _, p := range mine {
			if !p.gone {
				w.waiting.take(p)
				*pending--
			}
		}
	}
	if len(unstarted) > 0 && *pending == 1 && (untouched(res) || wasHeld && len(res.Errors) == 0 && ev.Redeliverable) {
		// Aborted before anything of the event was sent: it was not started.
		// Or held by a pause with nothing dead-lettered: its source sends it
		// whole again (what was sent of it is sent again, as on a retry).
		w.leaveEvent(ev)
		return res
	}
	for _, a := range unstarted {
		w.deadLetter(res, ev, a.Rule, a.Kind.Name, w.d.notSent())
	}
	*pending--
	if *pending == 0 {
		w.done(res, ev)
	}
	return res
}

// cutOff says whether err is the abort of ctx cutting a call short.
func cutOff(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// outcomeUnknown is the error of an action cut off after it sent a request.
func outcomeUnknown(err error) error {
	return fmt.Errorf("%w: cut off by the stop after a request was sent, so Intercom may have applied it; check before sending it again (%v)", delivery.ErrOutcomeUnknown, err)
}

// untouched says whether nothing of an event was sent or dead-lettered.
func untouched(res *Result) bool { return res.Sent == 0 && len(res.Errors) == 0 }

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
	for _, p := range w.waiting.takeKeys(keys) {
		w.retry(ctx, p, "")
	}
}

// park makes an action wait for its contact. Past the worker's share of
// MaxWaiting or of MaxWaitingBytes, the action that has waited longest
// gets its last try at once instead, so memory stays bounded however many
// contacts are missing and however large their events.
func (w *worker) park(ctx context.Context, p *parked) {
	limit := (w.d.cfg.MaxWaiting + w.d.cfg.Concurrency - 1) / w.d.cfg.Concurrency
	byteLimit := w.d.cfg.MaxWaitingBytes / int64(w.d.cfg.Concurrency)
	for w.waiting.len() > 0 && (w.waiting.len() >= limit || w.waiting.bytes+p.size > byteLimit) {
		why := fmt.Sprintf("came before %d other actions were waiting (MaxWaiting)", w.d.cfg.MaxWaiting)
		if w.waiting.len() < limit {
			why = fmt.Sprintf("came before the actions waiting filled their memory bound (%d MiB)", w.d.cfg.MaxWaitingBytes>>20)
		}
		if w.retry(ctx, w.waiting.takeOldest(), why) {
			// Held: delivery is paused and the run stops (every further
			// try would be held too, and wait again); Run settles what
			// waits (leaveParked).
			break
		}
		w.d.count(func(s *Summary) { s.Early++ })
	}
	w.waiting.add(p)
}

// retry sends a parked action again. ended, unless "", says why its wait
// is over ("no identify for this contact <ended>"): it is not parked again.
// It says whether the try was held (a pause until the run stopped): the
// action then waits again, for leaveParked to settle.
func (w *worker) retry(ctx context.Context, p *parked, ended string) (heldAgain bool) {
	out, err := w.d.cfg.Executor.Execute(ctx, p.action)
	p.res.Calls += out.Calls
	delivery.AddSaved(&p.res.Saved, out.Saved)
	if err != nil {
		w.d.stopIfFatal(err)
	}
	switch {
	case err == nil:
		w.sent(p.res, p.action, out.Calls)
	case held(err):
		w.waiting.add(p) // settled by leaveParked: the run stops
		return true
	case cutOff(ctx, err) && out.Calls == out.Undelivered:
		w.deadLetter(p.res, p.ev, p.action.Rule, p.action.Kind.Name, errNotSentWaiting)
	case cutOff(ctx, err):
		w.deadLetter(p.res, p.ev, p.action.Rule, p.action.Kind.Name, outcomeUnknown(err))
	case errors.Is(err, action.ErrContactNotFound) && ended == "":
		w.waiting.add(p)
		return false
	case errors.Is(err, action.ErrContactNotFound):
		w.deadLetter(p.res, p.ev, p.action.Rule, p.action.Kind.Name,
			fmt.Errorf("%w; no identify for this contact %s", err, ended))
	default:
		w.deadLetter(p.res, p.ev, p.action.Rule, p.action.Kind.Name, err)
	}
	*p.pending--
	if *p.pending == 0 {
		w.done(p.res, p.ev)
	}
	return false
}

// expire gives the actions whose wait is over one last try.
func (w *worker) expire(ctx context.Context, now time.Time) {
	for _, p := range w.waiting.takeDue(now) {
		w.retry(ctx, p, "succeeded within "+p.wait.String())
	}
}

// flush ends the waits at the end of the input: no identify can follow.
func (w *worker) flush(ctx context.Context) {
	for _, p := range w.waiting.takeAll() {
		w.awaitSearch(ctx, p)
		w.retry(ctx, p, "came before the end of the input")
	}
}

// errNotSentWaiting is the dead-letter reason of a waiting action a
// stopped run settles.
var errNotSentWaiting = errors.New("not sent: the run was stopped while it waited for its contact's identify")

// leaveParked settles the actions still waiting when a run is stopped: no
// identify can come in this run. An event none of whose actions was sent
// or dead-lettered is left whole (see leave); otherwise each waiting action
// is dead-lettered with its rule, so that sending the dead letters again
// sends just it.
func (w *worker) leaveParked() {
	due := w.waiting.takeAll()
	left := map[*Result]bool{}
	for _, p := range due {
		// An event's waiting actions are all in its worker's list, so an
		// event still untouched has nothing open but them.
		if untouched(p.res) {
			if !left[p.res] {
				left[p.res] = true
				w.leaveEvent(p.ev)
			}
			continue
		}
		w.deadLetter(p.res, p.ev, p.action.Rule, p.action.Kind.Name, errNotSentWaiting)
		*p.pending--
		if *p.pending == 0 {
			w.done(p.res, p.ev)
		}
	}
}

// leave handles a planned event a stopped run will not start: its actions
// will not run (see leaveEvent).
func (w *worker) leave(p *planned) {
	w.d.forget(p.actions)
	w.leaveEvent(p.ev)
}

// leaveEvent handles an event a stopped run will not send: unsettled, for
// the source to deliver again, if it can; else dead-lettered as not sent,
// so nothing read is lost.
func (w *worker) leaveEvent(ev Event) {
	if ev.Redeliverable {
		w.d.count(func(s *Summary) { s.Unsettled++ })
		return
	}
	res := &Result{Ref: ev.Ref}
	w.deadLetter(res, ev, ev.Only, "", w.d.notSent())
	w.done(res, ev)
}

func (w *worker) sent(res *Result, a action.Action, calls int) {
	res.Sent++
	w.d.count(func(s *Summary) {
		s.ActionsSent++
		if s.PerAction == nil {
			s.PerAction = map[string]delivery.ActionCount{}
		}
		c := s.PerAction[a.Kind.Name]
		c.Sent++
		c.Calls += calls
		s.PerAction[a.Kind.Name] = c
	})
}

func (w *worker) deadLetter(res *Result, ev Event, rule, action string, err error) {
	typed := err
	if rule != "" {
		typed = &engine.RuleError{Rule: rule, Err: err} // its text is errorText's
	}
	w.deadLetterAs(res, ev, rule, action, err, typed)
}

// deadLetterAs is deadLetter adding typed to res.Err (nil: nothing, the
// caller adds it).
func (w *worker) deadLetterAs(res *Result, ev Event, rule, action string, err, typed error) {
	text := errorText(rule, err)
	res.Errors = append(res.Errors, text)
	if typed != nil {
		res.Err = joinErr(res.Err, typed)
	}
	unknown := errors.Is(err, delivery.ErrOutcomeUnknown)
	if unknown {
		res.Unknown++
	}
	dlErr := w.putDeadLetter(ev, rule, action, err)
	if dlErr != nil {
		res.Errors = append(res.Errors, "dead-letter write failed: "+dlErr.Error())
		res.Err = joinErr(res.Err, fmt.Errorf("dead-letter write failed: %w", dlErr))
		res.Unsettled = ev.Redeliverable // its source keeps it: nothing is lost
	}
	reason := Reason(rule, err)
	w.d.count(func(s *Summary) {
		if dlErr == nil {
			s.DeadLettered++
		}
		if action != "" {
			if s.PerAction == nil {
				s.PerAction = map[string]delivery.ActionCount{}
			}
			c := s.PerAction[action]
			c.Failed++
			s.PerAction[action] = c
		}
		if unknown {
			s.Unknown++
		}
		if s.Failures == nil {
			s.Failures = map[string]*delivery.Failure{}
		}
		f := s.Failures[reason]
		if f == nil {
			f = &delivery.Failure{Ref: ev.Ref, Example: text}
			s.Failures[reason] = f
		}
		f.Count++
	})
}

// joinErr adds err to Result.Err, keeping it one flat errors.Join (Err
// is only ever made here, so it is nil or such a join).
func joinErr(joined, err error) error {
	var errs []error
	if joined != nil {
		errs = joined.(interface{ Unwrap() []error }).Unwrap()
	}
	return errors.Join(append(errs[:len(errs):len(errs)], err)...)
}

func errorText(rule string, err error) string {
	if rule == "" {
		return err.Error()
	}
	return fmt.Sprintf("rule %q: %v", rule, err)
}

// done records a settled event and tells its source. An event a dead
// letter of which could not be written is not settled if its source can
// give it again (Result.Unsettled): it stays there.
func (w *worker) done(res *Result, ev Event) {
	if res.Unsettled {
		res.Status = delivery.Failed
		w.d.count(func(s *Summary) { s.Unsettled++ })
		if w.d.cfg.Sink.OnResult != nil {
			w.d.cfg.Sink.OnResult(*res)
		}
		return
	}
	switch {
	case len(res.Errors) > 0:
		res.Status = delivery.Failed
	case res.Actions == 0:
		res.Status = delivery.Skipped
	default:
		res.Status = delivery.Sent
	}
	w.d.count(func(s *Summary) {
		s.Events++
		s.Actions += res.Actions
		s.Calls += res.Calls
		delivery.AddSaved(&s.Saved, res.Saved)
		switch res.Status {
		case delivery.Sent:
			s.Sent++
		case delivery.Skipped:
			s.Skipped++
		case delivery.Failed:
			s.Failed++
		}
	})
	if ev.Done != nil {
		ev.Done()
	}
	if w.d.cfg.Sink.OnResult != nil {
		w.d.cfg.Sink.OnResult(*res)
	}
}

// putDeadLetter keeps a dead letter, if the run keeps them. A write that
// fails (a full disk) is tried again every Sink.DeadLetterRetry, if set,
// until it works or the run is stopped or aborted; then its error is
// returned (and the event is left unsettled, if its source can give it
// again).
func (w *worker) putDeadLetter(ev Event, rule, action string, err error) error {
	d := w.d
	if d.cfg.Sink.DeadLetters == nil {
		return nil
	}
	ctx := w.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	dl := delivery.NewDeadLetter(ev, rule, action, err, d.now())
	for {
		perr := d.cfg.Sink.DeadLetters.Put(dl)
		if perr == nil || d.cfg.Sink.DeadLetterRetry <= 0 || d.stopped() || ctx.Err() != nil {
			return perr
		}
		t := time.NewTimer(d.cfg.Sink.DeadLetterRetry)
		select {
		case <-t.C:
		case <-d.stop:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

func (d *Dispatcher) count(f func(*Summary)) {
	d.mu.Lock()
	f(&d.sum)
	d.mu.Unlock()
}
