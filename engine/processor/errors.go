package processor

import (
	"errors"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/internal/dispatch"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
)

// ErrOutcomeUnknown is in the Result.Err of an action cut off after a
// request was sent: Intercom may or may not have applied it, so sending it
// again may apply it twice.
var ErrOutcomeUnknown = dispatch.ErrOutcomeUnknown

// ErrUnauthorized is in the Result.Err of the events a refused access token
// (401) stopped: every further call would fail the same way.
var ErrUnauthorized = dispatch.ErrUnauthorized

// OutcomeUnknown is the "outcome" a dead letter of an action cut off
// mid-request carries.
const OutcomeUnknown = dispatch.OutcomeUnknown

// Stats counts the requests to Intercom: calls, retries, 429s, per endpoint.
type Stats = rest.Stats

// RegionURL is the API base URL of an Intercom region: us, eu or au.
func RegionURL(region string) (string, error) { return rest.RegionURL(region) }

// Reasons names the kinds of failure in a Result's Err, one per failure:
// the rule, then what went wrong without what differs from one event to
// the next, e.g. `rule "Identify Company": contact not found`, so that
// failures can be counted by kind (a metric label, a summary).
func Reasons(err error) []string {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok { // Result.Err is an errors.Join
		errs = j.Unwrap()
	}
	var out []string
	for _, e := range errs {
		var ruleErrs engine.RuleErrors
		var ruleErr *engine.RuleError
		switch {
		case errors.As(e, &ruleErrs):
			for _, re := range ruleErrs {
				out = append(out, dispatch.Reason(re.Rule, re.Err))
			}
		case errors.As(e, &ruleErr):
			out = append(out, dispatch.Reason(ruleErr.Rule, ruleErr.Err))
		default:
			out = append(out, dispatch.Reason("", e))
		}
	}
	return out
}
