// Package connlimit bounds the connections an HTTP server keeps open,
// without letting idle ones lock out the requests that matter.
//
// A server that keeps every keep-alive connection open runs out of file
// descriptors when clients open many and leave them idle (20,000 idle
// connections stopped serve's /healthz). A listener that stops accepting
// at a cap (netutil.LimitListener) would starve /healthz all the same:
// the probe waits in the kernel's queue behind the idle ones. So a
// Listener admits up to Max connections and, when a new one comes at the
// cap, closes the connection that has waited longest with no request in
// progress (idle between keep-alive requests, or opened and silent), as
// an idle timeout would have. Only when all Max are in the middle of a
// request is a new connection over the cap: up to 16 of those (a fixed reserve) are
// still served, marked (Over) so that the server answers its health
// checks and refuses the rest with 503; beyond that they are closed at
// once.
//
// Wire it as the server's listener, ConnState and ConnContext.
package connlimit

import (
	"container/list"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// defaultReserve is how many connections over the cap a Listener serves
// (marked Over) while all Max are in the middle of a request.
const defaultReserve = 16

// Listener admits at most Max connections (and defaultReserve more, Over).
type Listener struct {
	net.Listener
	max, reserve int

	mu      sync.Mutex
	open    int        // admitted connections not closed
	over    int        // connections over the cap not closed
	waiting *list.List // admitted connections with no request in progress, longest first

	evicted, refused atomic.Int64
}

// New wraps ln to keep at most max connections (max > 0).
func New(ln net.Listener, max int) *Listener {
	return &Listener{Listener: ln, max: max, reserve: defaultReserve, waiting: list.New()}
}

// conn is an accepted connection, counted until closed.
type conn struct {
	net.Conn
	l       *Listener
	over    bool
	elem    *list.Element // in l.waiting, or nil
	counted bool          // still counted in l.open or l.over
	once    sync.Once
}

// Accept waits for a connection and admits it, closing an idle one if
// need be; a connection that cannot be admitted is closed and the next
// one awaited.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := &conn{Conn: nc, l: l, counted: true}
		l.mu.Lock()
		var victim *conn
		switch {
		case l.open < l.max:
		case l.waiting.Len() > 0:
			victim = l.waiting.Remove(l.waiting.Front()).(*conn)
			victim.elem = nil
			victim.counted = false
			l.open--
		case l.over < l.reserve:
			c.over = true
			l.over++
			l.mu.Unlock()
			return c, nil
		default:
			l.mu.Unlock()
			l.refused.Add(1)
			nc.Close()
			continue
		}
		l.open++
		c.elem = l.waiting.PushBack(c)
		l.mu.Unlock()
		if victim != nil {
			l.evicted.Add(1)
			victim.Conn.Close()
		}
		return c, nil
	}
}

// Close closes the connection and frees its place.
func (c *conn) Close() error {
	c.once.Do(c.l.release(c))
	return c.Conn.Close()
}

// release returns the func that uncounts c.
func (l *Listener) release(c *conn) func() {
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if c.elem != nil {
			l.waiting.Remove(c.elem)
			c.elem = nil
		}
		if !c.counted {
			return
		}
		c.counted = false
		if c.over {
			l.over--
		} else {
			l.open--
		}
	}
}

// ConnState is the server's ConnState: it tells which connections have a
// request in progress.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*conn)
	if !ok || c.over {
		return
	}
	switch state {
	case http.StateActive:
		l.mu.Lock()
		if c.elem != nil {
			l.waiting.Remove(c.elem)
			c.elem = nil
		}
		l.mu.Unlock()
	case http.StateIdle:
		l.mu.Lock()
		if c.elem == nil && c.counted {
			c.elem = l.waiting.PushBack(c)
		}
		l.mu.Unlock()
	case http.StateHijacked, http.StateClosed:
		c.once.Do(l.release(c))
	}
}

type overKey struct{}

// ConnContext is the server's ConnContext: it marks the requests of a
// connection over the cap (see Over).
func (l *Listener) ConnContext(ctx context.Context, nc net.Conn) context.Context {
	if c, ok := nc.(*conn); ok && c.over {
		return context.WithValue(ctx, overKey{}, true)
	}
	return ctx
}

// Over says whether r came on a connection over the cap: the server
// should answer it only if it is cheap and needed (a health check), and
// close the connection after it.
func Over(r *http.Request) bool {
	over, _ := r.Context().Value(overKey{}).(bool)
	return over
}

// Stats are the listener's counts.
type Stats struct {
	Open    int64 // connections open now, those over the cap included
	Evicted int64 // idle connections closed to make room
	Refused int64 // connections closed at once: all places and the reserve taken
}

// Stats returns the counts so far.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	open := int64(l.open + l.over)
	l.mu.Unlock()
	return Stats{Open: open, Evicted: l.evicted.Load(), Refused: l.refused.Load()}
}
