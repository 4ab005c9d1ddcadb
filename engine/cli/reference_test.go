package cli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/processor"
)

// commandReferencePath is the generated command reference: every
// command's --help and the delivery options' table (engine/cli/README.md,
// which GitHub shows under this folder's file list). It is rewritten by
// `go test ./engine/cli -run Reference -update` (the -update flag of
// update_flag_test.go) and otherwise fails when it differs from what the
// code renders.
const commandReferencePath = "README.md"

// updating says whether -update was given.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestCommandReference keeps engine/cli/README.md equal to the --help of
// every command (and of every subcommand a command's help lists under
// "Subcommands:"), as the command line prints it.
//
// The help is rendered as on any machine: serve's and deadletter's
// --data-dir default is the user's state dir, so XDG_STATE_HOME is set to
// a fixed value and the resulting path is written as the usual
// ~/.local/state/intercom-actions (the file says so).
func TestCommandReference(t *testing.T) {
	const fixedState = "/XDG_STATE_HOME"
	t.Setenv("XDG_STATE_HOME", fixedState)
	normalise := func(s string) string {
		return strings.ReplaceAll(s, filepath.Join(fixedState, "intercom-actions"), "~/.local/state/intercom-actions")
	}
	help := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, "", append(args, "--help")...)
		if code != 0 || errOut != "" || out == "" {
			t.Fatalf("intercom-actions %s --help: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
		}
		return normalise(out)
	}

	names := slices.Sorted(func(yield func(string) bool) {
		for n := range commands {
			if !yield(n) {
				return
			}
		}
	})
	var b strings.Builder
	b.WriteString(`<!-- Generated from the commands' --help by TestCommandReference (engine/cli/reference_test.go):
     do not edit; run go test ./engine/cli -run Reference -update. -->

# Command reference

Every command of ` + "`intercom-actions`" + ` with its ` + "`--help`" + `: what it does, its flags and
defaults, its exit status and examples. Flags may come before or after the file names; after
` + "`--`" + ` everything is a file name. The delivery options (shared by ` + "`send`" + `, ` + "`serve`" + ` and ` + "`consume`" + `)
are described once, in [Delivery options](#delivery-options). The default of
` + "`--data-dir`" + ` is shown as ` + "`~/.local/state/intercom-actions`" + `: it is ` + "`$XDG_STATE_HOME/intercom-actions`" + `
when ` + "`XDG_STATE_HOME`" + ` is set (on macOS and Windows without it, the user config dir's
` + "`intercom-actions`" + `).

`)
	links := make([]string, len(names))
	for i, n := range names {
		links[i] = fmt.Sprintf("[%s](#%s)", n, n)
	}
	b.WriteString("Commands: " + strings.Join(links, " · ") + "; [delivery options](#delivery-options).\n\n")
	b.WriteString("## `intercom-actions`\n\n")
	fence(&b, normalise(mustRun(t, "--help")))
	for _, n := range names {
		out := help(n)
		fmt.Fprintf(&b, "## `%s`\n\n", n)
		fence(&b, out)
		for _, sub := range subcommands(out) {
			fmt.Fprintf(&b, "### `%s %s`\n\n", n, sub)
			fence(&b, help(n, sub))
		}
	}
	b.WriteString("## Delivery options\n\n" +
		"The options of `processor.Options()`: each is a flag of `send`, `serve` and `consume`, a field of\n" +
		"`processor.Config` (`cfg.Set(name, value)`) and a field of the Benthos processor.\n\n")
	optionsTable(&b)
	compareOrUpdate(t, commandReferencePath, b.String(),
		"engine/cli/README.md is out of date with the commands' --help; run go test ./engine/cli -run Reference -update")
}

// mustRun runs the command line with args and returns its standard output;
// it must exit 0 and write nothing to standard error.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, "", args...)
	if code != 0 || errOut != "" {
		t.Fatalf("intercom-actions %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	return out
}

// subcommands are the names a help text lists under "Subcommands:", one a
// line, indented, up to the first blank line.
func subcommands(help string) []string {
	_, rest, ok := strings.Cut(help, "\nSubcommands:\n")
	if !ok {
		return nil
	}
	var subs []string
	for _, line := range strings.Split(rest, "\n") {
		if strings.TrimSpace(line) == "" {
			break
		}
		if line[0] == ' ' {
			if f := strings.Fields(line); len(f) > 0 {
				subs = append(subs, f[0])
			}
		}
	}
	return subs
}

// fence writes text in a fenced code block, with a fence longer than any
// run of backticks in it.
func fence(b *strings.Builder, text string) {
	f := "```"
	for strings.Contains(text, f) {
		f += "`"
	}
	fmt.Fprintf(b, "%stext\n%s\n%s\n\n", f, strings.TrimRight(text, "\n"), f)
}

// optionsTable writes the table of processor.Options(): flag and Benthos
// field, default, meaning.
func optionsTable(b *strings.Builder) {
	b.WriteString("| flag / Benthos field | default | meaning |\n|---|---|---|\n")
	for _, o := range processor.Options() {
		def := "`" + o.Default + "`"
		if o.Default == "" {
			def = ""
		}
		help := strings.ReplaceAll(o.Help, "|", `\|`)
		fmt.Fprintf(b, "| `--%s` / `%s` | %s | %s |\n", o.Name, strings.ReplaceAll(o.Name, "-", "_"), def, help)
	}
}

// compareOrUpdate fails unless the file at path holds want; with -update it
// writes want there instead.
func compareOrUpdate(t *testing.T, path, want, stale string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil && !(updating() && os.IsNotExist(err)) {
		t.Fatal(err)
	}
	if string(got) == want {
		return
	}
	if updating() {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Error(stale)
}
