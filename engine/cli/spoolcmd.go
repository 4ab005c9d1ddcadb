package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/spool"
)

func init() {
	register(&command{name: "spool", summary: "check serve's spool file, or salvage what can be read of a damaged one", run: runSpool})
}

const spoolUsage = `
Usage: intercom-actions spool check|salvage [--data-dir DIR] [--replace]

serve refuses to start on a spool file that is damaged, truncated, empty,
or missing where one was made, rather than lose what it holds. These read
it (serve stopped) and change nothing unless asked:

  check      reads every page and record and says what is wrong, with how
             many queued events and dead letters can be read
  salvage    copies every record that can be read (queued events, dead
             letters, the message ids of de-duplication) into a new file,
             spool.salvaged.db in the data dir; with --replace it then
             moves the damaged file aside (spool.damaged-TIME.db) and puts
             the new one in its place, so that serve starts on it

Exit status: 0 when the spool is sound (check) or the salvage is written,
1 when the spool is damaged (check) or nothing could be done.

Examples:
  intercom-actions spool check
  intercom-actions spool salvage --replace
`

func runSpool(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("spool", spoolUsage, stderr, stdout)
	dataDir := fs.String("data-dir", defaultDataDir(), "serve's data dir")
	replace := fs.Bool("replace", false, "salvage: put the salvaged file in place of the damaged one (kept aside)")
	sub, code, ok := parseSubcommand(fs, args, stdout, stderr, "spool: say check or salvage")
	if !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "spool: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	dir := *dataDir
	path := filepath.Join(dir, spool.FileName)
	switch sub {
	case "check":
		rep, err := spool.Check(dir)
		if err != nil {
			fmt.Fprintf(stderr, "spool: %v\n", strings.TrimPrefix(err.Error(), "spool: "))
			return 1
		}
		if len(rep.Problems) == 0 {
			fmt.Fprintf(stdout, "%s: sound: %d queued events, %d dead letters (%d pages of %d bytes)\n", path, rep.Events, rep.DeadLetters, rep.Pages, rep.PageSize)
			if rep.BadRecords > 0 {
				fmt.Fprintf(stdout, "%d records do not decode: they are dead-lettered when serve reads them\n", rep.BadRecords)
			}
			return 0
		}
		fmt.Fprintf(stdout, "%s: damaged\n", path)
		for _, p := range rep.Problems {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
		fmt.Fprintf(stdout, "readable: %d queued events and %d dead letters", rep.Events+rep.LooseEvents, rep.DeadLetters+rep.LooseDeadLetters)
		if rep.LooseEvents+rep.LooseDeadLetters > 0 {
			fmt.Fprintf(stdout, " (%d events and %d dead letters on pages cut off from the file's index)", rep.LooseEvents, rep.LooseDeadLetters)
		}
		fmt.Fprintf(stdout, "\ncopy them into a new spool: intercom-actions spool salvage --data-dir %s --replace\n", dir)
		return 1
	case "salvage":
		out := filepath.Join(dir, "spool.salvaged.db")
		res, err := spool.Salvage(dir, out)
		if err != nil {
			fmt.Fprintf(stderr, "spool: %v\n", strings.TrimPrefix(err.Error(), "spool: "))
			return 1
		}
		fmt.Fprintf(stdout, "salvaged %d queued events and %d dead letters into %s\n", res.Events, res.DeadLetters, out)
		for _, p := range res.Problems {
			fmt.Fprintf(stdout, "  lost: %s\n", p)
		}
		if res.Unreadable > 0 {
			fmt.Fprintf(stdout, "  lost: %d records that do not read as a spool's (damaged)\n", res.Unreadable)
		}
		if res.LooseEvents > 0 {
			fmt.Fprintf(stdout, "%d of the events were on pages cut off from the file's index: some may have been sent already, and are sent again\n", res.LooseEvents)
		}
		if res.LooseDeadLetters > 0 {
			fmt.Fprintf(stdout, "%d of the dead letters were on pages cut off from the file's index: some may have been replayed or deleted already, and are back (see 'intercom-actions deadletter list')\n", res.LooseDeadLetters)
		}
		if !*replace {
			fmt.Fprintf(stdout, "to use it: move %s aside and rename %s to %s (or run salvage with --replace)\n", path, out, spool.FileName)
			return 0
		}
		aside := filepath.Join(dir, "spool.damaged-"+time.Now().UTC().Format("20060102T150405Z")+".db")
		if err := os.Rename(path, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "spool: %v\n", err)
			return 1
		}
		if err := os.Rename(out, path); err != nil {
			fmt.Fprintf(stderr, "spool: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s is now the salvaged spool; the damaged file is %s\n", path, aside)
		return 0
	}
	fmt.Fprintf(stderr, "spool: unknown subcommand %q: say check or salvage\n", sub)
	return 2
}
