package rest

import (
	"net/http"
	"sync/atomic"
)

// SetCoalescing turns the coalescing of concurrent upserts of one company
// on (the default) or off, before c's first upsert: tests and benchmarks
// through the dispatcher compare the two with nothing else changed.
func SetCoalescing(c *Client, on bool) { c.upserts.off = !on }

// OnUpsertJoined makes c call f, before its first upsert, each time an
// upsert of a company joins the round waiting for the one in flight: what
// a test waits for before it lets the one in flight answer.
func OnUpsertJoined(c *Client, f func(companyID string)) { c.upserts.joined = f }

// HoldFirst is an http.RoundTripper that holds the answer to the first
// request for Method and Path (Intercom applied it; the answer is slow)
// until Release is closed, and closes Held, if set, when it starts to
// hold it; every other request goes through at once.
type HoldFirst struct {
	Method, Path  string
	Held, Release chan struct{}
	holding       atomic.Bool
}

// RoundTrip sends r, and holds the answer if it is the first for the
// method and path.
func (h *HoldFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if r.Method != h.Method || r.URL.Path != h.Path {
		return resp, err
	}
	if h.holding.CompareAndSwap(false, true) {
		if h.Held != nil {
			close(h.Held)
		}
		<-h.Release
	}
	return resp, err
}
