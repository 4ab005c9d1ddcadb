package rest

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// probes is how many requests may go before any answer told the limit: a
// few, so one slow answer does not hold everything up, and far fewer than
// any limit Intercom sets (hundreds per window).
const probes = 4

// limiter paces requests by the X-RateLimit-* headers of the answers, so
// that the window's budget is spent before it resets and few requests meet
// a 429, however many requests are in flight.
//
// Within a window the server's count only goes down, so the lowest
// X-RateLimit-Remaining seen covers every request answered so far; the
// requests still in flight may not be counted in it yet, so they are taken
// off. With nothing left it blocks until X-RateLimit-Reset. When little is
// left (a tenth of the limit, or twice the peak number of requests in
// flight) it spaces requests evenly over the time to the reset, so that
// clients sharing the budget see each other's use before they spend it.
//
// What is not known is not spent blindly: before any answer has told the
// limit, a few requests (probes) go to learn it; once a window is over, the
// next one is taken to hold the limit, and at most that many requests are
// in flight until an answer tells its real state. A server that sends no
// rate-limit headers is not paced at all.
//
// One mutex guards it; waiting is done without the lock.
type limiter struct {
	mu        sync.Mutex
	inflight  int // requests admitted and not yet answered
	peak      int // most requests in flight at once
	known     bool
	limit     int           // the window's limit, once an answer told it
	remaining int           // lowest X-RateLimit-Remaining seen in the window
	reset     time.Time     // when the window ends
	next      time.Time     // earliest next admission when pacing
	noHeaders bool          // the last answer had no rate-limit headers
	answered  chan struct{} // closed (and replaced) at every answer, to wake waiters

	share    float64 // this client's part of each window's limit; 0 or 1: all of it
	own      int     // requests this client sent in the current window
	unplaced int     // requests sent since the last window ended, before the next is known
}

// setShare sets the part of each window's limit this client keeps to.
func (l *limiter) setShare(share float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.share = share
}

// ownBudget is what the share leaves this client in the current window;
// the caller holds mu and l.share is set.
func (l *limiter) ownBudget() int {
	return int(float64(l.limit)*l.share) - l.own
}

// shared says whether the client keeps to a share; the caller holds mu.
func (l *limiter) shared() bool { return l.share > 0 && l.share < 1 }

// acquire waits until a request may be sent. Every acquire must be
// followed by one release.
func (l *limiter) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := time.Now()
		if l.known && !now.Before(l.reset) {
			l.known = false // the window is over; the next one is not known yet
			// The requests still in flight may land in the next window.
			l.unplaced = l.inflight
		}
		var wait time.Duration
		var untilAnswer chan struct{}
		switch {
		case l.known:
			left := l.remaining - l.inflight
			if l.shared() {
				left = min(left, l.ownBudget())
			}
			switch {
			case left <= 0:
				wait = l.reset.Sub(now)
			case left <= l.paceBelow():
				if now.Before(l.next) {
					wait = l.next.Sub(now)
				} else {
					l.next = now.Add(l.reset.Sub(now) / time.Duration(left))
				}
			}
		case l.noHeaders:
		case l.shared() && l.limit > 0 && l.unplaced >= max(int(float64(l.limit)*l.share), 1),
			l.limit > 0 && l.inflight >= l.limit, l.limit == 0 && l.inflight >= probes:
			// A new window of l.limit, or no limit learned yet: wait for an
			// answer to tell the state.
			untilAnswer = l.wake()
		}
		if wait <= 0 && untilAnswer == nil {
			l.inflight++
			l.peak = max(l.peak, l.inflight)
			if l.known {
				l.own++
			} else {
				l.unplaced++
			}
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		if untilAnswer != nil {
			select {
			case <-untilAnswer:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := noPause.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// wake returns the channel the next answer closes; the caller holds mu.
func (l *limiter) wake() chan struct{} {
	if l.answered == nil {
		l.answered = make(chan struct{})
	}
	return l.answered
}

// paceBelow is the estimate under which requests are spaced out; the caller
// holds mu.
func (l *limiter) paceBelow() int {
	return max(l.limit/10, 2*l.peak)
}

// release records the answer to a request; h is nil when there was none.
func (l *limiter) release(h http.Header, now time.Time) {
	limit, remaining, reset, ok := rateHeaders(h)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	if l.answered != nil {
		close(l.answered)
		l.answered = nil
	}
	if h != nil {
		l.noHeaders = !ok
	}
	if !ok || !reset.After(now) {
		return // no headers, or a window that is over
	}
	switch {
	case !l.known || reset.After(l.reset): // a new window
		l.known, l.reset, l.next = true, reset, time.Time{}
		l.remaining = remaining
		l.own, l.unplaced = l.unplaced, 0
	case reset.Equal(l.reset):
		l.remaining = min(l.remaining, remaining)
	default:
		return // an answer from an earlier window
	}
	l.limit = limit
}

// rateHeaders reads X-RateLimit-Limit, -Remaining and -Reset.
func rateHeaders(h http.Header) (limit, remaining int, reset time.Time, ok bool) {
	if h == nil {
		return 0, 0, time.Time{}, false
	}
	var err error
	if limit, err = strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Limit"))); err != nil {
		return 0, 0, time.Time{}, false
	}
	if remaining, err = strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining"))); err != nil {
		return 0, 0, time.Time{}, false
	}
	r, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64)
	if err != nil {
		return 0, 0, time.Time{}, false
	}
	return limit, remaining, time.Unix(r, 0), true
}

// SetRateShare makes the client keep to share (0 < share <= 1) of each
// rate-limit window's limit, besides following the X-RateLimit headers:
// give each of N processes sending with one token 1/N, so that together
// they spend the whole budget and do not meet 429s at the end of each
// window. 1 (the default) lets the client use all that the headers say is
// left. It may be called at any time (a Kafka consumer sets its part of
// the partitions after each rebalance).
func (c *Client) SetRateShare(share float64) {
	if share <= 0 || share > 1 {
		share = 1
	}
	c.limit.setShare(share)
}

// RateLimit returns the rate-limit budget the last answers told: what is
// left in the current window and the window's limit; known is false when
// no answer of the current window has said.
func (c *Client) RateLimit() (remaining, limit int, known bool) {
	l := &c.limit
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known || !time.Now().Before(l.reset) {
		return 0, 0, false
	}
	return l.remaining, l.limit, true
}
