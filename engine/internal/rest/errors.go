package rest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

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
func parseAPIError(status int, h http.Header, body []byte, now time.Time) *intercom.APIError {
	e := &intercom.APIError{Status: status}
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
	case http.StatusGone:
		if e.Code == intercom.CodeContactMerged {
			e.MergedInto = canonicalContact(h.Get("Link"))
		}
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

// Retryable reports whether err is worth retrying: 408, 429, 500, 502, 503
// and 504 answers, timeouts, and dropped, reset or refused connections.
// Other API errors (400, 401, 403, 404, 409, 422, ...) and cancellation are
// not.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var ae *intercom.APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, delivery.ErrOutcomeUnknown) {
		return false // an answer cut off: a retry could apply the request twice
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
