package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// TestRateLimitResetHonoured: a 429 is retried at X-RateLimit-Reset, not
// after the (much shorter) backoff.
func TestRateLimitResetHonoured(t *testing.T) {
	s := newSim(t, simulator.Options{Window: time.Second, Faults: simulator.Faults{Burst429: 1}})
	c := newClient(t, s)
	start := time.Now()
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Windows are whole seconds, so the reset is the next second boundary.
	if reset := time.Unix(start.Unix()+1, 0); time.Now().Before(reset) {
		t.Errorf("retried before the reset at %v", reset)
	}
	wantTranscript(t, s, `GET /me [429]`, `GET /me [200]`)
	if st := c.Stats(); st.RateLimited != 1 || st.Retries != 1 || st.Calls != 2 {
		t.Errorf("stats: %v", st)
	}
}

// TestRateLimitDoesNotUseRetries: 429s are waited out however many come;
// MaxRetries bounds only the other failures.
func TestRateLimitDoesNotUseRetries(t *testing.T) {
	s := newSim(t, simulator.Options{Window: time.Second, Faults: simulator.Faults{Burst429: 3}})
	c := newClient(t, s, func(cfg *Config) { cfg.MaxRetries = 1 })
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatalf("after three 429s with MaxRetries 1: %v", err)
	}
	wantTranscript(t, s, `GET /me [429]`, `GET /me [429]`, `GET /me [429]`, `GET /me [200]`)

	s.SetFaults(simulator.Faults{ErrorRate: 1})
	_, err := c.Me(context.Background())
	var ae *intercom.APIError
	if !errors.As(err, &ae) || ae.Status != 503 {
		t.Fatalf("err = %v, want the 503 that answered the one retry of a 500", err)
	}
	wantTranscript(t, s, `GET /me [500]`, `GET /me [503]`)
}

// TestRateLimitWaitCancelled: a call waiting out a 429 returns as soon as
// its context is cancelled, not at the reset (which is hours away here: the
// simulator's clock runs two hours ahead), whatever the machine's speed.
func TestRateLimitWaitCancelled(t *testing.T) {
	s := newSim(t, simulator.Options{Window: time.Hour, Faults: simulator.Faults{Burst429: 100},
		Clock: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	c := newClient(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Me(ctx)
		errc <- err
	}()
	waitUntil(t, "the 429", func() bool {
		reqs := s.Requests()
		return len(reqs) == 1 && reqs[0].Status == http.StatusTooManyRequests
	})
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second): // not to hang on a wait that ignores the context
		t.Fatal("the call did not return after its context was cancelled")
	}
	wantTranscript(t, s, `GET /me [429]`)
}

// waitUntil polls cond until it holds; it fails the test after 30 s (a
// bound for giving up, not a timing goal).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestParseAPIError(t *testing.T) {
	now := time.Unix(1000, 0)
	h := http.Header{}
	h.Set("X-RateLimit-Reset", "1007")
	body := `{"type":"error.list","request_id":"req-1","errors":[{"code":"rate_limit_exceeded","message":"Exceeded rate limit of 167 in 10_seconds"}]}`
	got := parseAPIError(429, h, []byte(body), now)
	want := &intercom.APIError{Status: 429, Code: "rate_limit_exceeded", Message: "Exceeded rate limit of 167 in 10_seconds", RequestID: "req-1", RetryAfter: 7 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	h.Set("Retry-After", "3") // takes precedence
	if got := parseAPIError(429, h, []byte(body), now); got.RetryAfter != 3*time.Second {
		t.Errorf("Retry-After: %v", got.RetryAfter)
	}
	h = http.Header{"X-Request-Id": {"edge-9"}}
	got = parseAPIError(502, h, []byte("<html>bad gateway</html>"), now)
	if got.Error() != "intercom: 502: bad gateway (request edge-9)" {
		t.Errorf("non-JSON: %q", got.Error())
	}
	got = parseAPIError(409, nil, []byte(`{"type":"error.list","request_id":"req-1","errors":[{"code":"conflict","message":"A contact matching those details already exists with id=abc"}]}`), now)
	if got.Error() != "intercom: 409 conflict: A contact matching those details already exists with id=abc (request req-1)" {
		t.Errorf("Error() = %q", got.Error())
	}
	if id := intercom.ConflictID(fmt.Errorf("wrapped: %w", got)); id != "abc" {
		t.Errorf("ConflictID = %q", id)
	}
}

func TestCacheLRU(t *testing.T) {
	c := newCache(2)
	c.put(intercom.CacheKey("a"), intercom.Cached{ID: "1"})
	c.put(intercom.CacheKey("b"), intercom.Cached{ID: "2"})
	c.get(intercom.CacheKey("a")) // b is now the least recently used
	c.put(intercom.CacheKey("c"), intercom.Cached{ID: "3"})
	if _, ok := c.get(intercom.CacheKey("b")); ok {
		t.Error("b not evicted")
	}
	if e, ok := c.get(intercom.CacheKey("a")); !ok || e.ID != "1" {
		t.Error("a evicted")
	}
	c.forget(intercom.CacheKey("a"), "other")
	if _, ok := c.get(intercom.CacheKey("a")); !ok {
		t.Error("forget removed a key mapped to another id")
	}
	c.put(intercom.CacheKey("d"), intercom.Cached{ID: "3"}) // evicts c
	c.put(intercom.CacheKey("a"), intercom.Cached{ID: "3"}) // a moves to id 3
	c.forgetID("1")                                         // nothing maps to 1 any more
	if c.len() != 2 {
		t.Errorf("len = %d, want 2", c.len())
	}
	c.forgetID("3")
	if c.len() != 0 || len(c.items) != 0 || len(c.byID) != 0 {
		t.Errorf("after forgetID: len %d, items %v, byID %v", c.len(), c.items, c.byID)
	}
	for i := range 10 {
		c.put(intercom.CacheKey(fmt.Sprint(i)), intercom.Cached{ID: fmt.Sprint(i % 3)})
	}
	if c.len() != 2 || len(c.byID) != 2 {
		t.Errorf("after evictions: len %d, byID %v", c.len(), c.byID)
	}
	off := newCache(-1)
	off.put(intercom.CacheKey("a"), intercom.Cached{ID: "1"})
	if _, ok := off.get(intercom.CacheKey("a")); ok || off.len() != 0 {
		t.Error("disabled cache cached")
	}
}

// The limiter's decisions are tested without depending on the clock: each
// window below resets an hour from now, or is already over, so what the
// limiter lets go does not depend on how fast the test runs. How much of a
// real window's budget it spends, and how many 429s it meets, are timing
// goals: BenchmarkRateLimiter measures them.

// admitted is how many requests l lets go at once, up to most: a done
// context makes any wait (for an answer, the reset or the pacing) fail.
func admitted(l *limiter, most int) int {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	for n < most && l.acquire(ctx) == nil {
		n++
	}
	return n
}

// rateHeader is an answer's X-RateLimit headers.
func rateHeader(limit, remaining int, reset time.Time) http.Header {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	return h
}

// TestLimiterProbesUntilAnAnswerTellsTheLimit: before any answer, only the
// probes go; a request beyond them waits for an answer, and goes once one
// tells the budget.
func TestLimiterProbesUntilAnAnswerTellsTheLimit(t *testing.T) {
	var l limiter
	if n := admitted(&l, 100); n != probes {
		t.Fatalf("%d requests went before any answer, want the %d probes", n, probes)
	}
	waiting := make(chan error, 1)
	go func() { waiting <- l.acquire(context.Background()) }()
	waitUntil(t, "the request beyond the probes to wait for an answer", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.answered != nil
	})
	l.release(rateHeader(100, 99, time.Now().Add(time.Hour)), time.Now())
	select {
	case err := <-waiting:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the answer did not let the waiting request go")
	}
}

// TestLimiterCountsRequestsInFlight: requests in flight count against what
// the answers say is left, so that however many callers there are (64
// against a limit of 20 here), no more go than the window allows; answers
// that come out of order do not raise what is left.
func TestLimiterCountsRequestsInFlight(t *testing.T) {
	const limit, callers = 20, 64
	var l limiter
	reset := time.Now().Add(time.Hour)
	sent := admitted(&l, callers) // the probes
	answered := 0
	// Every round, all the callers try, and then all that went are
	// answered, last first: the i-th request the server counted says
	// limit-i-1 are left.
	for round := 0; round < 10; round++ {
		for i := sent - 1; i >= answered; i-- {
			l.release(rateHeader(limit, limit-i-1, reset), time.Now())
		}
		answered = sent
		l.mu.Lock()
		remaining := l.remaining
		l.mu.Unlock()
		if remaining != limit-sent {
			t.Fatalf("round %d: remaining %d after %d answers, want the lowest they said, %d", round, remaining, sent, limit-sent)
		}
		sent += admitted(&l, callers)
		if sent > limit {
			t.Fatalf("round %d: %d requests went in a window of %d", round, sent, limit)
		}
	}
	t.Logf("%d requests went in a window of %d (the rest is paced over the hour left)", sent, limit)
	if sent <= probes {
		t.Errorf("only the %d probes went in a window of %d", sent, limit)
	}
}

// TestLimiterWaitsWhenNothingIsLeft: with nothing left in the window, no
// request goes before the reset.
func TestLimiterWaitsWhenNothingIsLeft(t *testing.T) {
	var l limiter
	admitted(&l, 1)
	l.release(rateHeader(20, 0, time.Now().Add(time.Hour)), time.Now())
	if n := admitted(&l, 100); n != 0 {
		t.Errorf("%d requests went with nothing left in the window", n)
	}
}

// TestLimiterNewWindowHoldsTheLimit: once a window is over, the next is
// taken to hold the limit the last answers told: at most that many requests
// are in flight, those of the last window included, until an answer tells
// its state.
func TestLimiterNewWindowHoldsTheLimit(t *testing.T) {
	const limit = 6
	var l limiter
	admitted(&l, 1)
	// An answer of a window that ended a second ago, with nothing left.
	over := time.Now().Truncate(time.Second).Add(-time.Second)
	l.release(rateHeader(limit, 0, over), over.Add(-time.Second))
	if n := admitted(&l, 100); n != limit {
		t.Errorf("%d requests went in the new window before any answer, want %d (its limit)", n, limit)
	}
	// One answer without headers (a network error): one more may go.
	l.release(nil, time.Now())
	if n := admitted(&l, 100); n != 1 {
		t.Errorf("%d requests went after one answered, want 1", n)
	}
}

// TestLimiterShare: a client keeping to a quarter of the limit sends at
// most a quarter of each window, in a known window as in a new one.
func TestLimiterShare(t *testing.T) {
	const limit = 100
	t.Run("known window", func(t *testing.T) {
		var l limiter
		l.setShare(0.25)
		sent := admitted(&l, 1)
		l.release(rateHeader(limit, limit-1, time.Now().Add(time.Hour)), time.Now())
		sent += admitted(&l, limit)
		if sent > limit/4 || sent <= 1 {
			t.Errorf("%d requests went in a window of %d with a quarter of it", sent, limit)
		}
	})
	t.Run("new window", func(t *testing.T) {
		var l limiter
		l.setShare(0.25)
		admitted(&l, 1)
		over := time.Now().Truncate(time.Second).Add(-time.Second)
		l.release(rateHeader(limit, 0, over), over.Add(-time.Second))
		if n := admitted(&l, limit); n != limit/4 {
			t.Errorf("%d requests went in a new window of %d before any answer, want a quarter, %d", n, limit, limit/4)
		}
	})
}

// TestLimiterWithoutHeadersDoesNotPace: a server that sends no rate-limit
// headers is not paced at all.
func TestLimiterWithoutHeadersDoesNotPace(t *testing.T) {
	var l limiter
	admitted(&l, probes)
	l.release(http.Header{}, time.Now())
	if n := admitted(&l, 1000); n != 1000 {
		t.Errorf("%d of 1000 requests went to a server without rate-limit headers", n)
	}
}

// BenchmarkRateLimiter measures what the limiter is for, against the
// simulator's limit of N requests per 1 s window, over 3 windows per
// iteration: the part of the limit spent (%-of-limit) and the part of the
// answers that were 429s (%-429). These are timing goals, measured, not
// asserted: a machine busy with other work spends less of the limit. Run
// them with
//
//	go test -run '^$' -bench RateLimiter -benchtime 1x ./engine/internal/rest
//
// On an idle machine, expect at least 95% of the limit for one client with
// 8 workers and at least 90% for the others, with under 1% 429s (under 5%
// for two clients sharing the budget by the headers alone). Four clients
// with a quarter share each meet (almost) no 429; following the headers
// alone, they collide at the end of every window: about one 429 per extra
// client per window.
func BenchmarkRateLimiter(b *testing.B) {
	for _, bc := range []struct {
		name             string
		limit            int     // requests per 1 s window
		clients, workers int     // workers per client
		share            float64 // SetRateShare of each client; 0: none
	}{
		{"1-client-8-workers-limit-50", 50, 1, 8, 0},
		{"1-client-64-workers-limit-20", 20, 1, 64, 0}, // more in flight than the window allows
		{"2-clients-4-workers-limit-50", 50, 2, 4, 0},
		{"4-clients-quarter-shares-16-workers-limit-167", 167, 4, 16, 0.25}, // 167 a window: Intercom's 1,000 a minute
		{"4-clients-headers-only-16-workers-limit-167", 167, 4, 16, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const windows = 3
			s := simulator.NewServer(simulator.Options{Token: testToken, RateLimit: bc.limit, Window: time.Second})
			defer s.Close()
			var cs []*Client
			for range bc.clients {
				c, err := New(Config{BaseURL: s.URL(), TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken}),
					MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				if bc.share > 0 {
					c.SetRateShare(bc.share)
				}
				cs = append(cs, c)
			}
			if _, err := cs[0].CreateContact(context.Background(), user("u-1", "")); err != nil {
				b.Fatal(err)
			}
			var ok, limited int
			for range b.N {
				o, l := runLoad(b, s, cs, bc.workers, windows)
				ok, limited = ok+o, limited+l
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(100*float64(ok)/float64(bc.limit*windows*b.N), "%-of-limit")
			b.ReportMetric(100*float64(limited)/float64(max(ok+limited, 1)), "%-429")
		})
	}
}

// runLoad sends events with workers goroutines per client for the given
// number of whole rate windows (1 s each, aligned to the second) and
// returns the answers by class.
func runLoad(tb testing.TB, s *simulator.Server, clients []*Client, workers, windows int) (ok, limited int) {
	tb.Helper()
	// Start just after a window begins, stop just before the last one ends.
	start := time.Now().Truncate(time.Second).Add(time.Second + 5*time.Millisecond)
	time.Sleep(time.Until(start))
	s.ResetRequests()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(time.Duration(windows)*time.Second-60*time.Millisecond))
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range clients {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					err := c.SubmitEvent(ctx, event("u-1"))
					if err != nil && ctx.Err() == nil {
						tb.Errorf("submit: %v", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, r := range s.Requests() {
		switch r.Status {
		case http.StatusAccepted:
			ok++
		case http.StatusTooManyRequests:
			limited++
		case 0: // abandoned at the deadline
		default:
			tb.Errorf("status %d", r.Status)
		}
	}
	return ok, limited
}
