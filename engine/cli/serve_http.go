package cli

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
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
	stopping atomic.Bool
}

// server is the HTTP server of in, its errors logged to h.
func (in *ingestion) server(h slog.Handler) *http.Server {
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
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(h, slog.LevelWarn)}
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
