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
backoff and jitter, and past the retries waited out as an outage for up to
--outage-wait: then the run stops, resumably, dead-lettering nothing for
it. 400/403/404/422 are not retried. The token is checked at start (GET
/me: a refused token, or a workspace in another region than --region, is
refused before anything is read); a 401 later stops the run at once,
resumably. A group or track for a contact that does not exist yet waits
(--contact-wait) for its identify.

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
sending a settled event again, after a stop or a kill (an event whose dead
letter a kill left unsettled is sent again, and its dead letter not written
twice: keep the same --dead-letter file). The checkpoint is
named after the input files (send-checkpoint-NAME-HASH.ndjson in the
current folder, or --checkpoint), written once the settings are checked
and removed when nothing is left to resume; while a send runs, a second
one over the same checkpoint is refused. A second signal
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
	cpPath := fs.String("checkpoint", "", "file recording how far each input file is settled, for --resume (default: send-checkpoint-NAME-HASH.ndjson in the current folder, named after the input files)")
	shutdownTimeout := addShutdownTimeout(fs)
	outageWait := durationFlag(fs, "outage-wait", 5*time.Minute, 0, "how long send waits for Intercom to answer again (connection errors, timeouts, 5xx, 429) before it stops, resumably, dead-lettering nothing for it (0: for as long as it takes)")
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
	cfg.StopOnRefusedToken = true // a run with a start and an end stops, resumably
	cfg.OutageWait = *outageWait  // 0: no bound, as for the processor
	p, code, ok := newProcessor("send", cfg, stderr)
	if !ok {
		return code
	}
	defer p.Close()
	if code, ok := checkToken("send", p, nil, stderr); !ok {
		return code
	}
	dlPath, err := filepath.Abs(*deadLetter)
	if err != nil {
		fmt.Fprintf(stderr, "send: %v\n", err)
		return 1
	}
	cp, progress, code := openCheckpoint(*cpPath, inputs, dlPath, *resume, *dryRun, stderr)
	if cp == nil && code >= 0 {
		return code
	}
	cpKept := false // whether the checkpoint is left for --resume
	closeCheckpoint := func() error {
		if cp == nil {
			return nil
		}
		err := cp.Close()
		if err == nil {
			cpKept, err = removeIfNothingToResume(cp.Path())
		}
		if rerr := cp.Release(); err == nil {
			err = rerr
		}
		return err
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
			closeCheckpoint()
			return 1
		}
		defer closeFn()
		ls := delivery.NewLineSource(label, r)
		ls.IncludeUnknown = *includeUnknown
		if checkpointed {
			src = append(src, checkpoint.NewSource(ls, pr.Path, cp.File, pr.Mark))
		} else {
			src = append(src, ls)
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(stderr, "send: already done in %s, not read again: %s\n", cp.Path(), strings.Join(skipped, ", "))
	}

	dlFile := &delivery.DeadLetterFile{Path: *deadLetter}
	defer dlFile.Close()
	if *resume && cp != nil {
		kept, err := checkpoint.KeptDeadLetters(dlPath, progress)
		if err != nil {
			fmt.Fprintf(stderr, "send: %v: its dead letters of the events the stopped run did not settle may be written again\n", err)
		}
		if n := kept.Len(); n > 0 {
			fmt.Fprintf(stderr, "send: %s holds %d dead letters of events the stopped run did not settle: those events are sent again, and their dead letters not written twice\n", *deadLetter, n)
		}
		dlFile.Kept = kept
	}
	var done, failed int64
	var progMu sync.Mutex
	sink := processor.Sink{DeadLetters: hookDeadLetters(dlFile), OnResult: func(r processor.EventResult) {
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
	sigs := catchSignals() // before the run: a signal as it starts must not kill the process
	run := p.Start(ctx, &src, sink)
	watch := stopOnSignals(sigs, run, abort, *shutdownTimeout, prog, out)
	sum, runErr := run.Wait()
	stopped := watch()
	prog.stop()
	cpErr := closeCheckpoint()
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
		if cpKept {
			out.printf("send: checkpoint: %s; with a token that works, continue with: intercom-actions send %s\n", cp.Path(), resumeArgs(args))
		}
		return 1
	}
	if errors.Is(runErr, processor.ErrOutage) {
		out.printf("send: stopped: %v\n  nothing was dead-lettered for it; check --api-base or --region and the network, then continue once Intercom answers\n", runErr)
		writeStopReport(out, nil, sum, inputs, progress, cp, cpKept, args)
		return 1
	}
	if stopped != nil || errors.Is(runErr, processor.ErrStopped) || errors.Is(runErr, context.Canceled) {
		writeStopReport(out, stopped, sum, inputs, progress, cp, cpKept, args)
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
func stopOnSignals(sigs *signals, run processor.Run, abort func(), timeout time.Duration, prog *progress, out *lockedWriter) func() os.Signal {
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

// openCheckpoint takes the checkpoint of the input files, loads it and
// starts the one of this run; path "" names it after the inputs
// (checkpoint.Name). deadLetters is the dead-letter file (absolute): where
// it ends now is where the dead letters of a new run of an input begin. It returns the file (nil when no input is a file, on a
// dry run, or on error), each file input's progress by its name as given,
// and the exit code to stop with when the file is nil and the code is not
// negative. The file is held (checkpoint.Acquire) until its Release: a
// second run over the same checkpoint is refused while this one runs.
func openCheckpoint(path string, inputs []string, deadLetters string, resume, dryRun bool, stderr io.Writer) (*openedCheckpoint, map[string]checkpoint.Progress, int) {
	progress := map[string]checkpoint.Progress{}
	var files, abs []string
	seen := map[string]bool{}
	for _, in := range inputs {
		if in == "-" {
			continue
		}
		a, err := filepath.Abs(in)
		if err != nil {
			fmt.Fprintf(stderr, "send: %v\n", err)
			return nil, nil, 1
		}
		if seen[a] && !dryRun {
			fmt.Fprintf(stderr, "send: %s is given twice\n", in)
			return nil, nil, 2
		}
		seen[a] = true
		files, abs = append(files, in), append(abs, a)
	}
	if dryRun || len(files) == 0 {
		if resume {
			fmt.Fprintln(stderr, "send: --resume needs input files (standard input cannot be read again)")
			return nil, nil, 2
		}
		return nil, progress, -1
	}
	if path == "" {
		path = checkpoint.Name(abs)
	}
	lock, err := checkpoint.Acquire(path)
	if err != nil {
		fmt.Fprintf(stderr, "send: %v\n", err)
		if errors.As(err, new(*checkpoint.ErrLocked)) {
			return nil, nil, 2
		}
		return nil, nil, 1
	}
	fail := func(code int, format string, args ...any) (*openedCheckpoint, map[string]checkpoint.Progress, int) {
		fmt.Fprintf(stderr, "send: "+format+"\n", args...)
		lock.Release()
		return nil, nil, code
	}
	prev, err := checkpoint.Load(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if resume {
			return fail(2, "--resume: there is no checkpoint %s to resume from (send writes it where it ran, named after its input files, or where --checkpoint says)", path)
		}
	case err != nil:
		return fail(1, "%v", err)
	}
	byPath := map[string]checkpoint.Progress{}
	for _, p := range prev {
		byPath[p.Path] = p
	}
	var dlSize int64
	if info, err := os.Stat(deadLetters); err == nil {
		dlSize = info.Size()
	}
	var all []checkpoint.Progress
	for i, name := range files {
		info, err := os.Stat(abs[i])
		if err != nil {
			return fail(1, "%v", err)
		}
		p, ok := byPath[abs[i]]
		switch {
		case ok && !resume && !p.Done && checkpoint.Started([]checkpoint.Progress{p}):
			return fail(2, "%s holds the checkpoint of a run that did not finish (%s, settled up to line %d): add --resume to continue it, or remove the file to start again", path, p.Path, p.Mark.Line)
		case !ok || !resume:
			p = checkpoint.Progress{Path: abs[i], Size: info.Size(), DeadLetters: deadLetters, DeadLettersFrom: dlSize} // a new run of this input
		case info.Size() < p.Size:
			return fail(2, "%s is smaller than when the checkpoint began (%d bytes, then %d): it is not the same input; remove %s to start again", name, info.Size(), p.Size, path)
		case p.DeadLetters != deadLetters: // another file (or a checkpoint of an earlier version): this run's begin here
			p.DeadLetters, p.DeadLettersFrom = deadLetters, dlSize
		case dlSize < p.DeadLettersFrom: // made anew since: all of it may be this input's runs'
			p.DeadLettersFrom = 0
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
		return fail(1, "%v", err)
	}
	return &openedCheckpoint{File: cp, lock: lock}, progress, -1
}

// openedCheckpoint is the checkpoint of a run, held by it.
type openedCheckpoint struct {
	*checkpoint.File
	lock *checkpoint.Lock
}

// Release lets another run take the checkpoint.
func (c *openedCheckpoint) Release() error { return c.lock.Release() }

// removeIfNothingToResume removes a checkpoint whose inputs are all done
// (there is nothing to resume, and --resume without a checkpoint is
// refused, so a finished run is not sent twice by mistake), or in which
// nothing is settled (a start refused at the first request: the corrected
// command starts afresh). kept says whether it is still there.
func removeIfNothingToResume(path string) (kept bool, err error) {
	prog, err := checkpoint.Load(path)
	if err != nil {
		return true, err
	}
	if checkpoint.Started(prog) {
		for _, p := range prog {
			if !p.Done {
				return true, nil
			}
		}
	}
	return false, os.Remove(path)
}

// writeStopReport says, after a stop, what was settled and how to go on.
func writeStopReport(out *lockedWriter, sig os.Signal, s processor.Summary, inputs []string, progress map[string]checkpoint.Progress, cp *openedCheckpoint, cpKept bool, args []string) {
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
		if !ok || cp == nil || !cpKept {
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
	if cp != nil && !cpKept && s.Events == 0 {
		out.printf("send: nothing was settled, so no checkpoint is kept: run the same command again to start over\n")
	}
	if resumable {
		out.printf("send: checkpoint: %s; continue with: intercom-actions send %s\n", cp.Path(), resumeArgs(args))
	}
}

// resumeArgs is the command line args of send with --resume, quoted.
func resumeArgs(args []string) string {
	if !slices.Contains(args, "--resume") && !slices.Contains(args, "-resume") {
		args = append([]string{"--resume"}, args...)
	}
	return shellJoin(args)
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
	writeSameSecond(w, s)
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

// writeSameSecond says how many track events shared a second with another
// of their name and contact, which Intercom stores as one, and what was
// done about it.
func writeSameSecond(w io.Writer, s processor.Summary) {
	switch {
	case s.SameSecond == 0:
	case s.Spread == s.SameSecond:
		fmt.Fprintf(w, "same second: %d track events shared a second with another of their name and contact; all were moved to the next free second (--spread-same-second-events)\n", s.SameSecond)
	default:
		fmt.Fprintf(w, "same second: %d track events shared a second with another of their name and contact: Intercom keeps one of each (--spread-same-second-events keeps them all)\n", s.SameSecond-s.Spread)
	}
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
