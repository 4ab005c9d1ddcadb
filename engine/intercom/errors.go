package intercom

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The HTTP statuses of Intercom's answers that the actions tell apart
// (net/http's values: the package is pure, and does not import net/http).
const (
	StatusBadRequest          = 400
	StatusNotFound            = 404
	StatusConflict            = 409
	StatusUnprocessableEntity = 422
)

// APIError is an error answer from the Intercom API.
type APIError struct {
	Status     int           // HTTP status
	Code       string        // the first error's code, e.g. "conflict"
	Message    string        // the error messages, joined with "; "
	RequestID  string        // Intercom's request id, for support
	RetryAfter time.Duration // how long to wait: for 429 from Retry-After or X-RateLimit-Reset, for 503 from Retry-After
	MergedInto string        // 410 contact_merged: the id of the contact it was merged into, from the Link header
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
func ConflictID(err error) string { return conflictMatch(conflictRE, err) }

// conflictMatch is the id re finds in a 409 answer's message, or "".
func conflictMatch(re *regexp.Regexp, err error) string {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != StatusConflict {
		return ""
	}
	if m := re.FindStringSubmatch(ae.Message); m != nil {
		return m[1]
	}
	return ""
}

var archivedRE = regexp.MustCompile(`(?i)\barchived contact\b.*already exists with id=([A-Za-z0-9_-]+)`)

// ArchivedConflictID returns the id of the archived contact named by a 409
// answer ("An archived contact matching those details already exists with
// id=<id>"), or "" when err is no such answer. POST
// /contacts/{id}/unarchive restores it.
func ArchivedConflictID(err error) string { return conflictMatch(archivedRE, err) }

// CodeContactMerged is the error code of a 410 for a merged contact's old
// id (2.16 on); its Link header names the contact it was merged into.
const CodeContactMerged = "contact_merged"

func lower(s string) string { return strings.ToLower(s) }
