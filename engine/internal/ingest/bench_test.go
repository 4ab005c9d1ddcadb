package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/dispatch"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/internal/spool"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
	"github.com/intercom-actions/intercom-actions/rules"
)

// serveOnLoopback serves h on 127.0.0.1 and returns its base URL.
func serveOnLoopback(b *testing.B, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// batchBody is a /v1/batch of 100 track events (~450 bytes each) numbered
// from first; name makes each event's name unique.
func batchBody(first int, name func(i int) string) []byte {
	buf := make([]byte, 0, 100*520)
	buf = append(buf, `{"batch":[`...)
	for i := first; i < first+100; i++ {
		if i > first {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"type":"track","userId":"user-`...)
		buf = strconv.AppendInt(buf, int64(i%500), 10)
		buf = append(buf, `","event":`...)
		buf = strconv.AppendQuote(buf, name(i))
		buf = append(buf, `,"messageId":"msg-`...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `","timestamp":"2026-01-01T00:00:00.000Z","properties":{"plan":"pro","seats":`...)
		buf = strconv.AppendInt(buf, int64(i%50), 10)
		buf = append(buf, `,"revenue":19.99,"currency":"EUR","path":"/pricing/enterprise","referrer":"https://www.example.com/blog/how-we-ship"},"context":{"library":{"name":"analytics-go","version":"3.1.0"},"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64)"}}`...)
	}
	return append(buf, `],"sentAt":"2026-01-01T00:00:00.000Z"}`...)
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkIngestBatch100 posts /v1/batch requests of 100 events from 8
// and from 32 concurrent clients over loopback to the handler writing to a
// real spool (fsync group commit on this machine's disk); each request is
// answered only once its events are durable. Reports events acknowledged
// per second, the p50/p99 time to acknowledge a request, and fsyncs per
// request.
func BenchmarkIngestBatch100(b *testing.B) {
	for _, clients := range []int{8, 32} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchIngest(b, clients) })
	}
}

func benchIngest(b *testing.B, clients int) {
	sp, err := spool.Open(b.TempDir(), spool.Options{MaxBytes: 8 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	base := serveOnLoopback(b, New(Config{Store: sp}))
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	hc := &http.Client{Transport: tr}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetBytes(int64(len(batchBody(0, func(i int) string { return "Order Completed" }))))
	b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			body := batchBody(int(next.Add(100)), func(int) string { return "Order Completed" })
			start := time.Now()
			resp, err := hc.Post(base+"/v1/batch", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ack-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ack-ms")
	b.ReportMetric(float64(sp.Commits())/float64(b.N), "fsyncs/batch")
}

// arrivals records when each data event reached the simulator, by name.
type arrivals struct {
	sim *simulator.Server
	mu  sync.Mutex
	at  map[string]time.Time
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/events" {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if i := bytes.Index(body, []byte(`"event_name":"`)); i >= 0 {
			rest := body[i+len(`"event_name":"`):]
			name := string(rest[:bytes.IndexByte(rest, '"')])
			a.mu.Lock()
			if _, seen := a.at[name]; !seen {
				a.at[name] = time.Now()
			}
			a.mu.Unlock()
		}
	}
	a.sim.ServeHTTP(w, r)
}

// BenchmarkAckToIntercom runs the whole path — loopback HTTP ingestion,
// the spool (fsync), the dispatcher with the default rules, the REST
// client, and an unthrottled simulator on loopback — and posts batches of
// 100 track events at 1,000 events/s. It reports the p50/p99 time from a
// batch's acknowledgement to each of its events reaching the simulator,
// and, after the paced phase, how fast a backlog of 20,000 events drains.
// Run it with -benchtime=1x.
func BenchmarkAckToIntercom(b *testing.B) {
	set, _ := rules.ParseAll(rules.Defaults()...)
	eng, err := engine.Compile(set)
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		sim := simulator.NewHandler(simulator.Options{})
		arr := &arrivals{sim: sim, at: map[string]time.Time{}}
		simURL := serveOnLoopback(b, arr)
		client, err := rest.New(rest.Config{BaseURL: simURL, TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})})
		if err != nil {
			b.Fatal(err)
		}
		sp, err := spool.Open(b.TempDir(), spool.Options{MaxBytes: 8 << 30})
		if err != nil {
			b.Fatal(err)
		}
		d, _ := dispatch.New(dispatch.Config{Engine: eng, Executor: action.Executor{API: client}, Concurrency: 8})
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan struct{})
		go func() { d.Run(ctx, sp.Source()); close(runDone) }()
		base := serveOnLoopback(b, New(Config{Store: sp}))
		hc := &http.Client{}

		const paced = 5000
		acked := make(map[string]time.Time, paced)
		tick := time.NewTicker(100 * time.Millisecond) // 100 events each: 1,000/s
		name := func(i int) string { return fmt.Sprintf("e-%d", i) }
		for first := 0; first < paced; first += 100 {
			<-tick.C
			resp, err := hc.Post(base+"/v1/batch", "application/json", bytes.NewReader(batchBody(first, name)))
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("%v %v", err, resp)
			}
			resp.Body.Close()
			now := time.Now()
			for i := first; i < first+100; i++ {
				acked[name(i)] = now
			}
		}
		tick.Stop()
		wait := func(n int) {
			for {
				arr.mu.Lock()
				got := len(arr.at)
				arr.mu.Unlock()
				if got >= n {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
		wait(paced)
		var lat []time.Duration
		arr.mu.Lock()
		for n, at := range arr.at {
			lat = append(lat, at.Sub(acked[n]))
		}
		arr.mu.Unlock()
		b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ack-to-intercom-ms")
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ack-to-intercom-ms")

		// A backlog: 20,000 more events acknowledged at once, then drained.
		const backlog = 20000
		for first := paced; first < paced+backlog; first += 100 {
			resp, err := hc.Post(base+"/v1/batch", "application/json", bytes.NewReader(batchBody(first, name)))
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("%v %v", err, resp)
			}
			resp.Body.Close()
		}
		start := time.Now()
		wait(paced + backlog)
		b.ReportMetric(backlog/time.Since(start).Seconds(), "drain-events/s")
		cancel()
		<-runDone
		sp.Close()
		if !strings.Contains(fmt.Sprint(client.Stats()), "POST /events") {
			b.Errorf("no data events sent: %s", client.Stats())
		}
	}
}
