package cli

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/playground"
)

func init() {
	register(&command{name: "playground", summary: "a web page to try rules on events, and see what Intercom would receive", run: runPlayground})
}

const playgroundUsage = `
Usage: intercom-actions playground [--addr 127.0.0.1:8090]

Serves a page for trying mappings in the browser: edit the rules (errors,
and warnings as check prints them, are marked at their line and column as
you type) and the events (sample identify, group and track events are one
click away), see the planned actions with their warnings, run them against
a fresh Intercom simulator to see every HTTP request and the state it
ends in, and save the whole as a golden case that ` + "`intercom-actions test`" + `
checks. The page is part of the binary and loads nothing from the
internet; nothing reaches Intercom.

Examples:
  intercom-actions playground
  intercom-actions playground --addr 127.0.0.1:9000
`

func runPlayground(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("playground", playgroundUsage, stderr, stdout)
	addr := fs.String("addr", "127.0.0.1:8090", "address to listen on (keep it on loopback: the page has no login)")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "playground: unexpected argument %q (see playground --help)\n", fs.Arg(0))
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "playground: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: playground.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "playground on http://%s/ (Ctrl-C stops it)\n", ln.Addr())
	if err := serveUntilSignal(srv, ln, os.Interrupt, syscall.SIGTERM); err != nil {
		fmt.Fprintf(stderr, "playground: %v\n", err)
		return 1
	}
	return 0
}
