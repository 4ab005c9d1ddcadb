package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

func init() {
	register(&command{name: "simulate", summary: "run a local Intercom API simulator to try rules offline", run: runSimulate})
}

const simulateUsage = `
Usage: intercom-actions simulate [--addr 127.0.0.1:8089] [flags]

Serves an in-memory Intercom REST API (contacts, companies, data events,
search, rate limits and Intercom's error answers) for trying rules without
an Intercom account. Its state is at GET /_sim/state (JSON), every request
it received at GET /_sim/requests, and POST /_sim/reset clears it.

Examples:
  intercom-actions simulate --addr 127.0.0.1:8089
  intercom-actions send --api-base http://127.0.0.1:8089 testdata/events/sample.ndjson
  curl -s http://127.0.0.1:8089/_sim/state
`

func runSimulate(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("simulate", simulateUsage, stderr, stdout)
	addr := fs.String("addr", "127.0.0.1:8089", "address to listen on")
	token := fs.String("token", "", "require this bearer token (default: accept any)")
	rate := intFlag(fs, "rate-limit", 0, 0, "requests allowed per window (0: unlimited)")
	window := durationFlag(fs, "window", 10*time.Second, time.Millisecond, "rate-limit window")
	lag := durationFlag(fs, "search-lag", 0, 0, "how long new or changed contacts stay out of search, like Intercom's index")
	errorRate := fractionFlag(fs, "error-rate", 0, "fraction of requests answered 500/503")
	dropRate := fractionFlag(fs, "drop-rate", 0, "fraction of connections dropped without an answer, before the request is handled")
	lostRate := fractionFlag(fs, "lost-answer-rate", 0, "fraction of answers lost after the request was handled (its changes are kept)")
	requestLog := intFlag(fs, "request-log", 10000, 0, "how many of the latest requests GET /_sim/requests keeps (0: all, which grows without limit)")
	attrs := fs.String("data-attributes", "", "comma-separated custom attribute names the workspace has; a contact or company with others gets 400 \"Custom attribute 'x' does not exist\" (default: accept any)")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	opts := simulator.Options{
		Token: *token, RateLimit: *rate, Window: *window, SearchLag: *lag, MaxRequests: *requestLog,
		Faults: simulator.Faults{ErrorRate: *errorRate, DropRate: *dropRate, LostAnswerRate: *lostRate},
	}
	if *attrs != "" {
		opts.DataAttributes = strings.Split(*attrs, ",")
	}
	sim := simulator.NewHandler(opts)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "Intercom simulator on http://%s (state: http://%s/_sim/state); Ctrl-C stops it\n", ln.Addr(), ln.Addr())
	if err := serveUntilSignal(srv, ln, os.Interrupt); err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return 1
	}
	return 0
}

// serveUntilSignal serves srv on ln until one of sigs comes, then shuts it
// down, giving the requests in flight 5 s to finish.
func serveUntilSignal(srv *http.Server, ln net.Listener, sigs ...os.Signal) error {
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
