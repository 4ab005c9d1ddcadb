package processor

import (
	"errors"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/dispatch"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
)

// ErrClosed is the error of a call to a closed (or stopped) Processor,
// and of a call that Stop, Shutdown or Close cut short.
var ErrClosed = errors.New("processor: closed")

// ErrNotSent is in the Result.Err of an event of which nothing was sent
// because its call was cut short (Close, the context, a refused token):
// sending it again cannot apply anything twice. It wraps the cause.
var ErrNotSent = errors.New("not sent")

// ErrStopped is a run's error after a graceful stop (Run.Stop, Stop,
// Shutdown): it ended before its source did.
var ErrStopped = delivery.ErrStopped

// ErrOutcomeUnknown is in the error of an action cut off after a request
// was sent: Intercom may or may not have applied it, so sending it again
// may apply it twice. Its dead letter has Outcome OutcomeUnknown.
var ErrOutcomeUnknown = delivery.ErrOutcomeUnknown

// OutcomeUnknown is the Outcome of the dead letter of an action cut off
// mid-request.
const OutcomeUnknown = delivery.OutcomeUnknown

// Stats counts the requests to Intercom: calls, retries, 429s, per endpoint.
type Stats = rest.Stats

// RegionURL is the API base URL of an Intercom region: us, eu or au.
func RegionURL(region string) (string, error) { return rest.RegionURL(region) }

// Unreachable says why a request's error means Intercom cannot be
// reached at all (connection refused, no such host, a TLS failure), or ""
// when it does not.
func Unreachable(err error) string { return rest.Unreachable(err) }

// Reason names the kind of a failure of rule (or of the event, when rule
// is ""): the rule, then what went wrong without what differs from one
// event to the next (ids, emails, values, request ids), e.g.
// `rule "Identify Company": contact not found`, so that failures can be
// counted by kind (a metric label, a summary).
func Reason(rule string, err error) string { return dispatch.Reason(rule, err) }

// Reasons names the kinds of failure in a Result's Err, one per failure
// (see Reason).
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
				out = append(out, Reason(re.Rule, re.Err))
			}
		case errors.As(e, &ruleErr):
			out = append(out, Reason(ruleErr.Rule, ruleErr.Err))
		default:
			out = append(out, Reason("", e))
		}
	}
	return out
}

// The failures an event's Result.Err may hold, declared by the packages
// that produce them and named here, so that an embedder handles every
// failure with this package alone.
var (
	// ErrUnauthorized: Intercom refused the access token (a 401) and
	// Config.StopOnRefusedToken stopped the run at once; the events it did
	// not send have ErrNotSent. Without it, delivery pauses instead.
	ErrUnauthorized = intercom.ErrUnauthorized
	// ErrContactNotFound: an action's contact does not exist in Intercom,
	// and no identify of it came within ContactWait or before the end of
	// the run.
	ErrContactNotFound = action.ErrContactNotFound
	// ErrEventNameCap: Intercom refused a data event (422) because the
	// workspace has its most active event names (120); it is not retried.
	ErrEventNameCap = action.ErrEventNameCap
	// ErrArchived: the contact an identify matches is archived in
	// Intercom, and ArchivedContacts is dead-letter.
	ErrArchived = action.ErrArchived
)

type (
	// APIError is an error answer of Intercom: its status, code, message
	// and request id.
	APIError = intercom.APIError
	// EventError is an event that cannot be used (not JSON, no type, ...).
	EventError = engine.EventError
	// RuleError is a failure of one rule on an event: its trigger or
	// fields, or its action at Intercom.
	RuleError = engine.RuleError
	// RuleErrors are the rules whose trigger or fields failed on an event.
	RuleErrors = engine.RuleErrors
)
