package simulator

import (
	"net/http"
	"time"
)

// drawFaults decides the faults for one request. It always draws three
// numbers from the RNG, in the same order, and a fourth when LostAnswerRate
// is set (so runs without it draw as they always did), so a run with a
// given Seed and sequential requests is repeatable. The caller must hold
// s.ctl.
func (s *Server) drawFaults() (f Faults, drop, slow, fail, lose bool) {
	f = s.faults
	drop = s.rng.Float64() < f.DropRate
	slow = s.rng.Float64() < f.SlowRate
	fail = s.rng.Float64() < f.ErrorRate
	if f.LostAnswerRate > 0 {
		lose = s.rng.Float64() < f.LostAnswerRate
	}
	return f, drop, slow, fail, lose
}

// delay waits d (real time) unless the request is cancelled or the server
// closed first; it reports whether the full delay passed. It must be called
// without any lock held.
func (s *Server) delay(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}

// dropConnection closes the client connection without an answer: it
// hijacks the connection when it can, else aborts the handler.
func dropConnection(w http.ResponseWriter) {
	if sw, ok := w.(*statusWriter); ok {
		w = sw.ResponseWriter
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
