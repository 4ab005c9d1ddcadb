// Package cli is the intercom-actions command line: each verb (check, plan,
// test, send, serve, consume, simulate, playground, deadletter, ...) is a
// thin face over the library. cmd/intercom-actions calls Main.
package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/intercom-actions/intercom-actions/engine/internal/simhook"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
	"github.com/intercom-actions/intercom-actions/rules"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands is filled by each subcommand's file.
var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// Main runs the command line args (without the program name) and returns
// the exit code: 0 success, 1 the work found problems, 2 bad usage, 130
// stopped by a signal.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if path := os.Getenv(exchangesEnv); path != "" {
		if err := logExchanges(path); err != nil {
			fmt.Fprintf(stderr, "intercom-actions: %s: %v\n", exchangesEnv, err)
			return 1
		}
	}
	return run(args, stdin, stdout, stderr)
}

// exchangesEnv names a file to which the simulator of serve --intercom
// sim or simulate appends every exchange, a JSON simulator.Exchange a line:
// for the tests that run the binary, which check those exchanges against
// Intercom's OpenAPI description as they check their own simulators'
// (engine/simulator/contract). It is set by tests only.
const exchangesEnv = "INTERCOM_ACTIONS_TEST_EXCHANGES"

// logExchanges makes every simulator of this process append its exchanges
// to the file at path, each with one write, so that a process killed
// loses at most the exchange it was writing and cuts none in half.
func logExchanges(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	simhook.SetObserver(func(ex simulator.Exchange) {
		b, err := json.Marshal(ex)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		f.Write(append(b, '\n'))
	})
	return nil
}

// run dispatches to a subcommand and returns the exit code: 0 success,
// 1 the work found problems, 2 bad usage.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run([]string{"--help"}, stdin, stdout, stderr)
			}
		}
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		return commands["version"].run(nil, stdin, stdout, stderr)
	}
	c, ok := commands[args[0]]
	if !ok {
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		if hint := rules.Suggest(args[0], names); strings.Contains(hint, "did you mean") {
			fmt.Fprintf(stderr, "intercom-actions: unknown command %q%s\nRun 'intercom-actions --help' for the commands.\n", args[0], hint)
			return 2
		}
		fmt.Fprintf(stderr, "intercom-actions: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `intercom-actions maps Segment events (identify, track, group, ...) to Intercom
with YAML rules, like Segment's Intercom Cloud Mode (Actions) destination.

Usage:
  intercom-actions <command> [flags] [arguments]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Without --rules, commands use the embedded defaults (Segment's presets; see
'intercom-actions defaults'); --with-defaults layers --rules files on them.
Run 'intercom-actions <command> --help' for a command's flags and examples.
`)
}

// newFlags makes a FlagSet whose --help prints the command's own usage text.
func newFlags(name, usageText string, stderr, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, strings.TrimLeft(usageText, "\n"))
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, flags before, between or after the other arguments
// (`plan events.ndjson --rules r.yaml`); after "--" everything is an
// argument. It returns the exit code to use and false when the command
// should stop (after --help: 0, bad flags: 2, before any work is done).
// fs.Args() then holds the arguments in order.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) (int, bool) {
	// Asked-for help goes to stdout, once; the flag package would print it
	// to stderr first.
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0, false
		}
	}
	var rest []string
	stderr := fs.Output()
	fs.SetOutput(io.Discard) // a mistake gets a short message, not the whole usage
	defer fs.SetOutput(stderr)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				fs.Usage()
				return 0, false
			}
			fmt.Fprintf(stderr, "intercom-actions %s: %s\nRun 'intercom-actions %s --help' for its flags.\n", fs.Name(), flagMistake(fs, err), fs.Name())
			return 2, false
		}
		left := fs.Args()
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			rest = append(rest, left...) // after "--": arguments only
			break
		}
		if len(left) == 0 {
			break
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
	fs.Parse(append([]string{"--"}, rest...)) // cannot fail: only arguments
	return 0, true
}

// flagMistakes are the flag package's parse errors, with their flag.
var flagMistakes = []struct {
	re  *regexp.Regexp
	say func(fs *flag.FlagSet, m []string) string
}{
	{regexp.MustCompile(`^flag provided but not defined: -+(.*)$`), func(fs *flag.FlagSet, m []string) string {
		return "unknown flag --" + m[1] + suggestFlag(fs, m[1])
	}},
	{regexp.MustCompile(`^invalid value "(.*)" for flag -(\S+): (.*)$`), func(_ *flag.FlagSet, m []string) string {
		return fmt.Sprintf("invalid value %q for --%s: %s", m[1], m[2], m[3])
	}},
	{regexp.MustCompile(`^invalid boolean value "(.*)" for -(\S+): .*$`), func(_ *flag.FlagSet, m []string) string {
		return fmt.Sprintf("invalid value %q for --%s: expected true or false (--%s alone is true)", m[1], m[2], m[2])
	}},
	{regexp.MustCompile(`^flag needs an argument: -(.*)$`), func(_ *flag.FlagSet, m []string) string {
		return fmt.Sprintf("--%s needs a value (--%s VALUE or --%s=VALUE)", m[1], m[1], m[1])
	}},
	{regexp.MustCompile(`^bad flag syntax: (.*)$`), func(_ *flag.FlagSet, m []string) string {
		return fmt.Sprintf("cannot read the flag %s (write --name or --name=value)", m[1])
	}},
}

// flagMistake says what is wrong with the command line, naming the flag
// as it is written (--name) and, for an unknown one, the closest known.
func flagMistake(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	for _, fm := range flagMistakes {
		if m := fm.re.FindStringSubmatch(msg); m != nil {
			return fm.say(fs, m)
		}
	}
	return msg
}

// suggestFlag returns " (did you mean --x?)" for the known flag closest
// to name, or "" when none is close.
func suggestFlag(fs *flag.FlagSet, name string) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if best, ok := rules.Closest(name, names); ok {
		return " (did you mean --" + best + "?)"
	}
	for _, n := range names { // --concurrent for --concurrency
		if len(name) >= 4 && (strings.HasPrefix(n, name) || strings.HasPrefix(name, n)) {
			return " (did you mean --" + n + "?)"
		}
	}
	if _, ok := rules.Closest(name, []string{"rules"}); ok { // check takes its files as arguments
		return " (the rule files are this command's arguments)"
	}
	return ""
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }
