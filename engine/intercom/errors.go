package intercom

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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

// Unreachable says why err is a failure to reach the server at all —
// "connection refused", "no such host", "TLS: ..." — or returns "" when it
// is not one. Such a failure is a setting to fix (the API base URL, the
// network), not a problem of the event.
func Unreachable(err error) string {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		authErr x509.UnknownAuthorityError
		hostErr x509.HostnameError
		invErr  x509.CertificateInvalidError
		recErr  tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "no such host"
		}
		return "DNS lookup failed"
	case errors.As(err, &certErr), errors.As(err, &authErr), errors.As(err, &hostErr), errors.As(err, &invErr):
		return "TLS certificate not accepted"
	case errors.As(err, &recErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "TLS handshake failed (is it an https URL to an http server?)"
	}
	return ""
}

func lower(s string) string { return strings.ToLower(s) }
