package dispatch

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/ndjson"
)

// TestReasonGroupsWhatVariesFromEventToEvent: failures that differ only in
// ids, values or request ids have one reason.
func TestReasonGroupsWhatVariesFromEventToEvent(t *testing.T) {
	cases := []struct {
		rule string
		err  error
		want string
	}{
		{"Track Event", fmt.Errorf("track_event: %w", &intercom.APIError{Status: 422, Code: "parameter_invalid", Message: "metadata has 11 keys", RequestID: "r-1"}), `rule "Track Event": intercom 422 parameter_invalid`},
		{"Identify Company", fmt.Errorf("identify_company: %w (external_id %q)", action.ErrContactNotFound, "u-7"), `rule "Identify Company": contact not found`},
		{"", &engine.EventError{Reason: `unknown type "bogus" (expected one of identify, track)`}, `invalid event: unknown type "…"`},
		{"", &ndjson.TooLongError{Len: 5 << 20, Max: 4 << 20}, "line too long"},
		{"Identify Contact", fmt.Errorf("identify_contact: intercom: POST /contacts: %w", syscall.ECONNREFUSED), `rule "Identify Contact": cannot reach Intercom: connection refused`},
		{"Identify Contact", outcomeUnknown(errors.New("context canceled")), `rule "Identify Contact": outcome unknown (cut off by the stop)`},
		{"Track Event", errors.New(`field created_at: "soon" is not a date (at 12)`), `rule "Track Event": field created_at: "…" is not a date (at N)`},
	}
	for _, c := range cases {
		if got := Reason(c.rule, c.err); got != c.want {
			t.Errorf("Reason(%q, %v) = %q, want %q", c.rule, c.err, got, c.want)
		}
	}
}
