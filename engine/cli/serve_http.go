package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/connlimit"
	"github.com/intercom-actions/intercom-actions/engine/internal/metrics"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

// ingestion is the HTTP side of serve, with or without --forward-kafka:
// Segment's API under /v1/, /healthz, /readyz, /metrics and a root page
// that says what is where.
type ingestion struct {
	Events   http.Handler            // /v1/
	Metrics  http.Handler            // GET /metrics
	Extra    map[string]http.Handler // more routes, such as the simulator's /_sim/
	About    string                  // the root page's text
	NotReady func() (status, detail string)
	// Degraded, if it says so, is /readyz's 200 answer: events are taken,
	// but delivery waits (a paused delivery).
	Degraded func() (status, detail string)
	MaxConns int // connections kept open at most (0: defaultMaxConns)
	stopping atomic.Bool
}

// server is the HTTP server of in over ln, its errors logged to h, its
// connections bounded by in.MaxConns (counted in met): serve it on the
// listener returned.
func (in *ingestion) server(h slog.Handler, ln net.Listener, met *metrics.Metrics) (*http.Server, net.Listener) {
	mux := http.NewServeMux()
	mux.Handle("/v1/", in.Events)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusOK, "ok", "")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if in.stopping.Load() {
			writeStatus(w, http.StatusServiceUnavailable, "stopping", "a stop was asked: no more events are taken")
			return
		}
		if in.NotReady != nil {
			if status, detail := in.NotReady(); status != "" {
				writeStatus(w, http.StatusServiceUnavailable, status, detail)
				return
			}
		}
		if in.Degraded != nil {
			if status, detail := in.Degraded(); status != "" {
				writeStatus(w, http.StatusOK, status, detail)
				return
			}
		}
		writeStatus(w, http.StatusOK, "ready", "")
	})
	mux.Handle("GET /metrics", in.Metrics)
	for pattern, h := range in.Extra {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, in.About)
	})
	lim := connlimit.New(ln, cmp.Or(in.MaxConns, defaultMaxConns))
	met.Connections(func() (open, evicted, refused int64) {
		st := lim.Stats()
		return st.Open, st.Evicted, st.Refused
	})
	return &http.Server{Handler: overCap(mux), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		ConnState: lim.ConnState, ConnContext: lim.ConnContext, ErrorLog: slog.NewLogLogger(h, slog.LevelWarn)}, lim
}

// defaultMaxConns is serve's --max-connections: well under the usual
// limit of 4,096 open files, with room for the spool, the connections to
// Intercom and the reserve over the cap.
const defaultMaxConns = 1024

// overCap answers the requests of a connection over the cap (every other
// connection is in the middle of a request): health checks and metrics
// are served, the rest refused with 503, and the connection is closed
// after the answer.
func overCap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !connlimit.Over(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "close")
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Retry-After", "1")
		writeStatus(w, http.StatusServiceUnavailable, "busy", "too many connections (--max-connections), all in the middle of a request; retry later")
	})
}

// stop makes /readyz say the service is stopping.
func (in *ingestion) stop() { in.stopping.Store(true) }

func writeStatus(w http.ResponseWriter, code int, status, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(struct {
		Status string `json:"status"`
		Detail string `json:"detail,omitempty"`
	}{status, detail})
	w.Write(append(b, '\n'))
}

// logDeadLettered logs at WARN that an event was dead-lettered, with the
// reasons (the rule and the kind of failure, processor.Reasons) and not
// the errors' text, which can hold an email or another trait: traits are
// never logged; the dead letter keeps the whole error.
func logDeadLettered(log *slog.Logger, r processor.EventResult) {
	log.Warn("dead-lettered", "ref", r.Ref, "reasons", strings.Join(processor.Reasons(r.Err), "; "))
}
