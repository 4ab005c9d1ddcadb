// Package processor embeds intercom-actions as a stage of another
// program's pipeline: compile rules once, then hand it events (Segment-spec
// JSON) one at a time or in batches, and get back what happened to each:
// sent, skipped (no rule matched) or failed, with a typed error.
//
//	eng, err := processor.CompileFiles("rules/") // or CompileBytes, CompileDefaults
//	p, err := processor.New(processor.Config{
//		Rules:       eng,
//		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}),
//	})
//	defer p.Close()
//	res, err := p.Process(ctx, event)
//
// A Processor sends through one Intercom REST client (retries, rate limit,
// id cache) over the caller's *http.Client, if given. It is safe for
// concurrent use and keeps no global state: two Processors share nothing.
//
// Ordering: ProcessBatch sends the events of one contact in batch order,
// and the events of different contacts in parallel (see
// engine/dispatch). Calls made at the same time are not ordered with each
// other: a pipeline that needs one contact's events in order across
// batches sends its batches one after another (or keys them by contact).
//
// Errors: an event's failure is in Result.Err, never in the error a call
// returns, which says only that a call was cut short (ErrClosed, the
// context's error, or Intercom refusing the token). Result.Err holds each
// failure for errors.Is and errors.As: *engine.EventError (an unusable
// event), engine.RuleErrors and *engine.RuleError (a rule that failed on
// the event, or whose action failed), *intercom.APIError (Intercom's
// answer), action.ErrContactNotFound, dispatch.ErrOutcomeUnknown (a
// request cut off: Intercom may have applied it), dispatch.ErrUnauthorized,
// and ErrNotSent (nothing of the event was sent: safe to send again).
package processor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/dispatch"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
)

// Config configures a Processor. Rules and TokenSource are required.
type Config struct {
	// Rules are the compiled rules (Rules.Compile, CompileFiles,
	// CompileBytes, CompileDefaults, or engine.Compile).
	Rules *engine.Engine
	// TokenSource gives Intercom's bearer token, e.g.
	// oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}) for a
	// workspace access token.
	TokenSource oauth2.TokenSource
	// BaseURL is Intercom's API base URL; default the US region's
	// (rest.RegionURL gives the others). It must be https, or http to a
	// loopback address (a simulator): the token is sent to it.
	BaseURL string
	// HTTPClient carries the requests (its Transport, Timeout and
	// redirect policy); the token is added only to requests for BaseURL's
	// host. Default: a client of its own with a 30 s timeout. Close closes
	// its idle connections.
	HTTPClient *http.Client
	// Concurrency is the most actions in flight at once, across all calls;
	// default 8.
	Concurrency int
	// ContactWait bounds how long an action whose contact Intercom does
	// not know yet (a group before the user's identify) waits, within its
	// batch, for an identify of that contact later in the batch; at the
	// batch's end it gets one last try, then fails with
	// action.ErrContactNotFound. Default 30 s.
	ContactWait time.Duration
	// Attributes says what happens to custom attributes the workspace
	// does not have (default action.SendAttributes: sent as mapped, and
	// Intercom refuses the call; see action.AttributeMode).
	Attributes action.AttributeMode
	// Logger receives debug logs of retries and waits and warnings of
	// custom attributes dropped (ids and names, never tokens or traits);
	// nil discards.
	Logger *slog.Logger
}

// Status is what happened to an event: Sent, Skipped or Failed.
type Status = dispatch.Status

// The outcomes of an event.
const (
	Sent    = dispatch.Sent    // every action the rules planned was sent
	Skipped = dispatch.Skipped // a good event that no rule matched
	Failed  = dispatch.Failed  // the event, or some of its actions, failed: see Result.Err
)

// Result is what happened to one event.
type Result struct {
	Status  Status // Sent, Skipped or Failed
	Actions int    // actions the rules planned
	Sent    int    // actions sent
	Calls   int    // requests to Intercom, retries included
	// Err is nil unless Status is Failed; then an errors.Join of each
	// failure (one per failed rule), for errors.Is and errors.As: see the
	// package doc. Its text has one line per failure.
	Err error
}

// ErrClosed is the error of a call to a closed Processor, and of a call
// that Close cut short.
var ErrClosed = errors.New("processor: closed")

// ErrNotSent is in the Result.Err of an event of which nothing was sent
// because its call was cut short (Close, the context, a refused token):
// sending it again cannot apply anything twice. It wraps the cause.
var ErrNotSent = errors.New("not sent")

// Processor sends events' actions to Intercom. Create it with New; it is
// safe for concurrent use.
type Processor struct {
	rules       *engine.Engine
	exec        *boundedExecutor
	client      *rest.Client
	concurrency int
	contactWait time.Duration
	closeIdle   func()

	mu      sync.Mutex
	closed  bool
	running map[*dispatch.Dispatcher]bool // of the calls in progress
	calls   sync.WaitGroup
}

// New checks cfg and returns a Processor.
func New(cfg Config) (*Processor, error) {
	if cfg.Rules == nil {
		return nil, errors.New("processor: no rules (Config.Rules)")
	}
	if cfg.TokenSource == nil {
		return nil, errors.New("processor: no token source (Config.TokenSource)")
	}
	if err := checkBaseURL(cfg.BaseURL); err != nil {
		return nil, err
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.ContactWait <= 0 {
		cfg.ContactWait = 30 * time.Second
	}
	hc := cfg.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = max(64, cfg.Concurrency)
		hc = &http.Client{Timeout: rest.DefaultTimeout, Transport: t}
	}
	client, err := rest.New(rest.Config{BaseURL: cfg.BaseURL, TokenSource: cfg.TokenSource, HTTPClient: hc, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	exec := action.Executor{API: client, Log: cfg.Logger}
	if cfg.Attributes != action.SendAttributes {
		exec.Attributes = action.NewAttributes(cfg.Attributes)
	}
	return &Processor{
		rules:       cfg.Rules,
		exec:        &boundedExecutor{exec: exec, slots: make(chan struct{}, cfg.Concurrency)},
		client:      client,
		concurrency: cfg.Concurrency,
		contactWait: cfg.ContactWait,
		closeIdle:   hc.CloseIdleConnections,
		running:     map[*dispatch.Dispatcher]bool{},
	}, nil
}

// checkBaseURL refuses a plain-http base URL that is not a loopback
// address: the bearer token would cross the network unencrypted.
func checkBaseURL(base string) error {
	if base == "" {
		return nil
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("processor: base url %q: want an https:// URL with a host", base)
	}
	if u.Scheme == "http" {
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("processor: base url %s: plain http would send the access token unencrypted; use https (http only for a loopback address, such as a simulator)", base)
		}
	}
	return nil
}

// Evaluate plans the actions of one event without sending anything (see
// engine.Engine.Evaluate).
func (p *Processor) Evaluate(event []byte) ([]action.Action, error) {
	return p.rules.Evaluate(event)
}

// Process sends one event's actions, in rule order, and returns what
// happened to it. The error is nil unless the call was cut short
// (ErrClosed, ctx's error, or one wrapping dispatch.ErrUnauthorized when
// Intercom refuses the token); the Result says what happened all the same.
// Cancelling ctx aborts the requests in flight (see
// dispatch.ErrOutcomeUnknown).
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
// returns ErrClosed and no Results. The events must not change during the
// call.
func (p *Processor) ProcessBatch(ctx context.Context, events [][]byte) ([]Result, error) {
	results := make([]Result, len(events))
	settled := make([]bool, len(events))
	d, err := dispatch.New(dispatch.Config{
		Engine:      p.rules,
		Executor:    p.exec,
		Concurrency: max(1, min(p.concurrency, len(events))),
		ContactWait: p.contactWait,
		OnResult: func(r dispatch.Result) { // from the workers: each writes its own events
			i, _ := strconv.Atoi(r.Ref)
			results[i] = Result{Status: r.Status, Actions: r.Actions, Sent: r.Sent, Calls: r.Calls, Err: r.Err}
			settled[i] = true
		},
	})
	if err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	if !p.begin(d) {
		return nil, ErrClosed
	}
	defer p.end(d)
	_, err = d.Run(ctx, &batchSource{events: events})
	switch {
	case errors.Is(err, dispatch.ErrStopped):
		err = ErrClosed // only Close stops a call's dispatcher
	case err != nil && ctx.Err() != nil:
		err = ctx.Err()
	}
	for i := range results {
		if !settled[i] { // left untouched by the stop: see dispatch.Event.Redeliverable
			cause := err
			if cause == nil {
				cause = errors.New("the call ended before it") // not expected: Run settles all it read
			}
			results[i] = Result{Status: Failed, Err: errors.Join(fmt.Errorf("%w: %w", ErrNotSent, cause))}
		}
	}
	return results, err
}

// begin registers a call's dispatcher, unless p is closed.
func (p *Processor) begin(d *dispatch.Dispatcher) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.running[d] = true
	p.calls.Add(1)
	return true
}

func (p *Processor) end(d *dispatch.Dispatcher) {
	p.mu.Lock()
	delete(p.running, d)
	p.mu.Unlock()
	p.calls.Done()
}

// Close stops the Processor gracefully: calls in progress stop taking
// events, let the actions being sent finish, and return ErrClosed, with
// the events not started failed with ErrNotSent; later calls return
// ErrClosed. Close waits for them, then closes the HTTP client's idle
// connections, so no goroutine of the Processor is left. Bound the wait
// by cancelling the calls' contexts. Close may be called more than once.
func (p *Processor) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for d := range p.running {
			d.Stop()
		}
	}
	p.mu.Unlock()
	p.calls.Wait()
	p.closeIdle()
	return nil
}

// Stats returns the counts of requests to Intercom so far: calls,
// retries, 429s, per endpoint.
func (p *Processor) Stats() rest.Stats { return p.client.Stats() }

// batchSource gives a batch's events to a dispatcher, each with its index
// as its Ref. They are Redeliverable: a stop leaves an event not started
// unsettled, for ProcessBatch to fail with ErrNotSent, rather than as a
// dead letter.
type batchSource struct {
	events [][]byte
	next   int
}

func (s *batchSource) Next(ctx context.Context) (dispatch.Event, error) {
	if err := ctx.Err(); err != nil {
		return dispatch.Event{}, err
	}
	if s.next == len(s.events) {
		return dispatch.Event{}, io.EOF
	}
	i := s.next
	s.next++
	// A copy: the dispatcher keeps referring to an event's bytes after it
	// is settled (see dispatch.Event.Raw), and the caller may reuse its
	// buffers once the call returns.
	return dispatch.Event{Raw: bytes.Clone(s.events[i]), Ref: strconv.Itoa(i), Redeliverable: true}, nil
}

// boundedExecutor bounds the actions in flight across all of a
// Processor's calls: each call has its own dispatcher, they share these
// slots.
type boundedExecutor struct {
	exec  action.Executor
	slots chan struct{}
}

func (b *boundedExecutor) Execute(ctx context.Context, a action.Action) (action.Result, error) {
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return action.Result{}, ctx.Err() // no call made: the dispatcher counts it not started
	}
	defer func() { <-b.slots }()
	return b.exec.Execute(ctx, a)
}
