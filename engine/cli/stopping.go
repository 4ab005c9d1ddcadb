package cli

import (
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

// signals is how every command that delivers stops, in two stages: the
// first SIGINT or SIGTERM stops taking events and lets the requests in
// flight finish (drain); a second one, or the shutdown timeout passing
// first, cuts them off (abort).
type signals struct {
	C <-chan os.Signal // the signals caught
	c chan os.Signal
}

// catchSignals starts catching SIGINT and SIGTERM; release ends it.
func catchSignals() *signals {
	c := make(chan os.Signal, 2)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	return &signals{C: c, c: c}
}

func (s *signals) release() { signal.Stop(s.c) }

// addShutdownTimeout defines --shutdown-timeout, the bound of a graceful
// stop, for every command that delivers.
func addShutdownTimeout(fs *flag.FlagSet) *time.Duration {
	return durationFlag(fs, "shutdown-timeout", 30*time.Second, 0, "after SIGINT or SIGTERM, how long the requests in flight may take before they are cut off")
}

// drain waits for done once a graceful stop has begun: a second signal,
// or timeout passing first, calls abort with that signal (nil: the
// timeout). It reports whether it did.
func (s *signals) drain(done <-chan struct{}, timeout time.Duration, abort func(second os.Signal)) (aborted bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
		return false
	case sig := <-s.C:
		abort(sig)
	case <-timer.C:
		abort(nil)
	}
	return true
}

// logDrain is drain for a service, which logs why it cut requests off.
func (s *signals) logDrain(log *slog.Logger, name string, done <-chan struct{}, timeout time.Duration, abort func()) bool {
	return s.drain(done, timeout, func(sig os.Signal) {
		if sig != nil {
			log.Warn(name+": aborting: the requests in flight are cut off", "signal", signalName(sig))
		} else {
			log.Warn(name+": the requests in flight did not finish within the shutdown timeout: cutting them off", "shutdown_timeout", timeout.String())
		}
		abort()
	})
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "interrupt (SIGINT)"
	case syscall.SIGTERM:
		return "terminated (SIGTERM)"
	}
	return sig.String()
}

// logStopped logs the summary of a service's run as it stops, extra
// attributes after the counts; then each reason events failed for, the
// most frequent first (mostFrequent), with its count and an example.
func logStopped(log *slog.Logger, name string, sum processor.Summary, extra ...any) {
	attrs := []any{"events_settled", sum.Events, "sent", sum.Sent, "skipped", sum.Skipped, "failed", sum.Failed,
		"actions_sent", sum.ActionsSent, "dead_lettered", sum.DeadLettered, "outcome_unknown", sum.Unknown}
	attrs = append(append(attrs, extra...), "calls_saved", delivery.SavedTotal(sum.Saved))
	if sum.SameSecond > 0 { // Intercom stored one of each, unless they were spread
		attrs = append(attrs, "same_second_events", sum.SameSecond, "spread_events", sum.Spread)
	}
	log.Info(name+": stopped", attrs...)
	for _, r := range mostFrequent(sum.Failures) {
		f := sum.Failures[r]
		log.Info(name+": failures", "reason", r, "count", f.Count, "example_ref", f.Ref, "example", f.Example)
	}
}
