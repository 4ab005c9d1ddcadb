package kafka

import "github.com/intercom-actions/intercom-actions/engine/internal/dispatch"

// addSummary adds the counts of s to sum (the summaries of several
// partitions' dispatchers make the consumer's), copying its maps: adding
// to a zero Summary makes a copy that shares nothing with s.
func addSummary(sum *dispatch.Summary, s dispatch.Summary) {
	sum.Read += s.Read
	sum.Events += s.Events
	sum.Sent += s.Sent
	sum.Skipped += s.Skipped
	sum.Failed += s.Failed
	sum.Unsettled += s.Unsettled
	sum.Actions += s.Actions
	sum.ActionsSent += s.ActionsSent
	sum.DeadLettered += s.DeadLettered
	sum.Unknown += s.Unknown
	sum.Waited += s.Waited
	sum.Calls += s.Calls
	sum.Elapsed = max(sum.Elapsed, s.Elapsed)
	for k, c := range s.PerAction {
		if sum.PerAction == nil {
			sum.PerAction = map[string]dispatch.ActionCount{}
		}
		t := sum.PerAction[k]
		t.Sent += c.Sent
		t.Failed += c.Failed
		t.Calls += c.Calls
		sum.PerAction[k] = t
	}
	for r, f := range s.Failures {
		if sum.Failures == nil {
			sum.Failures = map[string]*dispatch.Failure{}
		}
		t := sum.Failures[r]
		if t == nil {
			t = &dispatch.Failure{Ref: f.Ref, Example: f.Example}
			sum.Failures[r] = t
		}
		t.Count += f.Count
	}
}
