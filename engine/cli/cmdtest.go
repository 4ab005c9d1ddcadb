package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine/internal/ruletest"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

func init() {
	register(&command{name: "test", summary: "run golden rule cases (txtar); -update rewrites them", run: runTest})
}

const testUsage = `
Usage: intercom-actions test [--rules PATH]... [--with-defaults] [--preset NAME]... [-update] [CASES...]

Runs golden rule cases: txtar archives that hold rule files (optional),
events and the expected plan. A case without rule files uses --rules (with
any --preset added), or the embedded defaults. CASES are .txtar files or folders of them (default:
testdata/cases and testdata/transcripts). A failing case prints a diff: "-"
lines are expected but missing, "+" lines are produced but not expected.

A case with a "-- want-http --" section also sends its events, in order, to
a fresh in-memory Intercom simulator and compares every request made
(method, path, body, status), the dead letters and the call count. An
optional "-- options --" section holds name: value lines: presets added to
the rules (presets: classic-company), custom-attributes: send|create|existing
(as send's flag) and workspace-attributes: plan, seats (the simulated
workspace's custom attributes; without it any name is accepted).

A case looks like:
  What this case shows.
  -- rules.yaml --
  rules:
    - name: Pro plan signups
      action: track_event
      trigger: type == "track" && properties.plan == "pro"
  -- events.ndjson --
  {"type":"track","event":"Signed Up","userId":"u1","properties":{"plan":"pro"},"timestamp":"2024-01-01T00:00:00Z"}
  -- want --
  (written by -update; review it before you commit)

Exit status: 0 when every case passes, 1 when any fails.
`

func runTest(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("test", testUsage, stderr, stdout)
	var cfg processor.Config
	addRulesFlags(fs, &cfg)
	fs.Lookup("rules").Usage = "rule file or folder for cases without their own (repeatable; default: the embedded defaults)"
	update := fs.Bool("update", false, "rewrite each case's want section with what the rules produce now")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	runner := ruletest.Runner{Update: *update}
	if chosen(cfg.Rules) {
		eng, ok := compileOrReport("test", cfg.Rules, stderr)
		if !ok {
			return 1
		}
		runner.Engine = eng
	}
	dirs := fs.Args()
	if len(dirs) == 0 {
		dirs = []string{"testdata/cases"}
		if _, err := os.Stat("testdata/transcripts"); err == nil {
			dirs = append(dirs, "testdata/transcripts")
		}
	}
	paths, err := ruletest.Find(dirs...)
	if err != nil {
		fmt.Fprintf(stderr, "test: %v\n", err)
		return 1
	}
	if len(paths) == 0 {
		fmt.Fprintf(stderr, "test: no .txtar cases in %v\n", dirs)
		return 1
	}
	failed, updated := 0, 0
	for _, p := range paths {
		o, err := runner.Run(p)
		switch {
		case err != nil:
			failed++
			fmt.Fprintf(stdout, "FAIL %s\n  %v\n", p, err)
		case !o.Passed:
			failed++
			fmt.Fprintf(stdout, "FAIL %s\n%s", p, indent(o.Diff))
		case o.Updated:
			updated++
			fmt.Fprintf(stdout, "updated %s\n", p)
		}
	}
	fmt.Fprintf(stdout, "%d cases: %d passed, %d failed", len(paths), len(paths)-failed, failed)
	if updated > 0 {
		fmt.Fprintf(stdout, ", %d updated", updated)
	}
	fmt.Fprintln(stdout)
	if failed > 0 {
		return 1
	}
	return 0
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}
