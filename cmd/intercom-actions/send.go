package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/dispatch"
	"github.com/intercom-actions/intercom-actions/engine/intercom/rest"
	"github.com/intercom-actions/intercom-actions/engine/planner"
)

func init() {
	register(&command{name: "send", summary: "send events to Intercom through the rules", run: runSend})
}

const sendUsage = `
Usage: intercom-actions send [flags] [EVENTS.ndjson...]

Reads Segment events (one JSON object per line) from the files given or
from standard input, plans their Intercom actions with the rules and sends
them to Intercom's REST API. A summary follows at the end; a progress line
is shown while it runs on a terminal.

Ordering and retries: events of the same contact (userId, else email, else
anonymousId) are sent one after another, in input order; different
contacts go in parallel (--concurrency). 429s wait for X-RateLimit-Reset;
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

Token: INTERCOM_ACCESS_TOKEN, else the one saved by 'intercom-actions auth
login'. For a local simulator (--api-base http://127.0.0.1:...) a
placeholder is used when neither is set.

Exit status: 0 when everything was sent or skipped (no rule matched), 1
when anything was dead-lettered or the run failed, 2 on bad usage.

Examples:
  intercom-actions simulate --addr 127.0.0.1:8089 &
  intercom-actions send --api-base http://127.0.0.1:8089 testdata/events/sample.ndjson
  INTERCOM_ACCESS_TOKEN=... intercom-actions send --region eu --rules my-rules/ events.ndjson
  intercom-actions send --custom-attributes create --rules my-rules/ events.ndjson
  intercom-actions send --preset classic-company events.ndjson
  intercom-actions send --dry-run < events.ndjson
`

func runSend(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("send", sendUsage, stderr, stdout)
	rulesFlag := addRulesFlags(fs)
	conn := addConnFlags(fs)
	conn.addTokenFileFlag(fs)
	conn.addVersionFlag(fs)
	concurrency := intFlag(fs, "concurrency", 8, 1, "actions in flight at once (contacts sent in parallel)")
	deadLetter := fs.String("dead-letter", "dead-letter.ndjson", "file that failed events are appended to, with their reasons")
	dryRun := fs.Bool("dry-run", false, "plan and print each action as a JSON line; send nothing")
	contactWait := durationFlag(fs, "contact-wait", 30*time.Second, 0, "how long a group or track waits for its contact's identify")
	verbose := fs.Bool("v", false, "log each retry, rate-limit wait and cache miss to standard error (ids only, never tokens or traits)")
	attrMode := fs.String("custom-attributes", "send", "custom attributes the workspace does not have: send (as mapped: Intercom refuses the whole update), "+
		"create (create them, typed from the value, up to Intercom's 250; drop what cannot be, with a warning) or existing (drop them with a warning)")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	mode, err := action.ParseAttributeMode(*attrMode)
	if err != nil {
		fmt.Fprintf(stderr, "send: --custom-attributes: %v\n", err)
		return 2
	}
	eng, ok := rulesFlag.engine("send", stderr)
	if !ok {
		return 1
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

	var exec dispatch.Executor
	var client *rest.Client
	if *dryRun {
		exec = &dryRunExecutor{w: stdout}
	} else {
		// Warnings (custom attributes dropped) always show; -v adds the
		// client's debug log.
		level := slog.LevelWarn
		if *verbose {
			level = slog.LevelDebug
		}
		logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
		if *verbose {
			conn.logger = logger
		}
		client, err = conn.client()
		if err != nil {
			fmt.Fprintf(stderr, "send: %v\n", err)
			return 2
		}
		var attrs *action.Attributes
		if mode != action.SendAttributes {
			attrs = action.NewAttributes(mode) // one for the run: the workspace is listed once
		}
		exec = action.Executor{API: client, Log: logger, Attributes: attrs}
	}

	dlFile := &lazyFile{path: *deadLetter}
	defer dlFile.Close()
	prog := newProgress(stderr, "send")
	defer prog.stop()
	var done, failed int64
	var progMu sync.Mutex
	d, err := dispatch.New(dispatch.Config{
		Engine:      eng,
		Executor:    exec,
		Concurrency: *concurrency,
		ContactWait: *contactWait,
		DeadLetter:  dispatch.NewDeadLetterWriter(dlFile),
		OnResult: func(r dispatch.Result) {
			progMu.Lock()
			done++
			if r.Status == dispatch.Failed {
				failed++
			}
			prog.set(fmt.Sprintf("%d events done, %d failed", done, failed))
			progMu.Unlock()
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "send: %v\n", err)
		return 1
	}

	var src dispatch.MultiSource
	for _, name := range inputs {
		r, label, closeFn, err := openInput(name, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "send: %v\n", err)
			return 1
		}
		defer closeFn()
		src = append(src, dispatch.NewLineSource(label, r))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sum, runErr := d.Run(ctx, &src)
	prog.stop()
	writeSendSummary(stderr, sum, client, dlFile.path, dlFile.opened())
	if errors.Is(runErr, dispatch.ErrUnauthorized) {
		fmt.Fprintf(stderr, "send: stopped after reading %d events: %v\n"+
			"  check the token (INTERCOM_ACCESS_TOKEN, --token-file, or 'intercom-actions auth status') and --region; "+
			"the events read but not sent are in the dead letters; the rest of the input was not read\n", sum.Read, runErr)
		return 1
	}
	if errors.Is(runErr, context.Canceled) {
		fmt.Fprintf(stderr, "send: stopped after reading %d events: those not sent are in the dead letters; the rest of the input was not read\n", sum.Read)
		return 1
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "send: %v\n", runErr)
		return 1
	}
	if sum.DeadLettered > 0 {
		return 1
	}
	return 0
}

func writeSendSummary(w io.Writer, s dispatch.Summary, client *rest.Client, dlPath string, dlWritten bool) {
	fmt.Fprintf(w, "send: %d events: %d sent, %d skipped (no rule matched), %d failed\n", s.Events, s.Sent, s.Skipped, s.Failed)
	fmt.Fprintf(w, "actions: %d planned, %d sent, %d dead-lettered", s.Actions, s.ActionsSent, s.DeadLettered)
	if s.Waited > 0 {
		fmt.Fprintf(w, ", %d waited for their contact's identify", s.Waited)
	}
	fmt.Fprintln(w)
	if dlWritten {
		fmt.Fprintf(w, "dead letters: %s (send it again to retry them)\n", dlPath)
	}
	if client != nil {
		st := client.Stats()
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

func ratio(a int64, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

// dryRunExecutor prints each action instead of sending it.
type dryRunExecutor struct {
	mu sync.Mutex
	w  io.Writer
}

func (d *dryRunExecutor) Execute(_ context.Context, a action.Action) (action.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return action.Result{}, planner.WriteJSON(d.w, &planner.Result{Actions: []action.Action{a}})
}

// lazyFile creates (or appends to) its file on the first write, so a run
// with no failures leaves no empty dead-letter file behind.
type lazyFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func (l *lazyFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return 0, err
		}
		l.f = f
	}
	return l.f.Write(p)
}

func (l *lazyFile) opened() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f != nil
}

func (l *lazyFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	return l.f.Close()
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
