package intercom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrContactNotFound means an action needs an existing contact and none was
// found (or several were). The contact may simply not exist yet: a caller
// that orders actions per user can wait for a pending identify and retry.
// Errors wrap it with the lookup keys, e.g. `contact not found (external_id "u-1")`.
var ErrContactNotFound = errors.New("contact not found")

// APIError is an error answer from the Intercom API.
type APIError struct {
	Status     int           // HTTP status
	Code       string        // the first error's code, e.g. "conflict"
	Message    string        // the error messages, joined with "; "
	RequestID  string        // Intercom's request id, for support
	RetryAfter time.Duration // how long to wait: for 429 from Retry-After or X-RateLimit-Reset, for 503 from Retry-After
}

// Error formats e like `intercom: 409 conflict: A contact matching those
// details already exists with id=abc (request req-1)`.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "intercom: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request " + e.RequestID + ")")
	}
	return b.String()
}

// errorList is Intercom's error body.
type errorList struct {
	Type      string `json:"type"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// parseAPIError builds the APIError of a non-2xx answer; now is used to turn
// X-RateLimit-Reset into a wait.
func parseAPIError(status int, h http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{Status: status}
	var el errorList
	if json.Unmarshal(body, &el) == nil {
		e.RequestID = el.RequestID
		msgs := make([]string, 0, len(el.Errors))
		for _, it := range el.Errors {
			if e.Code == "" {
				e.Code = it.Code
			}
			if it.Message != "" {
				msgs = append(msgs, it.Message)
			}
		}
		e.Message = strings.Join(msgs, "; ")
	}
	if e.RequestID == "" {
		e.RequestID = h.Get("X-Request-Id")
	}
	if e.Code == "" && e.Message == "" {
		e.Message = strings.ToLower(http.StatusText(status))
	}
	switch status {
	case http.StatusTooManyRequests:
		e.RetryAfter = retryAfter(h, now, true)
	case http.StatusServiceUnavailable:
		e.RetryAfter = retryAfter(h, now, false)
	}
	return e
}

// retryAfter is the wait an answer asks for: Retry-After (seconds or an
// HTTP date) when given, else, if useReset, until X-RateLimit-Reset; 0 when
// neither is usable.
func retryAfter(h http.Header, now time.Time, useReset bool) time.Duration {
	var d time.Duration
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			d = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now)
		}
	} else if v := h.Get("X-RateLimit-Reset"); useReset && v != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			d = time.Unix(n, 0).Sub(now)
		}
	}
	return min(max(d, 0), maxRateLimitWait)
}

// Retryable reports whether err is worth retrying: 429, 500, 502, 503 and
// 504 answers, timeouts, and dropped, reset or refused connections. Other API
// errors (400, 401, 403, 404, 409, 422, ...) and cancellation are not.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	if errors.Is(err, ErrContactNotFound) || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true // e.g. http.Client.Timeout
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTemporary || dns.IsTimeout
	}
	var op *net.OpError
	return errors.As(err, &op)
}

// statusOf returns the status of an *APIError in err's chain, or 0.
func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

var conflictRE = regexp.MustCompile(`already exists with id=([A-Za-z0-9_-]+)`)

// conflictID returns the id of the existing contact named by a 409 answer
// ("A contact matching those details already exists with id=<id>"), or "".
func conflictID(err error) string {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		return ""
	}
	if m := conflictRE.FindStringSubmatch(ae.Message); m != nil {
		return m[1]
	}
	return ""
}

// notFound wraps ErrContactNotFound with the lookup keys, given as
// name/value pairs; empty values are left out. A detail, if not empty, is
// added after the keys.
func notFound(detail string, kv ...string) error {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			parts = append(parts, fmt.Sprintf("%s %q", kv[i], kv[i+1]))
		}
	}
	s := strings.Join(parts, ", ")
	if detail != "" {
		if s != "" {
			s += ": "
		}
		s += detail
	}
	if s == "" {
		return ErrContactNotFound
	}
	return fmt.Errorf("%w (%s)", ErrContactNotFound, s)
}
