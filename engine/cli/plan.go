package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/planner"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

func init() {
	register(&command{name: "plan", summary: "show the Intercom actions events would cause (no network)", run: runPlan})
}

const planUsage = `
Usage: intercom-actions plan [--rules PATH]... [--with-defaults] [--preset NAME]... [--pretty] [EVENTS.ndjson...]

Reads Segment events, one JSON object per line, from the files given or from
standard input, and prints one JSON line per planned Intercom action:
  {"line":3,"rule":"Track Event","action":"track_event","fields":{...},"warnings":[...]}
With --pretty, each action is indented, and every line that planned nothing
or failed is in the stream too, as {"line":4,"skip":"no rule matched"} or
{"line":5,"rule":"Track Event","error":"..."}: a JSON stream jq reads.
Nothing is sent anywhere. A line that is not a usable event (one longer
than 4 MiB included: it is not read whole), or a rule that fails on an
event, is reported on standard error as  file:line: reason  and counted in
the summary printed at the end; no line is skipped silently.

Exit status: 0 when every line was planned cleanly, 1 when any line or rule
failed, 2 on bad usage.

Examples:
  intercom-actions plan < testdata/events/sample.ndjson
  intercom-actions plan events.ndjson --rules my-rules/ --pretty
  intercom-actions plan --rules extra.yaml --with-defaults events.ndjson
  intercom-actions plan --preset classic-company < events.ndjson
`

func runPlan(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("plan", planUsage, stderr, stdout)
	var cfg processor.Config
	addRulesFlags(fs, &cfg)
	pretty := fs.Bool("pretty", false, "indent each action, and add unmatched and failed lines as JSON objects (a JSON stream)")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	eng, ok := compileOrReport("plan", cfg.Rules, stderr)
	if !ok {
		return 1
	}
	for _, w := range eng.Warnings() {
		fmt.Fprintf(stderr, "plan: %v\n", w)
	}
	batchGC()
	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	var events atomic.Int64
	prog := newProgress(stderr, "plan")
	prog.setFunc(func() string { return fmt.Sprintf("%d events", events.Load()) })
	defer prog.stop()

	inputs := fs.Args()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	var total planner.Summary
	start := time.Now()
	for _, name := range inputs {
		r, label, closeFn, err := openInput(name, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "plan: %v\n", err)
			return 1
		}
		render := planner.AppendJSON
		if *pretty {
			render = planner.AppendPretty
		}
		sum, err := planner.RunWith(eng, r, planner.Options{Render: render}, func(res *planner.Result) error {
			if res.Err != nil {
				for _, m := range res.Messages() {
					fmt.Fprintf(stderr, "%s:%s\n", label, strings.TrimPrefix(m, "line "))
				}
			}
			for _, m := range res.SameSecond {
				fmt.Fprintf(stderr, "%s:%s\n", label, strings.TrimPrefix(m, "line "))
			}
			events.Add(1)
			_, err := out.Write(res.Output)
			return err
		})
		closeFn()
		total = add(total, sum)
		if err != nil {
			fmt.Fprintf(stderr, "plan: %s: %v\n", label, err)
			return 1
		}
	}
	prog.stop()
	out.Flush()
	fmt.Fprintf(stderr, "plan: %s in %s\n", total, time.Since(start).Round(time.Millisecond))
	if total.Failed() {
		return 1
	}
	return 0
}

func add(a, b planner.Summary) planner.Summary {
	return planner.Summary{
		Events: a.Events + b.Events, Actions: a.Actions + b.Actions, Skipped: a.Skipped + b.Skipped,
		BadEvents: a.BadEvents + b.BadEvents, RuleErrors: a.RuleErrors + b.RuleErrors, SameSecond: a.SameSecond + b.SameSecond,
	}
}

// batchGC tunes the collector for plan, unless GOGC is set: plan keeps
// little alive and makes little garbage (actions are planned into arenas),
// so collecting when the heap reaches five times what is live rather than
// twice saves most of the collector's work for a few MB (8% of plan's time
// on the shared workload; its peak RSS stays about 20 MB).
func batchGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// openInput opens a named input; "-" is standard input.
func openInput(name string, stdin io.Reader) (io.Reader, string, func(), error) {
	if name == "-" {
		return stdin, "stdin", func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, "", nil, err
	}
	return f, name, func() { f.Close() }, nil
}
