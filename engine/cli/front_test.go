package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// front is an HTTP front for a simulator that lets the first n API
// requests through and holds every later one until Release: a process
// sending to it stops making progress at a point the test chooses,
// however fast or slow the machine, and goes on when the test says.
// Requests to /_sim/ always pass.
type front struct {
	sim     *simulator.Server
	n       int64
	seen    atomic.Int64
	stalled atomic.Int64
	release chan struct{}
	once    sync.Once
	srv     *httptest.Server
}

// newFront starts a front for sim that holds the requests after the
// first n; the test's end releases them and closes it.
func newFront(t testing.TB, sim *simulator.Server, n int) *front {
	t.Helper()
	f := &front{sim: sim, n: int64(n), release: make(chan struct{})}
	f.srv = httptest.NewServer(f)
	t.Cleanup(func() {
		f.Release()
		f.srv.Close()
	})
	return f
}

// URL is the front's base URL, to give as --api-base.
func (f *front) URL() string { return f.srv.URL }

// Release lets the held requests, and all later ones, through.
func (f *front) Release() { f.once.Do(func() { close(f.release) }) }

// Stalled says how many requests have been held: once one has, the
// process sending makes no more progress until Release.
func (f *front) Stalled() int64 { return f.stalled.Load() }

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The check of the token at start (GET /me) goes through: the requests
	// held are the deliveries.
	if !strings.HasPrefix(r.URL.Path, "/_sim/") && r.URL.Path != "/me" && f.seen.Add(1) > f.n {
		f.stalled.Add(1)
		select {
		case <-f.release:
		case <-r.Context().Done():
			return // the sender gave up or died: nothing reached Intercom
		}
	}
	f.sim.ServeHTTP(w, r)
}
