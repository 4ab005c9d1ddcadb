package cli

import (
	"log/slog"
	"os"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/dispatch"
)

// finishOrAbort waits for done after a graceful stop has begun: a second
// signal on sigs, or timeout passing first, cuts the requests in flight
// off (abort). It reports whether it had to. name prefixes the log lines.
func finishOrAbort(log *slog.Logger, name string, done <-chan struct{}, sigs <-chan os.Signal, timeout time.Duration, abort func()) (aborted bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
		return false
	case sig := <-sigs:
		log.Warn(name+": aborting: the requests in flight are cut off", "signal", signalName(sig))
	case <-timer.C:
		log.Warn(name+": the requests in flight did not finish within the shutdown timeout: cutting them off", "shutdown_timeout", timeout.String())
	}
	abort()
	return true
}

// logStopped logs the summary of a service's run as it stops, extra
// attributes after the counts; then each reason events failed for, the
// most frequent first (mostFrequent), with its count and an example.
func logStopped(log *slog.Logger, name string, sum dispatch.Summary, extra ...any) {
	attrs := []any{"events_settled", sum.Events, "sent", sum.Sent, "skipped", sum.Skipped, "failed", sum.Failed,
		"actions_sent", sum.ActionsSent, "dead_lettered", sum.DeadLettered, "outcome_unknown", sum.Unknown}
	log.Info(name+": stopped", append(attrs, extra...)...)
	for _, r := range mostFrequent(sum.Failures) {
		f := sum.Failures[r]
		log.Info(name+": failures", "reason", r, "count", f.Count, "example_ref", f.Ref, "example", f.Example)
	}
}
