package cli

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// BenchmarkConsume: events/s through consume processes (the real binary)
// reading a 4-partition topic of an in-process broker (kfake) and sending
// to an unthrottled in-process simulator, for one and two processes in one
// group. The clock runs from the first event written (the members already
// own their partitions) to the last one committed. Run with -benchtime=1x.
func BenchmarkConsume(b *testing.B) {
	const n = 20000
	events := workload(n)
	for _, procs := range []int{1, 2} {
		b.Run(fmt.Sprintf("processes=%d", procs), func(b *testing.B) {
			for range b.N {
				c := newKafka(b, 4)
				sim := simulator.NewServer(simulator.Options{MaxRequests: 1000})
				dir := b.TempDir()
				var ps []*proc
				for range procs {
					ps = append(ps, start(b, dir, consumeArgs(c, sim.URL(), "--concurrency", "8")...))
				}
				waitFor(b, 20*time.Second, "the members to share the partitions", func() bool {
					var all []string
					for _, p := range ps {
						if p.owned() == "" {
							return false
						}
						all = append(all, strings.Split(p.owned(), ",")...)
					}
					return len(all) == 4
				})
				begin := time.Now()
				produceEvents(b, c, events)
				waitFor(b, 5*time.Minute, "every event to be committed", func() bool { return lag(b, c, "g") == 0 })
				elapsed := time.Since(begin)
				for _, p := range ps {
					p.signal(syscall.SIGTERM)
					if code := p.wait(30 * time.Second); code != 0 {
						b.Fatalf("exit %d\n%s", code, p.stderr.String())
					}
				}
				sim.Close()
				b.ReportMetric(n/elapsed.Seconds(), "events/s")
				b.ReportMetric(elapsed.Seconds(), "s")
			}
		})
	}
}

// BenchmarkConsumeRateLimited: two consume processes against one
// simulator allowing 167 requests per 1-second window (Intercom's 1,000 a
// minute, in windows 10 times shorter), with a backlog: the share of
// each window's limit they use together, and the share of answers that
// were 429, over 4 whole windows.
func BenchmarkConsumeRateLimited(b *testing.B) {
	const limit, windows = 167, 4
	events := workload(5000)
	for range b.N {
		c := newKafka(b, 4)
		sim := simulator.NewServer(simulator.Options{RateLimit: limit, Window: time.Second})
		dir := b.TempDir()
		var ps []*proc
		for range 2 {
			ps = append(ps, start(b, dir, consumeArgs(c, sim.URL(), "--concurrency", "8")...))
		}
		waitFor(b, 20*time.Second, "the members to share the partitions", func() bool {
			return ps[0].owned() != "" && ps[1].owned() != "" && len(strings.Split(ps[0].owned()+","+ps[1].owned(), ",")) == 4
		})
		produceEvents(b, c, events)
		// One window to get going, then whole windows from a boundary.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(2 * time.Second)))
		sim.ResetRequests()
		time.Sleep(windows * time.Second)
		var ok, limited, other int
		for _, r := range sim.Requests() {
			switch {
			case r.Status == http.StatusTooManyRequests:
				limited++
			case r.Status >= 200 && r.Status < 500:
				ok++
			case r.Status != 0:
				other++
			}
		}
		for _, p := range ps {
			p.signal(syscall.SIGTERM)
			p.wait(30 * time.Second)
		}
		sim.Close()
		b.ReportMetric(100*float64(ok)/(limit*windows), "%limit")
		b.ReportMetric(100*float64(limited)/float64(ok+limited), "%429")
		if other > 0 {
			b.Errorf("%d answers neither 2xx/4xx nor 429", other)
		}
	}
}
