package pause

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestRefusedTokenHoldsUntilAccepted: after Refused, calls wait until a
// check finds the token accepted; a run's stop ends a wait with ErrHeld.
func TestRefusedTokenHoldsUntilAccepted(t *testing.T) {
	var accept atomic.Bool
	checks := make(chan struct{}, 100)
	g := New(Config{Recheck: time.Hour, Check: func(context.Context) error {
		checks <- struct{}{}
		if accept.Load() {
			return nil
		}
		return errors.New("401")
	}})
	defer g.Close()
	sent := g.Generation() // a request in flight with the token that is about to be refused
	g.Refused(errors.New("intercom: 401 unauthorized"), sent)
	if s := g.Status(); !s.Paused() || s.TokenRefused == nil {
		t.Fatalf("status %+v", s)
	}
	stop := make(chan struct{})
	held := make(chan error)
	go func() { held <- g.AwaitToken(WithStop(context.Background(), stop)) }()
	close(stop)
	if err := <-held; !errors.Is(err, ErrHeld) {
		t.Errorf("a stopped wait: %v, want ErrHeld", err)
	}
	waited := make(chan error)
	go func() { waited <- g.AwaitToken(context.Background()) }()
	g.Recheck() // still refused
	<-checks
	accept.Store(true)
	g.Recheck()
	if err := <-waited; err != nil {
		t.Errorf("wait: %v", err)
	}
	if s := g.Status(); s.Paused() || s.Reason() != "" {
		t.Errorf("after the token works: %+v %q", s, s.Reason())
	}

	// The 401 of a request sent with the old token, arriving after the new
	// one was accepted, pauses nothing: that request is sent again at once.
	g.Refused(errors.New("intercom: 401 unauthorized"), sent)
	if s := g.Status(); s.Paused() {
		t.Errorf("a late 401 of the old token paused delivery: %q", s.Reason())
	}
	if err := g.AwaitToken(context.Background()); err != nil {
		t.Errorf("wait after a late 401: %v", err)
	}
	// A 401 to a request sent with the accepted token pauses again.
	g.Refused(errors.New("intercom: 401 unauthorized"), g.Generation())
	if s := g.Status(); !s.Paused() {
		t.Error("a 401 of the token in use did not pause delivery")
	}
}

// TestOutageLimit: an outage is recorded from its first failure, gives
// up after OutageLimit, and ends at the next answer.
func TestOutageLimit(t *testing.T) {
	g := New(Config{OutageLimit: time.Minute})
	defer g.Close()
	first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	err := g.Outage(first, errors.New("502 bad gateway"))
	if !errors.Is(err, ErrOutage) || err.Error() != "intercom unreachable since 2026-01-02T03:04:05Z (gave up after 1m0s): 502 bad gateway" {
		t.Errorf("outage: %v", err)
	}
	if r := g.Status().Reason(); r != "delivery paused: Intercom unreachable since 2026-01-02T03:04:05Z: 502 bad gateway; events wait" {
		t.Errorf("reason %q", r)
	}
	if err := g.Bound(time.Now(), errors.New("x")); err != nil {
		t.Errorf("a fresh failure within the limit: %v", err)
	}
	g.Answered()
	if g.Status().Paused() {
		t.Error("still paused after an answer")
	}
	if err := New(Config{}).Outage(first, errors.New("x")); err != nil {
		t.Errorf("no limit: %v", err)
	}
}

// TestCloseWaitsForEveryCheck: a token refused while the Gate closes
// either starts its checks before Close, which waits for them, or not at
// all: no check runs once Close has returned. Refused could pass its test
// of Close and start one while Close was waiting (a WaitGroup Add during
// its Wait). Run with -race.
func TestCloseWaitsForEveryCheck(t *testing.T) {
	for range 300 {
		var closed, late atomic.Bool
		g := New(Config{Recheck: time.Nanosecond, Check: func(ctx context.Context) error {
			if closed.Load() {
				late.Store(true)
			}
			<-ctx.Done() // until Close
			return ctx.Err()
		}})
		refused := make(chan struct{})
		go func() {
			defer close(refused)
			g.Refused(errors.New("intercom: 401 unauthorized"), 0)
		}()
		g.Close()
		closed.Store(true)
		<-refused
		time.Sleep(10 * time.Microsecond) // a check started late would run now
		if late.Load() {
			t.Fatal("a check ran after Close returned")
		}
		if err := g.AwaitToken(context.Background()); err != nil && !errors.Is(err, ErrHeld) {
			t.Fatalf("a wait at a closed Gate: %v, want nil or ErrHeld", err)
		}
	}
}

// TestSleepWithoutAGate: a nil Gate (a client with no pause) sleeps until
// the time is up or its context ends; a run's stop does not end it.
func TestSleepWithoutAGate(t *testing.T) {
	var g *Gate
	stop := make(chan struct{})
	close(stop)
	if err := g.Sleep(WithStop(context.Background(), stop), time.Millisecond); err != nil {
		t.Errorf("Sleep: %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep after an abort: %v, want context.Canceled", err)
	}
	if err := New(Config{}).Sleep(WithStop(context.Background(), stop), time.Hour); !errors.Is(err, ErrHeld) {
		t.Errorf("a Gate's Sleep after the run's stop: %v, want ErrHeld", err)
	}
}
