package dispatch

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/ndjson"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
)

// Reason names the kind of a failure, to group dead letters in a summary
// or a metric: the rule, if any, then what went wrong without what differs
// from one event to the next (ids, emails, values, request ids). For
// example `rule "Track Event": intercom 422 parameter_invalid`, or
// `rule "Identify Company": contact not found`.
func Reason(rule string, err error) string {
	r := reasonOf(err)
	if rule == "" {
		return r
	}
	return fmt.Sprintf("rule %q: %s", rule, r)
}

func reasonOf(err error) string {
	var (
		apiErr  *intercom.APIError
		evErr   *engine.EventError
		longErr *ndjson.TooLongError
	)
	switch {
	case err == nil:
		return "no error"
	case errors.Is(err, delivery.ErrOutcomeUnknownEarlier):
		return "outcome unknown in an earlier run: not sent again"
	case errors.Is(err, delivery.ErrOutcomeUnknown):
		return "outcome unknown (cut off by the stop)"
	case errors.Is(err, delivery.ErrNotSent), errors.Is(err, errNotSentWaiting):
		return err.Error()
	case errors.As(err, &longErr):
		return "line too long"
	case errors.As(err, &evErr):
		return "invalid event: " + general(firstClause(evErr.Reason))
	case errors.Is(err, action.ErrContactNotFound):
		return "contact not found"
	case errors.Is(err, action.ErrEventNameCap):
		return "intercom's cap of 120 active event names reached"
	case errors.Is(err, action.ErrArchived):
		return "contact archived in intercom (not unarchived)"
	case errors.As(err, &apiErr):
		if apiErr.Code != "" {
			return fmt.Sprintf("intercom %d %s", apiErr.Status, apiErr.Code)
		}
		return fmt.Sprintf("intercom %d", apiErr.Status)
	}
	if why := rest.Unreachable(err); why != "" {
		return "cannot reach Intercom: " + why
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return general(err.Error())
}

// firstClause is the text before the first ": " or " (".
func firstClause(s string) string {
	for _, sep := range []string{": ", " ("} {
		if i := strings.Index(s, sep); i > 0 {
			s = s[:i]
		}
	}
	return s
}

var (
	quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'[^']*'`)
	numberRE = regexp.MustCompile(`\d+`)
)

// general masks what varies from event to event: quoted text and numbers.
func general(s string) string {
	s = quotedRE.ReplaceAllString(s, `"…"`)
	return numberRE.ReplaceAllString(s, "N")
}
