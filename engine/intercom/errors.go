package intercom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"time"
)

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
	if errors.Is(err, context.Canceled) {
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

// StatusOf returns the status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

var conflictRE = regexp.MustCompile(`already exists with id=([A-Za-z0-9_-]+)`)

// ConflictID returns the id of the existing contact named by a 409 answer
// ("A contact matching those details already exists with id=<id>"), or "".
func ConflictID(err error) string {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		return ""
	}
	if m := conflictRE.FindStringSubmatch(ae.Message); m != nil {
		return m[1]
	}
	return ""
}

func lower(s string) string { return strings.ToLower(s) }
