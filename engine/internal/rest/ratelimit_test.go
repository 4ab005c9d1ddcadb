package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

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

func TestRateLimitWaitCancelled(t *testing.T) {
	s := newSim(t, simulator.Options{Window: 10 * time.Second, Faults: simulator.Faults{Burst429: 100}})
	c := newClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Me(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
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

// TestRateLimiter: against N requests per window, 8 workers reach at least
// 95% of N per window with under 1% of answers being 429.
func TestRateLimiter(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3 s")
	}
	const limit, windows = 50, 3
	s := newSim(t, simulator.Options{RateLimit: limit, Window: time.Second})
	c := newClient(t, s)
	if _, err := c.CreateContact(context.Background(), user("u-1", "")); err != nil {
		t.Fatal(err)
	}
	ok, limited := runLoad(t, s, []*Client{c}, 8, windows)
	total := ok + limited
	t.Logf("one client, 8 workers: %d ok and %d 429 in %d windows of %d (%.1f%% of the limit; %.2f%% 429); stats %v",
		ok, limited, windows, limit, 100*float64(ok)/(limit*windows), 100*float64(limited)/float64(total), c.Stats())
	if float64(ok) < 0.95*limit*windows {
		t.Errorf("%d requests in %d windows: under 95%% of %d per window", ok, windows, limit)
	}
	if float64(limited) >= 0.01*float64(total) {
		t.Errorf("%d of %d answers were 429 (want under 1%%)", limited, total)
	}
}

// TestRateLimiterManyInFlight: with more workers than the limit allows per
// window (64 against 20 per second), the limiter still keeps 429s under 1%
// and spends at least 90% of the budget: requests in flight count against
// what is left, including at the start and when a window rolls over.
func TestRateLimiterManyInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3 s")
	}
	const limit, windows = 20, 3
	s := newSim(t, simulator.Options{RateLimit: limit, Window: time.Second})
	c := newClient(t, s)
	if _, err := c.CreateContact(context.Background(), user("u-1", "")); err != nil {
		t.Fatal(err)
	}
	ok, limited := runLoad(t, s, []*Client{c}, 64, windows)
	total := ok + limited
	t.Logf("one client, 64 workers: %d ok and %d 429 in %d windows of %d (%.1f%% of the limit; %.2f%% 429)",
		ok, limited, windows, limit, 100*float64(ok)/(limit*windows), 100*float64(limited)/float64(total))
	if float64(ok) < 0.9*limit*windows {
		t.Errorf("%d requests in %d windows: under 90%% of %d per window", ok, windows, limit)
	}
	if float64(limited) >= 0.01*float64(total) {
		t.Errorf("%d of %d answers were 429 (want under 1%%)", limited, total)
	}
}

// TestRateLimiterSharedBudget: two clients (two processes) share the budget.
func TestRateLimiterSharedBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3 s")
	}
	const limit, windows = 50, 3
	s := newSim(t, simulator.Options{RateLimit: limit, Window: time.Second})
	a, b := newClient(t, s), newClient(t, s)
	if _, err := a.CreateContact(context.Background(), user("u-1", "")); err != nil {
		t.Fatal(err)
	}
	ok, limited := runLoad(t, s, []*Client{a, b}, 4, windows)
	total := ok + limited
	t.Logf("two clients, 4 workers each: %d ok and %d 429 in %d windows of %d (%.1f%% of the limit; %.2f%% 429)",
		ok, limited, windows, limit, 100*float64(ok)/(limit*windows), 100*float64(limited)/float64(total))
	if float64(ok) < 0.9*limit*windows {
		t.Errorf("%d requests in %d windows: under 90%% of %d per window", ok, windows, limit)
	}
	if float64(limited) >= 0.05*float64(total) {
		t.Errorf("%d of %d answers were 429 (want under 5%%)", limited, total)
	}
}

// TestRateLimiterShares: four processes sharing one token, each keeping to
// a quarter of the limit (SetRateShare, as consume does with its part of
// the partitions), meet (almost) no 429 and together spend at least 90%
// of the budget; following the headers alone, the clients collide at the
// end of every window (about one 429 per extra client per window).
func TestRateLimiterShares(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3 s")
	}
	const limit, windows, clients = 167, 3, 4 // 167 per window: Intercom's 1,000 a minute
	s := newSim(t, simulator.Options{RateLimit: limit, Window: time.Second})
	var cs []*Client
	for range clients {
		c := newClient(t, s)
		c.SetRateShare(1.0 / clients)
		cs = append(cs, c)
	}
	if _, err := cs[0].CreateContact(context.Background(), user("u-1", "")); err != nil {
		t.Fatal(err)
	}
	ok, limited := runLoad(t, s, cs, 16, windows)
	total := ok + limited
	t.Logf("four clients with a quarter each, 16 workers each: %d ok and %d 429 in %d windows of %d (%.1f%% of the limit; %.2f%% 429)",
		ok, limited, windows, limit, 100*float64(ok)/(limit*windows), 100*float64(limited)/float64(total))
	if float64(ok) < 0.9*limit*windows {
		t.Errorf("%d requests in %d windows: under 90%% of %d per window", ok, windows, limit)
	}
	if float64(limited) >= 0.01*float64(total) {
		t.Errorf("%d of %d answers were 429 (want under 1%%)", limited, total)
	}
}

// runLoad sends events with workers goroutines per client for the given
// number of whole rate windows (1 s each, aligned to the second) and
// returns the answers by class.
func runLoad(t *testing.T, s *simulator.Server, clients []*Client, workers, windows int) (ok, limited int) {
	t.Helper()
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
						t.Errorf("submit: %v", err)
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
			t.Errorf("status %d", r.Status)
		}
	}
	return ok, limited
}
