// Package processor is the delivery core of intercom-actions and the API
// to embed it: one Config (rules, the Intercom connection, concurrency,
// the wait for contacts, custom attributes, the API version) is checked
// once (Validate) and assembled once (New) into a Processor — rules
// compiled, one Intercom REST client (retries, rate limit, id cache) behind
// a memory of what Intercom holds (skip-unchanged), the executor of every
// action — which then sends events from any source.
// Every run mode is a face over it: `send` (files and standard input),
// `serve` (its spool), `consume` (a run per Kafka partition), the Benthos
// processor, the golden transcripts and the playground (batches).
//
//	p, err := processor.New(processor.Config{
//		Rules:       processor.Rules{Files: []string{"rules/"}},
//		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}),
//	})
//	defer p.Close()
//	res, err := p.Process(ctx, event)
//
// Process and ProcessBatch hand it events and return what happened to
// each; Run (or Start) sends a whole Source of events with the
// dispatcher's per-contact order across the run, and puts each event's
// outcome and dead letters in a Sink. Options lists every setting, so that
// a command line or a config file can expose them by name (Config.Set).
//
// Ordering: one contact's events are sent in order within a run (a batch
// is one), different contacts' in parallel. Runs at the same time are not
// ordered with each other.
//
// Errors: an event's failure is in its Result's Err, never in the error a
// call returns, which says only that a call was cut short (ErrClosed, the
// context's error, or, with StopOnRefusedToken or OutageWait,
// ErrUnauthorized or ErrOutage).
//
// Pausing: a refused token (401) and an outage (connection errors,
// timeouts, 5xx and 429 past the retries) fail no event: delivery waits,
// in each contact's order, until Intercom takes the token again (read
// again every TokenRecheck, or on ReloadToken) or answers again; Health
// says why it waits.
// Result.Err holds each failure for errors.Is and errors.As, each kind
// named in this package, so that an embedder needs no other to handle
// them: *EventError (an unusable event), RuleErrors and *RuleError (a rule
// that failed on the event, or whose action failed), *APIError
// (Intercom's answer), ErrContactNotFound, ErrEventNameCap, ErrArchived,
// ErrOutcomeUnknown (a request cut off: Intercom may have applied it),
// ErrUnauthorized, and ErrNotSent (nothing of the event was sent: safe to
// send again). Reasons names the kind of each failure without ids, for
// metrics.
//
// Stopping is in two stages, for every face: Stop (or Shutdown) lets the
// requests in flight finish and leaves what was not started to its source;
// cancelling a run's context (or Shutdown's context ending) cuts the
// requests in flight off.
package processor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/dispatch"
	"github.com/intercom-actions/intercom-actions/engine/internal/pause"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/internal/samesecond"
	"github.com/intercom-actions/intercom-actions/engine/internal/suppress"
)

// Config configures a Processor: every field but the Go-only ones at the
// end is an Option, settable by name with Set. The zero Config sends the
// embedded default rules to Intercom's US region with the token found as
// the command line finds it.
type Config struct {
	// Rules chooses the rules (option rules, with-defaults, preset); the
	// zero Rules is the embedded defaults. Engine, if set, is used instead:
	// rules compiled already.
	Rules  Rules
	Engine *engine.Engine

	// Region is Intercom's region: us (default), eu or au.
	Region string
	// APIBase is Intercom's API base URL, instead of the region's. It must
	// be https, or http to a loopback address (a simulator): the token is
	// sent to it.
	APIBase string
	// TokenFile holds the access token as `intercom-actions auth login`
	// saves it. Without it or TokenSource, INTERCOM_ACCESS_TOKEN is used,
	// else the login's token; for a loopback APIBase, a placeholder.
	TokenFile string
	// IntercomVersion is the Intercom-Version header, 2.11 to 2.16
	// (default 2.16); request bodies are written for it.
	IntercomVersion string
	// Concurrency is the most actions in flight at once, across all runs
	// and calls of the Processor; default 8.
	Concurrency int
	// ContactWait bounds how long an action whose contact Intercom does
	// not know yet (a group before the user's identify) waits for an
	// identify of that contact later in its run; then it gets one last try
	// and fails with action.ErrContactNotFound. Default 30 s.
	ContactWait time.Duration
	// SearchWait bounds how long an action whose contact a search did
	// not find waits (longer than ContactWait: Intercom's search lags new
	// contacts by up to a few minutes), also at the end of the input.
	// Zero is DefaultSearchWait; a wait no longer than ContactWait (the
	// option's 0 sets a nanosecond) waits ContactWait only.
	SearchWait time.Duration
	// ArchivedContacts says what an identify that matches a contact
	// archived in Intercom does: unarchive (default: unarchive it, then
	// update it) or dead-letter.
	ArchivedContacts string
	// SpreadSameSecondEvents keeps track events of one name for one
	// contact in one second, which Intercom stores as one, by sending each
	// after the first at the next free second. Either way they are counted
	// (Summary.SameSecond).
	SpreadSameSecondEvents bool
	// WaitingMax bounds the memory the actions waiting for their contact
	// hold, counted as their events' bytes and an overhead each; past it,
	// the one that has waited longest gets its last try early. Default 64
	// MiB.
	WaitingMax int64
	// CustomAttributes says what happens to custom attributes the
	// workspace does not have: send (default: sent as mapped, and Intercom
	// refuses the call), create or existing (see action.AttributeMode).
	CustomAttributes string
	// TokenRecheck: while Intercom refuses the token (a 401), delivery is
	// paused, nothing is dead-lettered for it, and the token is read again
	// (TokenFile, the environment, the login's store) and checked (GET
	// /me) this often; default 1 min (ReloadToken checks at once).
	// StopOnRefusedToken stops the run instead.
	TokenRecheck time.Duration
	// SendUnchanged sends every call. By default (option skip-unchanged)
	// an update whose body Intercom already holds, as far as the Processor
	// sent it, and a repeat attach are not sent (see Result.Saved).
	SendUnchanged bool
	// LastSeenResolution is how far last_seen_at may move before an
	// otherwise unchanged update is sent: default 1 h; negative sends
	// every move (the option's 0).
	LastSeenResolution time.Duration
	// SkipUnchangedTTL is how long a body sent or an attachment made is
	// trusted; after it, a repeat is sent: default 24 h; negative trusts
	// it until it is forgotten (the option's 0).
	SkipUnchangedTTL time.Duration
	// SkipUnchangedSize is the most entries remembered (about 2 per
	// contact, 2 per company and 1 per attachment), the least recently
	// used forgotten first; default 1,000,000.
	SkipUnchangedSize int

	// TokenSource gives Intercom's bearer token, e.g.
	// oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}); it is
	// used instead of TokenFile and the environment.
	TokenSource oauth2.TokenSource
	// HTTPClient carries the requests (its Transport, Timeout and
	// redirect policy); the token is added only to requests for the API's
	// host. Default: a client of its own with a 30 s timeout. Close closes
	// its idle connections.
	HTTPClient *http.Client
	// MinBackoff and MaxBackoff bound the wait between retries (defaults
	// as the REST client's).
	MinBackoff, MaxBackoff time.Duration
	// Logger receives debug logs of retries and waits and warnings of
	// custom attributes dropped (ids and names, never tokens or traits);
	// nil discards.
	Logger *slog.Logger
	// OnUnreachable, if set, hears at once when Intercom cannot be reached
	// (connection refused, DNS, TLS), before the retries.
	OnUnreachable func(error)
	// DryRun, if set, receives each planned action as a JSON line instead
	// of its being sent: nothing reaches Intercom.
	DryRun io.Writer

	// A refused token (401) and an outage (connection errors, timeouts,
	// 5xx, 429 past the retries) pause delivery rather than fail events:
	// the calls wait, a contact's order kept, and nothing is dead-lettered
	// for it (see Health and TokenRecheck).
	//
	// OutageWait, if positive, bounds an outage: a run stops (ErrOutage)
	// once Intercom has been unreachable this long, leaving what it did
	// not send to its source. 0 waits for as long as the outage lasts.
	OutageWait time.Duration
	// StopOnRefusedToken makes a refused token stop a run at once
	// (ErrUnauthorized), as `send` does, instead of a pause.
	StopOnRefusedToken bool
	// MemoryFile, if set, keeps what skip-unchanged remembers across
	// processes (serve: in its data dir): New reads it, and removes it so
	// that a process that dies leaves no memory older than what Intercom
	// holds; Close writes it.
	MemoryFile string
}

// Processor sends events' actions to Intercom. Create it with New; it is
// safe for concurrent use and keeps no global state.
type Processor struct {
	cfg    Config // Validated, with defaults
	rules  *engine.Engine
	exec   dispatch.Executor
	client *rest.Client         // nil on a dry run
	gate   *pause.Gate          // nil on a dry run
	token  *rest.SwappableToken // read again by ReloadToken; nil with Config.TokenSource
	idle   func()               // closes the idle connections of a client of its own
	slots  chan struct{}
	merges *action.Merges
	// seconds places track events in time across the Processor's runs
	// (see Config.SpreadSameSecondEvents).
	seconds *samesecond.Seconds
	api     intercom.API     // client, behind memory unless SendUnchanged
	memory  *suppress.Memory // nil with SendUnchanged or on a dry run
	saved   sync.Once        // memory written to MemoryFile
	scope   string           // of the memory: the workspace it holds for
	// waitingBytes is the memory of the actions waiting for their
	// contact, in every run (see WaitingBytes).
	waitingBytes atomic.Int64

	mu      sync.Mutex
	stopped bool
	runs    map[*run]bool // in progress
	wg      sync.WaitGroup
}

// New checks cfg (Validate), compiles the rules unless cfg.Engine is set,
// and assembles the Processor. A rules.ErrorList holds every problem of the
// rules, each with file:line:col.
func New(cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	eng := cfg.Engine
	if eng == nil {
		var err error
		if eng, err = cfg.Rules.Compile(); err != nil {
			return nil, err
		}
	}
	p := &Processor{cfg: cfg, rules: eng, slots: make(chan struct{}, cfg.Concurrency), runs: map[*run]bool{},
		seconds: samesecond.New(0)}
	if cfg.DryRun != nil {
		p.exec = &dryRun{w: cfg.DryRun}
		return p, nil
	}
	p.gate = pause.New(pause.Config{Recheck: cfg.TokenRecheck, OutageLimit: cfg.OutageWait,
		StopOnRefusal: cfg.StopOnRefusedToken, Log: cfg.Logger, Check: p.recheckToken})
	client, hc, token, err := cfg.client(p.gate)
	if err != nil {
		return nil, err
	}
	p.client, p.idle, p.token = client, hc.CloseIdleConnections, token
	p.merges = &action.Merges{}
	p.api = client
	if !cfg.SendUnchanged {
		p.memory = suppress.New(suppress.Config{Size: cfg.SkipUnchangedSize, TTL: max(cfg.SkipUnchangedTTL, 0),
			LastSeenResolution: max(cfg.LastSeenResolution, 0)})
		if cfg.MemoryFile != "" {
			ts := cfg.TokenSource
			if token != nil {
				ts = token // the token the client found: read once
			}
			p.scope = cfg.memoryScope(ts)
			if err := p.memory.Load(cfg.MemoryFile, p.scope); err != nil {
				cfg.Logger.Warn("starting with an empty memory of calls sent", "error", err)
			}
		}
		p.api = suppress.Wrap(client, p.memory)
	}
	exec := action.Executor{API: p.api, Log: cfg.Logger, Merges: p.merges, KeepArchived: cfg.ArchivedContacts == DeadLetterArchived}
	if mode, _ := action.ParseAttributeMode(cfg.CustomAttributes); mode != action.SendAttributes {
		exec.Attributes = action.NewAttributes(mode) // one for the Processor: the workspace is listed once
	}
	p.exec = exec
	return p, nil
}

// defaults fills in what Validate left empty.
func (c *Config) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.ContactWait <= 0 {
		c.ContactWait = 30 * time.Second
	}
	if c.SearchWait <= 0 {
		c.SearchWait = DefaultSearchWait
	}
	if c.WaitingMax <= 0 {
		c.WaitingMax = dispatch.DefaultMaxWaitingBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.LastSeenResolution == 0 {
		c.LastSeenResolution = suppress.DefaultLastSeenResolution
	}
	if c.SkipUnchangedTTL == 0 {
		c.SkipUnchangedTTL = suppress.DefaultTTL
	}
}

// Engine returns the compiled rules.
func (p *Processor) Engine() *engine.Engine { return p.rules }

// Evaluate plans the actions of one event without sending anything (see
// engine.Engine.Evaluate).
func (p *Processor) Evaluate(event []byte) ([]action.Action, error) {
	return p.rules.Evaluate(event)
}

// WaitingMax returns the bound on the memory of waiting actions
// (Config.WaitingMax, its default filled in).
func (p *Processor) WaitingMax() int64 { return p.cfg.WaitingMax }

// WaitingBytes is the memory the actions waiting for their contact's
// identify hold now, in every run, as WaitingMax counts it: a cheap read
// (no Summary is copied), for a check on every request.
func (p *Processor) WaitingBytes() int64 { return p.waitingBytes.Load() }

// Stats returns the counts of requests to Intercom so far: calls,
// retries, 429s, per endpoint (none on a dry run).
func (p *Processor) Stats() Stats {
	if p.client == nil {
		return Stats{}
	}
	return p.client.Stats()
}

// API is the Intercom client the Processor sends with (nil on a dry
// run), for calls of one's own, such as action.DeleteUser.
func (p *Processor) API() intercom.API {
	if p.client == nil {
		return nil
	}
	return p.api
}

// RateLimit returns what Intercom's last answer said of its rate limit:
// the requests left in the window and the window's limit; known is false
// before any answer said (and on a dry run).
func (p *Processor) RateLimit() (remaining, limit int, known bool) {
	if p.client == nil {
		return 0, 0, false
	}
	return p.client.RateLimit()
}

// SetRateShare makes the Processor keep to a part (0 < share ≤ 1) of
// every window of Intercom's rate limit, for processes sharing one app's
// limit (see `consume --rate-share`).
func (p *Processor) SetRateShare(share float64) {
	if p.client != nil {
		p.client.SetRateShare(share)
	}
}

// The vocabulary of runs, for sources and sinks of one's own.
type (
	// Event is one input event, where it came from and how it is settled.
	Event = delivery.Event
	// Source yields Events; Next returns io.EOF after the last.
	Source = delivery.Source
	// Sink is where a run's outcomes go: dead letters and each event's
	// EventResult.
	Sink = delivery.Sink
	// EventResult is the outcome of one event of a run.
	EventResult = delivery.Result
	// Summary counts a run.
	Summary = delivery.Summary
	// Failure counts the dead letters of one reason in a Summary.
	Failure = delivery.Failure
	// DeadLetter is one record of the dead letters.
	DeadLetter = delivery.DeadLetter
	// DeadLetters keeps dead letters.
	DeadLetters = delivery.DeadLetters
	// Run is a run in progress (see Start).
	Run = delivery.Run
)

// Start sends the events of src in a goroutine of its own, one contact's
// events in order, and returns at once. Each settled event's outcome and
// every dead letter go to sink. The Run stops gracefully (Stop: the
// requests in flight finish, what is not started is left to src if it can
// give it again, else dead-lettered as not sent); cancelling ctx aborts
// it. A stopped Processor starts runs that end at once with ErrStopped.
func (p *Processor) Start(ctx context.Context, src Source, sink Sink) Run {
	return p.start(ctx, src, sink, p.cfg.Concurrency)
}

// start is Start with workers workers. Every run announces its planned
// actions to the Processor's Merges, so that the parts of queued actions
// share a call (the upserts of a company by its members' group calls),
// whatever the face.
func (p *Processor) start(ctx context.Context, src Source, sink Sink, workers int) *run {
	cfg := dispatch.Config{Engine: p.rules, Executor: limited{p}, Concurrency: workers, ContactWait: p.cfg.ContactWait, Sink: sink,
		SearchWait: p.cfg.SearchWait, Seconds: p.seconds, SpreadSameSecond: p.cfg.SpreadSameSecondEvents, MaxWaitingBytes: p.cfg.WaitingMax,
		WaitingBytes: &p.waitingBytes}
	if p.merges != nil {
		cfg.Merges = p.merges
	}
	d, _ := dispatch.New(cfg) // every field is checked
	ctx, cancel := context.WithCancel(ctx)
	r := &run{d: d, abort: cancel}
	p.mu.Lock()
	if p.stopped {
		d.Stop()
	}
	p.runs[r] = true
	p.wg.Add(1)
	p.mu.Unlock()
	r.Run = d.Start(ctx, src)
	go func() {
		r.Wait()
		cancel()
		p.mu.Lock()
		delete(p.runs, r)
		p.mu.Unlock()
		p.wg.Done()
	}()
	return r
}

// run is one of the Processor's runs.
type run struct {
	delivery.Run
	d     *dispatch.Dispatcher
	abort context.CancelFunc // cuts off its requests in flight
}

// Run sends the events of src until its end (see Start) and returns the
// summary: nil at the end of src, ErrStopped after Stop, ctx's error after
// an abort; with StopOnRefusedToken an error wrapping
// intercom.ErrUnauthorized when Intercom refused the token, with
// OutageWait one wrapping ErrOutage (the run stops at once: what it did
// not send is left to src). Otherwise both pause delivery (see Health).
func (p *Processor) Run(ctx context.Context, src Source, sink Sink) (Summary, error) {
	return p.Start(ctx, src, sink).Wait()
}

// limited is the executor of every run: it runs one action's call
// sequence within the Processor's Concurrency.
type limited struct{ p *Processor }

func (b limited) Execute(ctx context.Context, a action.Action) (action.Result, error) {
	p := b.p
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return action.Result{}, ctx.Err() // no call made: the dispatcher counts it not started
	}
	defer func() { <-p.slots }()
	return p.exec.Execute(ctx, a)
}

// Stop stops every run gracefully (see Start) and makes later runs end at
// once; it does not wait (Shutdown does).
func (p *Processor) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	for r := range p.runs {
		r.d.Stop()
	}
}

// Shutdown stops the Processor in two stages: every run stops gracefully
// (Stop) and Shutdown waits for them; should ctx end first, what is in
// flight is cut off (an action cut off after its request was sent is
// dead-lettered as ErrOutcomeUnknown), and Shutdown returns ctx's error
// once every run has ended. Cancelling a run's own context aborts that run
// alone. Shutdown then closes the HTTP client's idle connections, so no
// goroutine of the Processor is left.
func (p *Processor) Shutdown(ctx context.Context) error {
	p.Stop()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		p.abort()
		<-done
	}
	if p.gate != nil {
		p.gate.Close()
	}
	if p.idle != nil {
		p.idle()
	}
	p.saveMemory()
	return err
}

// memoryScope names the workspace a memory of calls sent holds for: the
// API's base URL and a digest of the token ts gives (a token is one
// workspace's).
func (c *Config) memoryScope(ts oauth2.TokenSource) string {
	scope, _ := c.BaseURL()
	if ts == nil {
		return scope
	}
	if tok, err := ts.Token(); err == nil {
		h := sha256.Sum256([]byte(tok.AccessToken))
		scope += " " + hex.EncodeToString(h[:8])
	}
	return scope
}

// saveMemory writes the memory of calls sent to MemoryFile, once every
// run has ended.
func (p *Processor) saveMemory() {
	if p.memory == nil || p.cfg.MemoryFile == "" {
		return
	}
	p.saved.Do(func() {
		if err := p.memory.Save(p.cfg.MemoryFile, p.scope); err != nil {
			p.cfg.Logger.Error("the memory of calls sent is lost: the next process sends each contact's next update", "error", err)
		}
	})
}

// abort cuts off every run's requests in flight.
func (p *Processor) abort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for r := range p.runs {
		r.abort()
	}
}

// Close is Shutdown without a deadline: the requests in flight finish.
// Calls in progress return ErrClosed; later calls too.
func (p *Processor) Close() error {
	return p.Shutdown(context.Background())
}

// Result is what happened to one event given to Process or ProcessBatch.
type Result struct {
	Status  Status // Sent, Skipped or Failed
	Actions int    // actions the rules planned
	Sent    int    // actions sent
	Calls   int    // requests to Intercom, retries included
	// Saved counts the calls not sent because Intercom already held what
	// they would send (see Config.SendUnchanged).
	Saved int
	// Err is nil unless Status is Failed; then an errors.Join of each
	// failure (one per failed rule), for errors.Is and errors.As: see the
	// package doc. Its text has one line per failure.
	Err error
}

// Status is what happened to an event: Sent, Skipped or Failed.
type Status = delivery.Status

// The outcomes of an event.
const (
	Sent    = delivery.Sent    // every action the rules planned was sent
	Skipped = delivery.Skipped // a good event that no rule matched
	Failed  = delivery.Failed  // the event, or some of its actions, failed: see Result.Err
)

// Process sends one event's actions, in rule order, and returns what
// happened to it. The error is nil unless the call was cut short
// (ErrClosed, ctx's error, or, with StopOnRefusedToken, one wrapping
// intercom.ErrUnauthorized); the Result says what happened all the same.
// While delivery is paused (see Health), Process waits.
// Cancelling ctx aborts the requests in flight (see ErrOutcomeUnknown).
func (p *Processor) Process(ctx context.Context, event []byte) (Result, error) {
	res, err := p.ProcessBatch(ctx, [][]byte{event})
	if len(res) == 0 {
		return Result{}, err
	}
	return res[0], err
}

// ProcessBatch sends the actions of a batch of events: one contact's
// events in batch order, different contacts' in parallel. It returns one
// Result per event, in the batch's order, once every event is settled.
// The error is as Process's; after a call cut short the Results are
// complete too (an event not sent has ErrNotSent). A closed Processor
// returns ErrClosed and no Results. The events may change once the call
// has returned.
func (p *Processor) ProcessBatch(ctx context.Context, events [][]byte) ([]Result, error) {
	p.mu.Lock()
	closed := p.stopped
	p.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	results := make([]Result, len(events))
	settled := make([]bool, len(events))
	sink := Sink{OnResult: func(r EventResult) { // from the workers: each writes its own events
		i, _ := strconv.Atoi(r.Ref)
		results[i] = Result{Status: r.Status, Actions: r.Actions, Sent: r.Sent, Calls: r.Calls, Saved: delivery.SavedTotal(r.Saved), Err: r.Err}
		settled[i] = true
	}}
	_, err := p.start(ctx, &batchSource{events: events}, sink, max(1, min(p.cfg.Concurrency, len(events)))).Wait()
	switch {
	case errors.Is(err, ErrStopped):
		err = ErrClosed // only Stop, Shutdown or Close stop a call's run
	case err != nil && ctx.Err() != nil:
		err = ctx.Err()
	}
	for i := range results {
		if !settled[i] { // left untouched by the stop: see Event.Redeliverable
			cause := err
			if cause == nil {
				cause = errors.New("the call ended before it") // not expected: a run settles all it read
			}
			results[i] = Result{Status: Failed, Err: errors.Join(fmt.Errorf("%w: %w", ErrNotSent, cause))}
		}
	}
	return results, err
}

// batchSource gives a batch's events to a run, each with its index as its
// Ref. They are Redeliverable: a stop leaves an event not started
// unsettled, for ProcessBatch to fail with ErrNotSent, rather than as a
// dead letter.
type batchSource struct {
	events [][]byte
	next   int
}

func (s *batchSource) Next(ctx context.Context) (Event, error) {
	if err := ctx.Err(); err != nil {
		return Event{}, err
	}
	if s.next == len(s.events) {
		return Event{}, io.EOF
	}
	i := s.next
	s.next++
	// A copy: the run keeps referring to an event's bytes after it is
	// settled (see Event.Raw), and the caller may reuse its buffers once
	// the call returns.
	return Event{Raw: bytes.Clone(s.events[i]), Ref: strconv.Itoa(i), Redeliverable: true}, nil
}
