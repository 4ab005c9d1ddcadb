package simulator

import (
	"net/http"
	"strconv"
	"time"
)

// rateInfo is the limiter's verdict on one request and the header values.
type rateInfo struct {
	allowed   bool
	limit     int
	remaining int
	reset     int64 // Unix seconds when the current window ends, rounded up
}

func (ri rateInfo) setHeaders(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(ri.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(ri.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(ri.reset, 10))
}

// rateLimit applies the fixed-window limiter at now; with consume false it
// only reports the window. Windows are aligned to multiples of the window
// length since the Unix epoch. A rejected request does not use a slot.
// The caller must hold s.ctl.
func (s *Server) rateLimit(now time.Time, consume bool) rateInfo {
	w := int64(s.window)
	ns := now.UnixNano()
	start := ns - floorMod(ns, w)
	if start != s.winStart {
		s.winStart, s.winCount = start, 0
	}
	limit := s.opts.RateLimit
	enforced := limit > 0
	if !enforced {
		limit = UnlimitedRateLimit
	}
	ri := rateInfo{allowed: true, limit: limit, reset: ceilDiv(start+w, int64(time.Second))}
	if consume {
		if enforced && s.winCount >= limit {
			ri.allowed = false
		} else {
			s.winCount++
		}
	}
	ri.remaining = max(limit-s.winCount, 0)
	return ri
}

// windowSeconds is the window length in whole seconds (rounded up, at least 1)
// as used in the 429 message.
func windowSeconds(d time.Duration) int64 {
	return max(ceilDiv(int64(d), int64(time.Second)), 1)
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) == (b < 0) {
		q++
	}
	return q
}
