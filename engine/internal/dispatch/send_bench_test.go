package dispatch

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// peakRSS reads the process's peak resident set size (Linux), in MB.
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkSend sends b.N events (the fault test's workload: identify,
// group, two tracks, identify per user) to the simulator on loopback with
// no limits. Run with -benchtime=50000x for the 50,000 events.
func BenchmarkSend(b *testing.B) {
	sim := simulator.NewServer(simulator.Options{Token: "tok", RateLimit: 1 << 30, MaxRequests: 1000})
	defer sim.Close()
	d, client := simDispatcher(b, sim, rest.Config{}, 16, nil)
	events := workload(max(b.N, 5))
	b.ResetTimer()
	sum, err := d.Run(context.Background(), delivery.NewLineSource("bench", strings.NewReader(events)))
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if sum.Failed > 0 {
		b.Fatalf("%d events failed", sum.Failed)
	}
	b.ReportMetric(float64(sum.Events)/sum.Elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(client.Stats().Calls)/float64(sum.Events), "calls/event")
	b.ReportMetric(peakRSS(), "peak-RSS-MB")
}

// answerTimes records when each answer arrived and its status.
type answerTimes struct {
	mu    sync.Mutex
	times []time.Time
	codes []int
}

func (a *answerTimes) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		a.mu.Lock()
		a.times = append(a.times, time.Now())
		a.codes = append(a.codes, resp.StatusCode)
		a.mu.Unlock()
	}
	return resp, err
}

// BenchmarkSendRateLimited sends to a simulator that allows limit requests
// per window (1 s, and Intercom's 10 s). It reports the successful requests per window, as a share
// of the limit, over the windows the run fully covered (goal ≥ 0.95), and
// the share of 429 answers over the whole run (goal < 0.01). One iteration
// is a fixed run of about four to ten windows: use -benchtime=1x.
func BenchmarkSendRateLimited(b *testing.B) {
	b.Run("200-per-1s", func(b *testing.B) { benchRateLimited(b, 200, time.Second, 10) })
	b.Run("500-per-10s", func(b *testing.B) { benchRateLimited(b, 500, 10*time.Second, 4) })
}

func benchRateLimited(b *testing.B, limit int, window time.Duration, windows int) {
	sim := simulator.NewServer(simulator.Options{Token: "tok", RateLimit: limit, Window: window})
	defer sim.Close()
	rec := &answerTimes{}
	d, client := simDispatcher(b, sim, rest.Config{HTTPClient: &http.Client{Transport: rec}}, 16, nil)
	events := workload(windows * limit * 10 / 14) // 1.4 calls per event
	b.ResetTimer()
	sum, err := d.Run(context.Background(), delivery.NewLineSource("bench", strings.NewReader(events)))
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	perWindow := map[int64]int{}
	var first, last int64
	for i, t := range rec.times {
		w := t.UnixNano() / int64(window)
		if i == 0 || w < first {
			first = w
		}
		last = max(last, w)
		if rec.codes[i] < 300 {
			perWindow[w]++
		}
	}
	full, n := 0, 0
	for w := first + 1; w < last; w++ { // the windows strictly inside the run
		full += perWindow[w]
		n++
	}
	st := client.Stats()
	if n > 0 {
		b.ReportMetric(float64(full)/float64(n)/float64(limit), "share-of-limit")
	}
	b.ReportMetric(float64(st.RateLimited)/float64(st.Calls), "share-429")
	b.ReportMetric(float64(sum.Failed), "failed-events")
}

// BenchmarkSendCompanies measures Intercom calls per user on the issue's
// mixed workload: each user an identify, a group and two tracks, five
// users to a company. "same" gives every member the company's traits;
// "backfill" gives each member's group its own plan, with Intercom's
// latency (20 ms a call). Each member's group goes to its contact's worker,
// and the workers are hundreds of milliseconds apart by the time they reach
// one company's groups, so the members' upserts hardly ever overlap in
// flight; what merges them is that they are still queued when the first of
// them runs (action.Merges, which simDispatcher turns on as every face
// does). Run with -benchtime=20000x (5,000 users).
func BenchmarkSendCompanies(b *testing.B) {
	for _, tc := range []struct {
		name    string
		plans   int // distinct plans among a company's members
		latency time.Duration
	}{{"same", 1, 0}, {"backfill", 5, 20 * time.Millisecond}} {
		b.Run(tc.name, func(b *testing.B) {
			opts := simulator.Options{Token: "tok", RateLimit: 1 << 30, MaxRequests: 1000}
			if tc.latency > 0 {
				opts.Faults = simulator.Faults{SlowRate: 1, SlowDelay: tc.latency}
			}
			sim := simulator.NewServer(opts)
			defer sim.Close()
			d, client := simDispatcher(b, sim, rest.Config{}, 16, nil)
			users := max(b.N/4, 5)
			var in strings.Builder
			for step := range 4 {
				for u := range users {
					switch step {
					case 0:
						fmt.Fprintf(&in, `{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com","name":"User %d"},"timestamp":"2024-01-01T00:00:00Z"}`+"\n", u, u, u)
					case 1:
						fmt.Fprintf(&in, `{"type":"group","userId":"u%d","groupId":"g%d","traits":{"name":"Company %d","plan":"plan-%d"}}`+"\n", u, u/5, u/5, u%tc.plans)
					default:
						fmt.Fprintf(&in, `{"type":"track","userId":"u%d","event":"Step %d","timestamp":"2024-01-01T00:00:0%dZ"}`+"\n", u, step, step)
					}
				}
			}
			b.ResetTimer()
			sum, err := d.Run(context.Background(), delivery.NewLineSource("bench", strings.NewReader(in.String())))
			b.StopTimer()
			if err != nil || sum.Failed > 0 {
				b.Fatalf("%+v, %v", sum, err)
			}
			st := client.Stats()
			b.ReportMetric(float64(st.Calls)/float64(users), "calls/user")
			b.ReportMetric(float64(st.Endpoints["POST /companies"])/float64(users/5), "upserts/company")
			b.ReportMetric(float64(sum.Events)/sum.Elapsed.Seconds(), "events/s")
		})
	}
}
