package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/planner"
)

func init() {
	register(&command{name: "plan", summary: "show the Intercom actions events would cause (no network)", run: runPlan})
}

const planUsage = `
Usage: intercom-actions plan [--rules PATH]... [--preset NAME]... [--pretty] [EVENTS.ndjson...]

Reads Segment events, one JSON object per line, from the files given or from
standard input, and prints one JSON line per planned Intercom action:
  {"line":3,"rule":"Track Event","action":"track_event","fields":{...},"warnings":[...]}
Nothing is sent anywhere. A line that is not a usable event (one longer
than 4 MiB included: it is not read whole), or a rule that fails on an
event, is reported on standard error as  file:line: reason  and counted in
the summary printed at the end; no line is skipped silently.

Exit status: 0 when every line was planned cleanly, 1 when any line or rule
failed, 2 on bad usage.

Examples:
  intercom-actions plan < testdata/events/sample.ndjson
  intercom-actions plan --rules my-rules/ --pretty events.ndjson
  intercom-actions plan --preset classic-company < events.ndjson
`

func runPlan(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("plan", planUsage, stderr, stdout)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "rule file or folder (repeatable; default: the embedded defaults)")
	presetNames := addPresetFlag(fs)
	pretty := fs.Bool("pretty", false, "indent each action, and show failures and unmatched events in line (the golden-file form)")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	eng, ok := loadEngine("plan", rulePaths, *presetNames, stderr)
	if !ok {
		return 1
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	prog := newProgress(stderr, "plan")
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
		sum, err := planner.Run(eng, r, func(res *planner.Result) error {
			for _, m := range res.Messages() {
				fmt.Fprintf(stderr, "%s:%s\n", label, strings.TrimPrefix(m, "line "))
			}
			prog.set(fmt.Sprintf("%d events, %d actions", total.Events+res.Line, total.Actions))
			if *pretty {
				return planner.WriteReadable(out, res)
			}
			return planner.WriteJSON(out, res)
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
		BadEvents: a.BadEvents + b.BadEvents, RuleErrors: a.RuleErrors + b.RuleErrors,
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
