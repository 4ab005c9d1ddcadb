// Package pause holds delivery while Intercom cannot take it, instead of
// failing the events: a refused token (401) holds every call until the
// token works again (checked every Recheck, and at once on Recheck()), and
// an outage (connection errors, timeouts, 5xx, 429 past the client's
// retries) is waited out for as long as it lasts, or for OutageLimit. The
// REST client waits at the Gate inside the call, so a contact's later
// events stay behind the held one: the order is kept. A run's graceful stop
// (WithStop) ends a wait with ErrHeld: the action was not applied and its
// event is left to its source, not dead-lettered.
package pause

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrHeld is the error of a call that was waiting for delivery to resume
// when its run stopped: Intercom did not apply it (a refused token), or it
// will be sent again like any retry (an outage). Its event is not
// dead-lettered.
var ErrHeld = errors.New("not sent: held while delivery was paused")

// ErrOutage is the error of a call that gave up after Config.OutageLimit of
// Intercom being unreachable: the run stops, and what it did not send is
// left for the next one.
var ErrOutage = errors.New("intercom unreachable")

// defaultRecheck is how often a refused token is checked again.
const defaultRecheck = time.Minute

// Config configures a Gate.
type Config struct {
	// Check asks Intercom whether the token works now (one GET /me, the
	// token read again from where it came from): nil when it does, an
	// error wrapping intercom.ErrUnauthorized when it is still refused.
	Check func(ctx context.Context) error
	// Recheck is how often a refused token is checked (default 1 min).
	Recheck time.Duration
	// OutageLimit, if positive, bounds an outage: a call gives up with
	// ErrOutage once Intercom has been unreachable this long. 0 waits for
	// as long as the outage lasts.
	OutageLimit time.Duration
	// StopOnRefusal makes a refused token an error of the call at once
	// (send: the run stops) rather than a pause.
	StopOnRefusal bool
	// Log hears when delivery pauses and resumes; nil discards.
	Log *slog.Logger
}

// Gate is the pause state shared by every call of a client. Create it
// with New; Close ends its checks.
type Gate struct {
	cfg Config

	mu           sync.Mutex
	refused      error         // the 401 that paused delivery, nil when the token works
	refusedSince time.Time     // when it was first refused
	tokenOK      chan struct{} // closed while the token works
	accepted     uint64        // how many times a refused token was accepted again
	outageSince  time.Time     // zero while Intercom answers
	outageErr    error
	poke         chan struct{} // Recheck: check the token now
	// ctx ends with Close: the checks and every wait. cancel is called
	// under mu, so Refused never starts a check Close does not wait for.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Gate that lets every call through.
func New(cfg Config) *Gate {
	if cfg.Recheck <= 0 {
		cfg.Recheck = defaultRecheck
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	ok := make(chan struct{})
	close(ok)
	ctx, cancel := context.WithCancel(context.Background())
	return &Gate{cfg: cfg, tokenOK: ok, poke: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
}

// StopsOnRefusal says whether a refused token ends the call at once.
func (g *Gate) StopsOnRefusal() bool { return g.cfg.StopOnRefusal }

// Generation identifies the token in use: a request sent under one
// generation and refused (a 401) pauses delivery only if no refused token
// was accepted again since (see Refused).
func (g *Gate) Generation() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.accepted
}

// Refused pauses delivery for a refused token (err, a 401 to a request
// sent under generation gen) until a check finds that it works again. A
// 401 to a request sent before the token was last accepted pauses
// nothing: that request went with the old token, and is simply sent again.
func (g *Gate) Refused(err error, gen uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refused != nil || gen != g.accepted || g.ctx.Err() != nil {
		return
	}
	g.refused, g.refusedSince, g.tokenOK = err, time.Now(), make(chan struct{})
	g.cfg.Log.Error("delivery paused: token refused; events wait, nothing is dead-lettered for it; "+
		"fix the token (INTERCOM_ACCESS_TOKEN, --token-file or 'intercom-actions auth login') and send SIGHUP, "+
		"or wait: it is checked again every "+g.cfg.Recheck.String(), "error", err)
	g.wg.Add(1)
	go g.checkUntilAccepted()
}

// Recheck re-reads and checks a refused token now (on SIGHUP), and says
// whether delivery was paused for one. With no token refused it does
// nothing: there is no check to hurry.
func (g *Gate) Recheck() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refused == nil {
		return false
	}
	select {
	case g.poke <- struct{}{}:
	default:
	}
	return true
}

// checkUntilAccepted checks the token every Recheck, or when poked, until
// Intercom takes it (or the Gate is closed), then lets the calls go.
func (g *Gate) checkUntilAccepted() {
	defer g.wg.Done()
	t := time.NewTimer(g.cfg.Recheck)
	defer t.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-t.C:
		case <-g.poke:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
		err := g.check()
		if err == nil {
			g.mu.Lock()
			since := g.refusedSince
			g.refused = nil
			g.accepted++
			close(g.tokenOK)
			select { // a Recheck during the check that worked: done
			case <-g.poke:
			default:
			}
			g.mu.Unlock()
			g.cfg.Log.Info("delivery resumed: the token works again", "paused_for", time.Since(since).Round(time.Millisecond).String())
			return
		}
		g.cfg.Log.Warn("delivery still paused: the token is still refused", "error", err, "next_check_in", g.cfg.Recheck.String())
		t.Reset(g.cfg.Recheck)
	}
}

// check runs Config.Check, bounded, cancelled by Close.
func (g *Gate) check() error {
	if g.cfg.Check == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(g.ctx, time.Minute)
	defer cancel()
	return g.cfg.Check(ctx)
}

// AwaitToken waits until the token works: nil then; ctx's error after an
// abort, ErrHeld after the run's stop (WithStop) or the Gate's Close.
func (g *Gate) AwaitToken(ctx context.Context) error {
	g.mu.Lock()
	ok := g.tokenOK
	g.mu.Unlock()
	return g.wait(ctx, ok)
}

// wait waits until ready is closed: nil then; ctx's error after an abort,
// ErrHeld after the run's stop or the Gate's Close.
func (g *Gate) wait(ctx context.Context, ready <-chan struct{}) error {
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stopOf(ctx):
		return ErrHeld
	case <-g.ctx.Done():
		return ErrHeld
	}
}

// Outage records that a call's retries are used up since first (its
// first failure) and it goes on waiting: Intercom is unreachable. It
// returns ErrOutage, wrapping err, once the outage has lasted
// OutageLimit.
func (g *Gate) Outage(first time.Time, err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.outageSince.IsZero() {
		g.outageSince = first
		g.cfg.Log.Warn("delivery paused: Intercom unreachable since "+first.UTC().Format(time.RFC3339)+
			"; events wait in order and are sent when it answers again", "error", err)
	}
	g.outageErr = err
	if g.cfg.OutageLimit > 0 && time.Since(g.outageSince) >= g.cfg.OutageLimit {
		return fmt.Errorf("%w since %s (gave up after %s): %w", ErrOutage,
			g.outageSince.UTC().Format(time.RFC3339), g.cfg.OutageLimit, err)
	}
	return nil
}

// Bound returns ErrOutage, wrapping err, once a call that has failed
// since first has waited OutageLimit, though its retries are not used up.
func (g *Gate) Bound(first time.Time, err error) error {
	if g.cfg.OutageLimit <= 0 || time.Since(first) < g.cfg.OutageLimit {
		return nil
	}
	return g.Outage(first, err)
}

// Answered records an answer from Intercom: an outage, if any, is over.
func (g *Gate) Answered() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.outageSince.IsZero() {
		return
	}
	g.cfg.Log.Info("delivery resumed: Intercom answers again", "unreachable_for", time.Since(g.outageSince).Round(time.Millisecond).String())
	g.outageSince, g.outageErr = time.Time{}, nil
}

// Sleep waits d: nil then, ctx's error after an abort, ErrHeld after the
// run's stop or the Gate's Close. A nil Gate (no pause) waits d or until
// ctx ends.
func (g *Gate) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if g == nil {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	over := make(chan struct{})
	t := time.AfterFunc(d, func() { close(over) })
	defer t.Stop()
	return g.wait(ctx, over)
}

// Status is why delivery is paused, if it is.
type Status struct {
	// TokenRefused is the 401 that paused delivery, nil when the token
	// works; RefusedSince is when it came.
	TokenRefused error
	RefusedSince time.Time
	// UnreachableSince is when the calls that used up their retries first
	// failed, zero while Intercom answers; Unreachable is the last error.
	UnreachableSince time.Time
	Unreachable      error
}

// Paused says whether delivery waits.
func (s Status) Paused() bool { return s.TokenRefused != nil || !s.UnreachableSince.IsZero() }

// Reason is a line for /readyz and the logs: "delivery paused: token
// refused (since ...)", "Intercom unreachable since ...", or "".
func (s Status) Reason() string {
	switch {
	case s.TokenRefused != nil:
		return fmt.Sprintf("delivery paused: token refused (since %s): %v; events wait; fix the token and send SIGHUP, or wait for the next check",
			s.RefusedSince.UTC().Format(time.RFC3339), s.TokenRefused)
	case !s.UnreachableSince.IsZero():
		return fmt.Sprintf("delivery paused: Intercom unreachable since %s: %v; events wait",
			s.UnreachableSince.UTC().Format(time.RFC3339), s.Unreachable)
	}
	return ""
}

// Status returns the pause state now.
func (g *Gate) Status() Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Status{TokenRefused: g.refused, RefusedSince: g.refusedSince, UnreachableSince: g.outageSince, Unreachable: g.outageErr}
}

// Close ends the checks and every wait (with ErrHeld).
func (g *Gate) Close() {
	g.mu.Lock()
	g.cancel()
	g.mu.Unlock()
	g.wg.Wait()
}

type stopKey struct{}

// WithStop returns a context whose waits at a Gate end with ErrHeld when
// stop is closed: a run's graceful stop.
func WithStop(ctx context.Context, stop <-chan struct{}) context.Context {
	return context.WithValue(ctx, stopKey{}, stop)
}

// stopOf is ctx's stop channel, or nil (never ready).
func stopOf(ctx context.Context) <-chan struct{} {
	s, _ := ctx.Value(stopKey{}).(<-chan struct{})
	return s
}
