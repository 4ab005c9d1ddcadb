// Package dispatch runs events through the engine and sends the planned
// actions to Intercom, in order per contact, with a bounded number of
// requests in flight, and writes everything that finally fails to a
// dead-letter output so no event is lost.
//
// Ordering: every event is routed by its contact key (userId, else an
// email, else anonymousId) to one of Concurrency workers, and each worker
// handles its events one after another. So an identify is applied before a
// later track or group of the same user, while different users proceed in
// parallel.
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
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/rules"
)

// Executor runs one planned action; *intercom.Client is the real one.
type Executor interface {
	Execute(ctx context.Context, a engine.Action) (intercom.Result, error)
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

	mu      sync.Mutex
	sum     Summary
	workers []*worker // of the current Run, for announcing identified contacts
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
// src ends the run after the events already read are done.
func (d *Dispatcher) Run(ctx context.Context, src Source) (Summary, error) {
	start := time.Now()
	workers := make([]*worker, d.cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = &worker{d: d, in: make(chan Event, 64), wake: make(chan []string, 256)}
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			w.run(ctx)
		}(workers[i])
	}
	d.mu.Lock()
	d.workers = workers
	d.mu.Unlock()
	var readErr error
	for {
		ev, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		d.count(func(s *Summary) { s.Read++ })
		w := workers[d.route(ev.Raw)]
		select {
		case w.in <- ev:
		case <-ctx.Done():
			readErr = ctx.Err()
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
	d.workers = nil
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
	if err := d.cfg.DeadLetter.Flush(); err != nil && readErr == nil {
		readErr = err
	}
	return d.sum, readErr
}

// Process sends one event synchronously, for embedding the dispatcher as
// a processor stage. Ordering across calls is the caller's; an action
// whose contact is not found is dead-lettered at once.
func (d *Dispatcher) Process(ctx context.Context, ev Event) Result {
	w := &worker{d: d}
	res := w.handle(ctx, ev)
	w.flush(ctx)
	return *res
}

// Summary returns the counts so far.
func (d *Dispatcher) Summary() Summary {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sum
}

// contactKey is what orders events: the same contact, the same worker.
// It is the userId, else an email (wherever the event carries it, so an
// anonymous identify and a later anonymous track of that email meet), else
// the anonymousId.
func contactKey(raw []byte) string {
	if v := gjson.GetBytes(raw, "userId"); v.Type == gjson.String && v.Str != "" {
		return "user:" + v.Str
	}
	for _, p := range []string{"traits.email", "properties.email", "context.traits.email"} {
		if v := gjson.GetBytes(raw, p); v.Type == gjson.String && v.Str != "" {
			return "email:" + strings.ToLower(v.Str)
		}
	}
	if v := gjson.GetBytes(raw, "anonymousId"); v.Type == gjson.String && v.Str != "" {
		return "anonymous:" + v.Str
	}
	return ""
}

func (d *Dispatcher) route(raw []byte) int {
	return int(maphash.String(d.seed, contactKey(raw)) % uint64(d.cfg.Concurrency))
}

// worker handles its events one at a time, so per-contact order holds.
type worker struct {
	d      *Dispatcher
	in     chan Event
	wake   chan []string // contact keys identified by other workers
	parked []*parked
}

// parked is an action waiting for its contact to be identified.
type parked struct {
	res      *Result
	ev       Event
	action   engine.Action
	keys     []string // the contact it waits for (see actionKeys)
	deadline time.Time
	pending  *int // actions of the event still open; the event is done at 0
}

// actionKeys names the contact an action is about, in the forms an
// identify can announce: "user:<external_id>", "email:<email>", "id:<id>".
func actionKeys(a engine.Action, contactID string) []string {
	var keys []string
	for _, f := range []string{"external_id", "user_id"} {
		if v := a.Str(f); v != "" {
			keys = append(keys, "user:"+v)
		}
	}
	for _, f := range []string{"email", "lead_email"} {
		if v := a.Str(f); v != "" {
			keys = append(keys, "email:"+strings.ToLower(v))
		}
	}
	for _, id := range []string{a.Str("contact_id"), a.Str("id"), contactID} {
		if id != "" {
			keys = append(keys, "id:"+id)
		}
	}
	return keys
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
		case ev, open := <-w.in:
			if !open {
				return // Run flushes the parked actions once every worker is done
			}
			w.handle(ctx, ev)
		case keys := <-w.wake:
			w.retryParked(ctx, keys)
		case <-timeout:
			w.expire(ctx, time.Now())
		case <-ctx.Done():
			// Nothing more is sent; what was queued goes to the dead letters,
			// so that sending them again picks up where this run stopped.
			for ev := range w.in {
				w.interrupted(ev, ctx.Err())
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

// handle evaluates one event and sends its actions in rule order.
func (w *worker) handle(ctx context.Context, ev Event) *Result {
	res := &Result{Ref: ev.Ref}
	if ev.Err != nil {
		w.deadLetter(res, ev, ev.Only, "", ev.Err)
		w.done(res)
		return res
	}
	actions, err := w.d.cfg.Engine.Evaluate(ev.Raw)
	var ruleErrs engine.RuleErrors
	switch {
	case errors.As(err, &ruleErrs):
		for _, re := range ruleErrs {
			if ev.Only == "" || ev.Only == re.Rule {
				w.deadLetter(res, ev, re.Rule, "", re.Err)
			}
		}
	case err != nil:
		w.deadLetter(res, ev, "", "", err)
		w.done(res)
		return res
	}
	if ev.Only != "" {
		kept := actions[:0]
		for _, a := range actions {
			if a.Rule == ev.Only {
				kept = append(kept, a)
			}
		}
		actions = kept
	}
	res.Actions = len(actions)
	pending := new(int)
	*pending = 1 // held until every action is started
	for _, a := range actions {
		out, err := w.d.cfg.Executor.Execute(ctx, a)
		res.Calls += out.Calls
		switch {
		case err == nil:
			w.sent(res, a, out.Calls)
			if a.Action == rules.IdentifyContact || a.Action == rules.ConvertLead {
				w.identified(ctx, actionKeys(a, out.ContactID))
			}
		case errors.Is(err, intercom.ErrContactNotFound) && a.Action != rules.IdentifyContact && w.in != nil:
			*pending++
			w.parked = append(w.parked, &parked{res: res, ev: ev, action: a, keys: actionKeys(a, ""),
				deadline: time.Now().Add(w.d.cfg.ContactWait), pending: pending})
			w.d.count(func(s *Summary) { s.Waited++ })
		default:
			w.deadLetter(res, ev, a.Rule, a.Action, err)
		}
	}
	*pending--
	if *pending == 0 {
		w.done(res)
	}
	return res
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
	out, err := w.d.cfg.Executor.Execute(ctx, p.action)
	p.res.Calls += out.Calls
	switch {
	case err == nil:
		w.sent(p.res, p.action, out.Calls)
	case errors.Is(err, intercom.ErrContactNotFound) && !final:
		w.parked = append(w.parked, p)
		return
	case errors.Is(err, intercom.ErrContactNotFound):
		w.deadLetter(p.res, p.ev, p.action.Rule, p.action.Action,
			fmt.Errorf("%w; no identify for this contact succeeded within %s", err, w.d.cfg.ContactWait))
	default:
		w.deadLetter(p.res, p.ev, p.action.Rule, p.action.Action, err)
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

func (w *worker) sent(res *Result, a engine.Action, calls int) {
	res.Sent++
	w.d.count(func(s *Summary) {
		s.ActionsSent++
		if s.PerAction == nil {
			s.PerAction = map[string]ActionCount{}
		}
		c := s.PerAction[a.Action]
		c.Sent++
		c.Calls += calls
		s.PerAction[a.Action] = c
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
