// Command intercom-actions maps Segment events to Intercom with YAML rules:
// check rule files, plan the actions for events, run golden rule tests, and
// send events to Intercom's REST API.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
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

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
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
	c, ok := commands[args[0]]
	if !ok {
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
Without --rules, commands use the embedded defaults (Segment's presets).
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

// parse parses args; it returns the exit code to use and false when the
// command should stop (after --help: 0, bad flags: 2).
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
	if err := fs.Parse(args); err != nil {
		return 2, false // the flag package printed the error and the usage to stderr
	}
	return 0, true
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }
