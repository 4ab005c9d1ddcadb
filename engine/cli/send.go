package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/checkpoint"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

func init() {
	register(&command{name: "send", summary: "send events to Intercom through the rules", run: runSend})
}

const sendUsage = `
Usage: intercom-actions send [flags] [EVENTS.ndjson...]

Reads Segment events (one JSON object per line) from the files given or
from standard input, plans their Intercom actions with the rules and sends
them to Intercom's REST API. A summary follows at the end, with the
failures grouped by reason; a progress line is shown while it runs on a
terminal; -v prints each failure as it happens. A server that cannot be
reached (connection refused, DNS, TLS) is reported at once.

Ordering and retries: events of the same contact (the external_id, else
email, else Intercom id their first action names: userId, else email,
with the default rules) are sent one after another, in input order;
different contacts go in parallel (--concurrency). 429s wait for X-RateLimit-Reset;
408, 5xx, timeouts and dropped connections are retried with exponential
backoff and jitter; 400/401/403/404/422 are not retried, and a 401 (Intercom
refuses the token) stops the run at once. A group or track for a contact
that does not exist yet waits (--contact-wait) for its identify.

Custom attributes: Intercom refuses a whole create or update that carries
one the workspace does not have ("Custom attribute 'x' does not exist").
With --custom-attributes create, the workspace's attributes are listed once
and the missing ones created (typed from the value: a whole number is an
integer, another number a float, true/false a boolean, text a string);
with existing, they are dropped with a warning instead. The default, send,
sends them as mapped.

Nothing is lost: an event that cannot be used, or an action that finally
fails, is appended to the dead-letter file with the reason. Send that
file again (send --dead-letter other.ndjson dead-letter.ndjson) to retry
just the failed rules.

Stopping: the first Ctrl-C (SIGINT) or SIGTERM stops reading, lets the
requests in flight finish (--shutdown-timeout), and records in the
checkpoint file how far each input file is settled (sent, skipped or
dead-lettered); 'send --resume' with the same files then continues without
sending a settled event again, after a stop or a kill. A second signal
aborts at once: a request cut off mid-flight is dead-lettered with
"outcome":"unknown" (Intercom may have applied it), never as a plain
failure; sending the dead letters again leaves those out unless
--include-unknown says to send them too. Events read from standard input cannot be read again: a stop
dead-letters those not sent.

Token: INTERCOM_ACCESS_TOKEN, else the one saved by 'intercom-actions auth
login'. For a local simulator (--api-base http://127.0.0.1:...) a
placeholder is used when neither is set.

Exit status: 0 when everything was sent or skipped (no rule matched), 1
when anything was dead-lettered or the run failed, 2 on bad usage, 130
when stopped by SIGINT or SIGTERM before the input was done.

Examples:
  intercom-actions simulate --addr 127.0.0.1:8089 &
  intercom-actions send --api-base http://127.0.0.1:8089 testdata/events/sample.ndjson
  INTERCOM_ACCESS_TOKEN=... intercom-actions send --region eu --rules my-rules/ events.ndjson
  intercom-actions send --custom-attributes create --rules my-rules/ events.ndjson
  intercom-actions send --preset classic-company events.ndjson
  intercom-actions send --resume --region eu --rules my-rules/ events.ndjson   # after a stop
  intercom-actions send --dry-run < events.ndjson
`

// exitInterrupted is the exit status of a run stopped by a signal.
const exitInterrupted = 130

func runSend(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("send", sendUsage, stderr, stdout)
	var cfg processor.Config
	addOptions(fs, &cfg)
	deadLetter := fs.String("dead-letter", "dead-letter.ndjson", "file that failed events are appended to, with their reasons")
	dryRun := fs.Bool("dry-run", false, "plan and print each action as a JSON line; send nothing")
	verbose := fs.Bool("v", false, "print each failure as it happens, and log each retry, rate-limit wait and cache miss (ids only, never tokens or traits)")
	resume := fs.Bool("resume", false, "continue a stopped or killed run from its checkpoint: events already settled are not sent again")
	cpPath := fs.String("checkpoint", "send-checkpoint.ndjson", "file recording how far each input file is settled, for --resume")
	shutdownTimeout := addShutdownTimeout(fs)
	includeUnknown := fs.Bool("include-unknown", false, "re-send dead letters whose outcome is unknown (Intercom may have applied them); without it they stay dead letters")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	inputs := fs.Args()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	for _, in := range inputs {
		if in != "-" && sameFile(in, *deadLetter) {
			fmt.Fprintf(stderr, "send: %s is both an input and the dead-letter file; give --dead-letter another name\n", in)
			return 2
		}
	}

	out := &lockedWriter{w: stderr}
	prog := newProgress(stderr, "send")
	defer prog.stop()
	if *dryRun {
		cfg.DryRun = stdout
	} else {
		// Warnings (custom attributes dropped) always show; -v adds the
		// client's debug log.
		level := slog.LevelWarn
		if *verbose {
			level = slog.LevelDebug
		}
		cfg.Logger = slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
		cfg.OnUnreachable = func(err error) {
			base, _ := cfg.BaseURL()
			prog.clear()
			out.printf("send: cannot reach Intercom at %s: %s; retrying (check --api-base or --region; Ctrl-C stops and keeps the checkpoint)\n", base, processor.Unreachable(err))
		}
	}
	p, code, ok := newProcessor("send", cfg, stderr)
	if !ok {
		return code
	}
	defer p.Close()
	cp, progress, code := openCheckpoint(*cpPath, inputs, *resume, *dryRun, stderr)
	if cp == nil && code >= 0 {
		return code
	}

	var src delivery.MultiSource
	var skipped []string // inputs a resumed run finds done
	for _, name := range inputs {
		pr, checkpointed := progress[name]
		if checkpointed && pr.Done {
			skipped = append(skipped, name)
			continue
		}
		r, label, closeFn, err := openInput(name, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "send: %v\n", err)
			if cp != nil {
				cp.Close()
			}
			return 1
		}
		defer closeFn()
		ls := delivery.NewLineSource(label, r)
		ls.IncludeUnknown = *includeUnknown
		if checkpointed {
			src = append(src, checkpoint.NewSource(ls, pr.Path, cp, pr.Mark))
		} else {
			src = append(src, ls)
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(stderr, "send: already done in %s, not read again: %s\n", *cpPath, strings.Join(skipped, ", "))
	}

	dlFile := &delivery.DeadLetterFile{Path: *deadLetter}
	defer dlFile.Close()
	var done, failed int64
	var progMu sync.Mutex
	sink := processor.Sink{DeadLetters: dlFile, OnResult: func(r processor.EventResult) {
		progMu.Lock()
		done++
		if r.Status == processor.Failed {
			failed++
		}
		prog.set(fmt.Sprintf("%d events done, %d failed", done, failed))
		progMu.Unlock()
		if *verbose && r.Status == processor.Failed {
			prog.clear()
			for _, e := range r.Errors {
				out.printf("send: %s: %s\n", r.Ref, e)
			}
		}
	}}

	ctx, abort := context.WithCancel(context.Background())
	defer abort()
	run := p.Start(ctx, &src, sink)
	watch := stopOnSignals(run, abort, *shutdownTimeout, prog, out)
	sum, runErr := run.Wait()
	stopped := watch()
	prog.stop()
	var cpErr error
	if cp != nil {
		if cpErr = cp.Close(); cpErr == nil {
			cpErr = removeIfDone(cp.Path())
		}
	}
	var stats *processor.Stats
	if !*dryRun {
		st := p.Stats()
		stats = &st
	}
	writeSendSummary(out, sum, stats, dlFile.Path, dlFile.Written())
	if cpErr != nil {
		out.printf("send: %v\n", cpErr)
	}
	if errors.Is(runErr, processor.ErrUnauthorized) {
		out.printf("send: stopped after reading %d events: %v\n"+
			"  check the token (INTERCOM_ACCESS_TOKEN, --token-file, or 'intercom-actions auth status') and --region; "+
			"the events read but not sent are in the dead letters or, with a checkpoint, left for --resume\n", sum.Read, runErr)
		return 1
	}
	if stopped != nil || errors.Is(runErr, processor.ErrStopped) || errors.Is(runErr, context.Canceled) {
		writeStopReport(out, stopped, sum, inputs, progress, cp, args)
		return exitInterrupted
	}
	if runErr != nil {
		out.printf("send: %v\n", runErr)
		return 1
	}
	if sum.DeadLettered > 0 || cpErr != nil {
		return 1
	}
	return 0
}

// stopOnSignals stops run gracefully on the first SIGINT or SIGTERM, and
// aborts (abort) on a second one or when timeout has passed since the
// first. The returned func ends the watch and says which signal came, if
// any.
func stopOnSignals(run processor.Run, abort func(), timeout time.Duration, prog *progress, out *lockedWriter) func() os.Signal {
	sigs := catchSignals()
	end := make(chan struct{})
	var got atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var sig os.Signal
		select {
		case sig = <-sigs.C:
		case <-end:
			return
		}
		got.Store(sig)
		prog.clear()
		out.printf("send: %s: stopping: no more events are read; the requests in flight may take up to %s (--shutdown-timeout); a second signal aborts them\n", signalName(sig), timeout)
		run.Stop()
		sigs.drain(end, timeout, func(second os.Signal) {
			prog.clear()
			if second != nil {
				out.printf("send: %s again: aborting: the requests in flight are cut off\n", signalName(second))
			} else {
				out.printf("send: the requests in flight did not finish within %s (--shutdown-timeout): cutting them off\n", timeout)
			}
			abort()
		})
	}()
	return func() os.Signal {
		sigs.release()
		close(end)
		wg.Wait()
		sig, _ := got.Load().(os.Signal)
		return sig
	}
}

// openCheckpoint loads the checkpoint for the input files and starts the
// one of this run. It returns the file (nil when no input is a file, on a
// dry run, or on error), each file input's progress by its name as given,
// and the exit code to stop with when the file is nil and the code is not
// negative.
func openCheckpoint(path string, inputs []string, resume, dryRun bool, stderr io.Writer) (*checkpoint.File, map[string]checkpoint.Progress, int) {
	progress := map[string]checkpoint.Progress{}
	var files []string
	for _, in := range inputs {
		if in != "-" {
			files = append(files, in)
		}
	}
	if dryRun || len(files) == 0 {
		if resume {
			fmt.Fprintln(stderr, "send: --resume needs input files (standard input cannot be read again)")
			return nil, nil, 2
		}
		return nil, progress, -1
	}
	prev, err := checkpoint.Load(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if resume {
			fmt.Fprintf(stderr, "send: --resume: there is no checkpoint %s to resume from (it is written where send ran, or where --checkpoint says)\n", path)
			return nil, nil, 2
		}
	case err != nil:
		fmt.Fprintf(stderr, "send: %v\n", err)
		return nil, nil, 1
	case !resume:
		for _, p := range prev {
			if !p.Done {
				fmt.Fprintf(stderr, "send: %s holds the checkpoint of a run that did not finish (%s, settled up to line %d): add --resume to continue it, or remove the file to start again\n", path, p.Path, p.Mark.Line)
				return nil, nil, 2
			}
		}
		prev = nil // all done: this is a new run
	}
	byPath := map[string]checkpoint.Progress{}
	for _, p := range prev {
		byPath[p.Path] = p
	}
	var all []checkpoint.Progress
	seen := map[string]bool{}
	for _, name := range files {
		abs, err := filepath.Abs(name)
		if err != nil {
			fmt.Fprintf(stderr, "send: %v\n", err)
			return nil, nil, 1
		}
		info, err := os.Stat(abs)
		if err != nil {
			fmt.Fprintf(stderr, "send: %v\n", err)
			return nil, nil, 1
		}
		if seen[abs] {
			fmt.Fprintf(stderr, "send: %s is given twice\n", name)
			return nil, nil, 2
		}
		seen[abs] = true
		p, ok := byPath[abs]
		if !ok {
			p = checkpoint.Progress{Path: abs, Size: info.Size()}
		} else if info.Size() < p.Size {
			fmt.Fprintf(stderr, "send: %s is smaller than when the checkpoint began (%d bytes, then %d): it is not the same input; remove %s to start again\n", name, info.Size(), p.Size, path)
			return nil, nil, 2
		}
		progress[name] = p
		all = append(all, p)
	}
	for _, p := range prev { // inputs not given this time keep their progress
		if !seen[p.Path] {
			all = append(all, p)
		}
	}
	cp, err := checkpoint.Create(path, all)
	if err != nil {
		fmt.Fprintf(stderr, "send: %v\n", err)
		return nil, nil, 1
	}
	return cp, progress, -1
}

// removeIfDone removes a checkpoint whose inputs are all done: there is
// nothing to resume (and --resume without a checkpoint is refused, so a
// finished run is not sent twice by mistake).
func removeIfDone(path string) error {
	prog, err := checkpoint.Load(path)
	if err != nil {
		return err
	}
	for _, p := range prog {
		if !p.Done {
			return nil
		}
	}
	return os.Remove(path)
}

// writeStopReport says, after a stop, what was settled and how to go on.
func writeStopReport(out *lockedWriter, sig os.Signal, s processor.Summary, inputs []string, progress map[string]checkpoint.Progress, cp *checkpoint.File, args []string) {
	why := "stopped"
	if sig != nil {
		why = "stopped by " + signalName(sig)
	}
	out.printf("send: %s: %d events read, %d settled (sent, skipped or dead-lettered), %d left for --resume\n", why, s.Read, s.Events, s.Unsettled)
	if s.Unknown > 0 {
		out.printf("send: %d actions were cut off mid-request: their outcome is unknown (Intercom may have applied them); they are in the dead letters with \"outcome\":\"unknown\": check before sending them again\n", s.Unknown)
	}
	resumable := false
	for _, name := range inputs {
		if name == "-" {
			out.printf("  stdin: every event read is sent or in the dead letters; the rest of standard input was not read\n")
			continue
		}
		p, ok := progress[name]
		if !ok || cp == nil {
			continue
		}
		m := cp.Tracker(p.Path).Mark()
		if len(m.Settled) > 0 {
			out.printf("  %s: settled up to line %d, and %d lines after it\n", name, m.Line, len(m.Settled))
		} else {
			out.printf("  %s: settled up to line %d\n", name, m.Line)
		}
		resumable = true
	}
	if resumable {
		rest := args
		if !slices.Contains(args, "--resume") && !slices.Contains(args, "-resume") {
			rest = append([]string{"--resume"}, args...)
		}
		out.printf("send: checkpoint: %s; continue with: intercom-actions send %s\n", cp.Path(), shellJoin(rest))
	}
}

// shellJoin quotes args for a POSIX shell where they need it.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
		}) < 0 {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

func writeSendSummary(w io.Writer, s processor.Summary, stats *processor.Stats, dlPath string, dlWritten bool) {
	fmt.Fprintf(w, "send: %d events: %d sent, %d skipped (no rule matched), %d failed\n", s.Events, s.Sent, s.Skipped, s.Failed)
	fmt.Fprintf(w, "actions: %d planned, %d sent, %d dead-lettered", s.Actions, s.ActionsSent, s.DeadLettered)
	if s.Waited > 0 {
		fmt.Fprintf(w, ", %d waited for their contact's identify", s.Waited)
	}
	fmt.Fprintln(w)
	writeFailures(w, s.Failures)
	if dlWritten {
		fmt.Fprintf(w, "dead letters: %s (send it again to retry them)\n", dlPath)
	}
	if stats != nil {
		st := *stats
		fmt.Fprintf(w, "calls: %d (%s per event, %s per action sent), %d retried, %d rate limited (429)\n",
			st.Calls, ratio(st.Calls, s.Events), ratio(st.Calls, s.ActionsSent), st.Retries, st.RateLimited)
		kinds := make([]string, 0, len(s.PerAction))
		for k := range s.PerAction {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			c := s.PerAction[k]
			fmt.Fprintf(w, "  %-17s %d sent, %d calls (%s per action)\n", k, c.Sent, c.Calls, ratio(int64(c.Calls), c.Sent))
		}
		if len(s.Saved) > 0 {
			reasons := make([]string, 0, len(s.Saved))
			for r, n := range s.Saved {
				reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
			}
			sort.Strings(reasons)
			fmt.Fprintf(w, "  saved: %d calls not sent, Intercom held what they would send (%s; --no-skip-unchanged sends them)\n",
				delivery.SavedTotal(s.Saved), strings.Join(reasons, ", "))
		}
		eps := make([]string, 0, len(st.Endpoints))
		for k, n := range st.Endpoints {
			eps = append(eps, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(eps)
		if len(eps) > 0 {
			fmt.Fprintf(w, "  endpoints: %s\n", strings.Join(eps, ", "))
		}
	}
	rate := 0.0
	if secs := s.Elapsed.Seconds(); secs > 0 {
		rate = float64(s.Events) / secs
	}
	fmt.Fprintf(w, "elapsed: %s (%.0f events/s)\n", s.Elapsed.Round(time.Millisecond), rate)
}

// writeFailures lists the dead letters grouped by reason, most frequent
// first, each with its first occurrence as an example.
func writeFailures(w io.Writer, failures map[string]*processor.Failure) {
	if len(failures) == 0 {
		return
	}
	fmt.Fprintln(w, "failures by reason:")
	for _, r := range mostFrequent(failures) {
		f := failures[r]
		fmt.Fprintf(w, "  %d × %s\n      e.g. %s: %s\n", f.Count, r, f.Ref, f.Example)
	}
}

// mostFrequent orders the reasons of failures by count, the most frequent
// first; reasons of equal count by name.
func mostFrequent(failures map[string]*processor.Failure) []string {
	reasons := make([]string, 0, len(failures))
	for r := range failures {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		a, b := failures[reasons[i]], failures[reasons[j]]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return reasons[i] < reasons[j]
	})
	return reasons
}

func ratio(a int64, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func sameFile(a, b string) bool {
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(ia, ib)
	}
	absA, _ := filepath.Abs(a)
	absB, _ := filepath.Abs(b)
	return absA == absB
}

// lockedWriter serialises lines written from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) printf(format string, args ...any) {
	fmt.Fprintf(l, format, args...)
}
