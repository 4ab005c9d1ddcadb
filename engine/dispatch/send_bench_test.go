package dispatch

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/intercom/intercomtest"
	"github.com/intercom-actions/intercom-actions/rules/defaults"
)

func benchDispatcher(b *testing.B, sim *intercomtest.Server) (*Dispatcher, *intercom.Client) {
	client, err := intercom.New(intercom.Config{
		BaseURL:     sim.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok"}),
	})
	if err != nil {
		b.Fatal(err)
	}
	set, _ := defaults.Load()
	eng, err := engine.Compile(set)
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(Config{Engine: eng, Executor: client, Concurrency: 16})
	if err != nil {
		b.Fatal(err)
	}
	return d, client
}

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
	sim := intercomtest.NewServer(intercomtest.Options{Token: "tok", RateLimit: 1 << 30})
	defer sim.Close()
	d, client := benchDispatcher(b, sim)
	events := workload(max(b.N, 5))
	b.ResetTimer()
	sum, err := d.Run(context.Background(), NewLineSource("bench", strings.NewReader(events)))
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

// BenchmarkSendRateLimited sends to a simulator that allows limit requests
// per 1 s window and reports the achieved request rate as a share of the
// limit (goal ≥ 0.95) and the share of 429 answers (goal < 0.01).
func BenchmarkSendRateLimited(b *testing.B) {
	const limit, window = 200, time.Second
	sim := intercomtest.NewServer(intercomtest.Options{Token: "tok", RateLimit: limit, Window: window})
	defer sim.Close()
	d, client := benchDispatcher(b, sim)
	// About eight windows' worth of calls (1.4 calls per event).
	events := workload(8 * limit * 10 / 14)
	b.ResetTimer()
	sum, err := d.Run(context.Background(), NewLineSource("bench", strings.NewReader(events)))
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := client.Stats()
	perWindow := float64(st.Calls) / (sum.Elapsed.Seconds() / window.Seconds())
	b.ReportMetric(perWindow/limit, "share-of-limit")
	b.ReportMetric(float64(st.RateLimited)/float64(st.Calls), "share-429")
	b.ReportMetric(float64(sum.Failed), "failed-events")
}
