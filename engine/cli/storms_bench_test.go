package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/internal/auth"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// Issue 17's storms at full scale: serve as a subprocess with its default
// retries, backoff and token recheck, against a simulator on 127.0.0.1,
// under a client posting a few hundred events a second. The tests
// TestServePausesOnARefusedToken and TestServeWaitsOutA5xxStorm are the
// same scenarios scaled down. .ci/storms runs these.
const (
	stormFor    = time.Minute // how long Intercom refuses the token, or fails
	stormEvents = 40_000      // more than the client posts before the storm ends
	stormBatch  = 20          // events a /v1/batch
	stormPause  = 50 * time.Millisecond
	stormWarmup = 150 // batches acknowledged (and being sent) before the storm
)

// storm is how one scenario makes Intercom fail and recover.
type storm struct {
	sim    simulator.Options
	args   []string // serve's, besides --data-dir and --api-base
	begin  func(sim *simulator.Server)
	end    func(sim *simulator.Server, s *served)
	paused string // the /metrics sample that is 1 while delivery waits for it
}

// BenchmarkStormRefusedToken: under load, Intercom refuses serve's token
// (revoked) for a minute; then the token file gets a new token and serve
// gets SIGHUP (sighup), or nothing more is done and serve's own check of
// the token every minute (--token-recheck's default) finds it (recheck:
// that check comes a minute after the pause began, about when the token
// is written, so s-to-resume is near 0 or near 60, as it falls).
// Delivery pauses, serve keeps taking events, nothing is dead-lettered;
// afterwards every acknowledged event is delivered once and Intercom ends
// as after a clean run. Figures: events accepted during the pause, calls
// Intercom got during it, seconds from the good token to delivery resumed
// and to everything delivered (the client stops posting at the good
// token), dead letters.
func BenchmarkStormRefusedToken(b *testing.B) {
	for _, hup := range []bool{true, false} {
		b.Run(map[bool]string{true: "sighup", false: "recheck"}[hup], func(b *testing.B) {
			for range b.N {
				tokenFile := filepath.Join(b.TempDir(), "token.json")
				saveToken(b, tokenFile, "first")
				runStorm(b, storm{
					sim:   simulator.Options{Token: "first"},
					args:  []string{"--token-file", tokenFile},
					begin: func(sim *simulator.Server) { sim.SetToken("second") },
					end: func(_ *simulator.Server, s *served) {
						saveToken(b, tokenFile, "second")
						if hup {
							s.signal(syscall.SIGHUP)
						}
					},
					paused: `intercom_actions_delivery_paused{reason="token refused"}`,
				})
			}
		})
	}
}

// BenchmarkStormOutage: under load, Intercom answers every call with 502
// (then 500, 503, or drops every connection) for a minute, longer than
// serve's retries (8, from 200 ms, up to 30 s apart). Serve pauses
// delivery once a call's retries are used up, keeps taking events,
// dead-letters nothing, and afterwards delivers every acknowledged event
// once: Intercom ends as after a clean run. Figures: calls Intercom got
// during the storm (how hard serve hammers it while it is down), seconds
// from the storm's start to the pause, seconds from its end to the first
// answer and to everything delivered (the client stops posting at the
// storm's end), events accepted during it, dead letters.
func BenchmarkStormOutage(b *testing.B) {
	for _, o := range []simulator.Outage{{Status: 502}, {Status: 500}, {Status: 503}, {Drop: true}} {
		name := strconv.Itoa(o.Status)
		if o.Drop {
			name = "drop"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				runStorm(b, storm{
					begin:  func(sim *simulator.Server) { sim.SetOutage(o) },
					end:    func(sim *simulator.Server, _ *served) { sim.SetOutage(simulator.Outage{}) },
					paused: `intercom_actions_delivery_paused{reason="intercom unreachable"}`,
				})
			}
		})
	}
}

// runStorm runs a storm under load, fails the benchmark unless every
// acknowledged event is delivered once with no dead letter and Intercom
// ends as after a clean run, and reports the figures.
func runStorm(b *testing.B, st storm) {
	b.Helper()
	events := strings.SplitAfter(workload(stormEvents), "\n")
	var calls atomic.Int64
	opts := st.sim
	opts.MaxRequests = 1000 // the log is not read; calls counts them
	opts.Observe = func(simulator.Exchange) { calls.Add(1) }
	sim := simulator.NewServer(opts)
	defer sim.Close()
	s := startServe(b, nil, append([]string{"--data-dir", b.TempDir(), "--api-base", sim.URL()}, st.args...)...)
	client := newLoadClient(s.base, stormPause)
	b.Cleanup(func() { client.halt.Store(true); <-client.done })
	loadBegan := time.Now()
	go client.run(b, batches(strings.Join(events, ""), stormBatch))
	waitFor(b, 2*time.Minute, "the warm-up batches", func() bool { return client.acked.Load() >= stormWarmup })

	began, callsBefore, ackedBefore := time.Now(), calls.Load(), client.acked.Load()
	st.begin(sim)
	toPause := time.Duration(-1)
	for time.Since(began) < stormFor {
		m := metricsNow(b, s.base)
		noDeadLetters(b, m, "during the storm")
		if toPause < 0 && sample(m, st.paused) == 1 {
			toPause = time.Since(began)
		}
		select {
		case <-client.done:
			b.Fatalf("the client posted all %d events before the storm ended: raise stormEvents", stormEvents)
		case <-time.After(100 * time.Millisecond):
		}
	}
	st.end(sim, s)
	ended := time.Now()
	callsIn, accepted := calls.Load()-callsBefore, (client.acked.Load()-ackedBefore)*stormBatch
	client.halt.Store(true)
	<-client.done
	loadFor := time.Since(loadBegan)
	total := int(client.acked.Load()) * stormBatch
	if toPause < 0 && st.sim.Token != "" {
		b.Fatalf("delivery never said it paused for the refused token (%s)", st.paused)
	}

	// Drained: every acknowledged event sent, the spool empty.
	toResume := time.Duration(-1)
	var dead float64
	for deadline := ended.Add(10 * time.Minute); ; {
		m := metricsNow(b, s.base)
		dead = noDeadLetters(b, m, "after the storm")
		if toResume < 0 && toPause >= 0 && sample(m, st.paused) == 0 {
			toResume = time.Since(ended)
		}
		sent := sample(m, `intercom_actions_events_dispatched_total{result="sent"}`)
		if sent == float64(total) && sample(m, "intercom_actions_spool_depth") == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("10 min after the storm, %v of %d events sent, spool depth %v; serve's log ends:\n%s",
				sent, total, sample(m, "intercom_actions_spool_depth"), tail(s.stderr.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	toDrain := time.Since(ended)
	s.stop(b)
	if !strings.Contains(s.stderr.String(), "dead_lettered=0") {
		b.Fatalf("serve's summary lacks dead_lettered=0:\n%s", tail(s.stderr.String(), 20))
	}
	if n := sim.DuplicateEvents(); n != 0 {
		b.Fatalf("%d data events sent twice", n)
	}
	if got, want := canonical(b, sim.State()), cleanState(b, strings.Join(events[:total], "")); got != want {
		b.Fatalf("Intercom's final state differs from a clean run's of the %d events acknowledged:\n%s", total, firstLineDiff(got, want))
	}
	b.ReportMetric(0, "ns/op") // the whole run's time says nothing
	b.ReportMetric(float64(total)/loadFor.Seconds(), "load-events/s")
	b.ReportMetric(float64(accepted), "events-accepted-in-storm")
	b.ReportMetric(float64(callsIn), "calls-in-storm")
	b.ReportMetric(seconds(toPause), "s-to-pause")
	b.ReportMetric(seconds(toResume), "s-to-resume")
	b.ReportMetric(toDrain.Seconds(), "s-to-drain")
	b.ReportMetric(dead, "dead-letters")
	if toPause < 0 {
		b.Logf("delivery did not pause during the storm: every call was still within its retries (s-to-pause, s-to-resume -1)")
	}
}

// BenchmarkServeIdleConnections: 20,000 keep-alive connections, each left
// idle after one request, against serve with its default
// --max-connections (1,024, evicting the longest idle at the cap), while
// a probe asks /healthz on a new connection every 50 ms, as a load
// balancer would, during the flood and for 100 probes after it. Every
// probe is answered 200, serve keeps at most its cap open, and /metrics
// counts the idle connections it closed to make room. Figures: the
// probes' latency (p50, p99, max), the descriptors serve holds with all
// 20,000 open (/proc/PID/fd), connections evicted and refused, seconds
// to open them. The connections are held by processes of this test
// binary, as many as the hard limit of open files asks (a limit of
// 20,000 takes two).
func BenchmarkServeIdleConnections(b *testing.B) {
	const idle = 20_000
	for range b.N {
		s := startServe(b, nil, "--data-dir", b.TempDir(), "--intercom", "sim")
		p := startProbe(s.base + "/healthz")
		began := time.Now()
		holdIdle(b, strings.TrimPrefix(s.base, "http://"), idle)
		openFor := time.Since(began)
		after := p.count() + 100
		waitFor(b, 2*time.Minute, "100 probes with every connection open", func() bool { return p.count() >= after })
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
		if err != nil {
			b.Fatal(err)
		}
		m := metricsNow(b, s.base)
		lat, failures := p.stop()
		if len(failures) > 0 {
			b.Fatalf("%d of %d /healthz probes failed, the first: %s", len(failures), len(lat)+len(failures), failures[0])
		}
		if open := sample(m, "intercom_actions_http_connections"); open > 1024 {
			b.Fatalf("serve holds %v connections, over its cap of 1,024", open)
		}
		s.stop(b)
		slices.Sort(lat)
		ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(float64(len(lat)), "probes")
		b.ReportMetric(ms(0.5), "healthz-p50-ms")
		b.ReportMetric(ms(0.99), "healthz-p99-ms")
		b.ReportMetric(ms(1), "healthz-max-ms")
		b.ReportMetric(float64(len(fds)), "serve-fds")
		b.ReportMetric(sample(m, "intercom_actions_http_connections_evicted_total"), "evicted")
		b.ReportMetric(sample(m, "intercom_actions_http_connections_refused_total"), "refused")
		b.ReportMetric(openFor.Seconds(), "s-to-open")
	}
}

// holdEnv, set to "ADDR N", makes this test binary a connection holder
// of BenchmarkServeIdleConnections (see TestMain): it opens N idle
// keep-alive connections to ADDR, says "open N" on stdout, and holds them
// until its stdin closes.
const holdEnv = "INTERCOM_ACTIONS_TEST_HOLD"

// holdIdle starts connection holders (holdEnv) that open n idle
// keep-alive connections to addr between them, and waits until they have;
// they hold them until the benchmark ends. Each holds what fits under the
// hard limit of open files, with room to spare.
func holdIdle(b *testing.B, addr string, n int) {
	b.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	per := int(min(lim.Max, 1<<20)) - 500
	if per < 1000 {
		b.Skipf("the hard limit of open files is %d: too low to hold %d connections in a few processes", lim.Max, n)
	}
	procs := (n + per - 1) / per
	said := make(chan string, procs)
	for i := range procs {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", holdEnv, addr, share(n, procs, i)))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { stdin.Close(); cmd.Wait() })
		go func() {
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			said <- strings.TrimSpace(line)
		}()
	}
	for range procs {
		select {
		case line := <-said:
			if !strings.HasPrefix(line, "open ") {
				b.Fatalf("a connection holder says %q", line)
			}
		case <-time.After(5 * time.Minute):
			b.Fatalf("the connection holders have not opened %d connections after 5 min", n)
		}
	}
}

// holdConnections is a connection holder's work (holdEnv): its exit code.
func holdConnections(spec string) int {
	addr, count, _ := strings.Cut(spec, " ")
	n, err := strconv.Atoi(count)
	if err != nil {
		fmt.Printf("%s=%q: %v\n", holdEnv, spec, err)
		return 2
	}
	conns := make([][]net.Conn, 4) // by four goroutines
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for g := range conns {
		wg.Go(func() {
			for range share(n, len(conns), g) {
				c, err := keepAlive(addr)
				if err != nil {
					errs[g] = fmt.Errorf("after %d connections: %w", len(conns[g]), err)
					return
				}
				conns[g] = append(conns[g], c)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fmt.Println(strings.ReplaceAll(err.Error(), "\n", "; "))
		return 1
	}
	fmt.Println("open", n)
	io.Copy(io.Discard, os.Stdin) // until the benchmark is done with them
	return 0
}

// probe asks a URL on a new connection every 50 ms until stopped.
type probe struct {
	mu       sync.Mutex
	lat      []time.Duration
	failures []string
	quit     chan struct{}
	done     chan struct{}
}

func startProbe(url string) *probe {
	p := &probe{quit: make(chan struct{}), done: make(chan struct{})}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	go func() {
		defer close(p.done)
		for {
			began := time.Now()
			resp, err := hc.Get(url)
			took := time.Since(began)
			p.mu.Lock()
			switch {
			case err != nil:
				p.failures = append(p.failures, err.Error())
			case resp.StatusCode != http.StatusOK:
				p.failures = append(p.failures, resp.Status)
			default:
				p.lat = append(p.lat, took)
			}
			p.mu.Unlock()
			if err == nil {
				resp.Body.Close()
			}
			select {
			case <-p.quit:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return p
}

// count is how many probes were answered or failed so far.
func (p *probe) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lat) + len(p.failures)
}

// stop ends the probes and returns the latencies of those answered 200
// and what went wrong with the others.
func (p *probe) stop() ([]time.Duration, []string) {
	close(p.quit)
	<-p.done
	return p.lat, p.failures
}

// share is part i's share of n cut into parts.
func share(n, parts, i int) int {
	if i < n%parts {
		return n/parts + 1
	}
	return n / parts
}

// saveToken writes token to a token file as 'auth login' saves it.
func saveToken(b *testing.B, path, token string) {
	b.Helper()
	if err := auth.Save(path, &oauth2.Token{AccessToken: token}); err != nil {
		b.Fatal(err)
	}
}

// metricsNow is serve's /metrics now.
func metricsNow(b *testing.B, base string) string {
	b.Helper()
	code, m := get(b, base+"/metrics")
	if code != http.StatusOK {
		b.Fatalf("/metrics: %d %s", code, m)
	}
	return m
}

// sample is the value of the sample named name (with its labels, as
// /metrics writes them) in metrics, or -1 when there is none.
func sample(metrics, name string) float64 {
	i := strings.Index("\n"+metrics, "\n"+name+" ")
	if i < 0 {
		return -1
	}
	v, _, _ := strings.Cut(metrics[i+len(name)+1:], "\n")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return -1
	}
	return f
}

// noDeadLetters fails the benchmark when metrics count a dead letter or
// an event that failed, and returns the dead letters (0).
func noDeadLetters(b *testing.B, metrics, when string) float64 {
	b.Helper()
	dead, failed := sample(metrics, "intercom_actions_dead_letters_total"), sample(metrics, `intercom_actions_events_dispatched_total{result="failed"}`)
	if dead != 0 || failed != 0 {
		b.Fatalf("%s: %v dead letters, %v events failed:\n%s", when, dead, failed, grepLines(metrics, "dead_letters", "dispatched", "paused"))
	}
	return dead
}

// firstLineDiff shows where two long texts first differ, by line.
func firstLineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			lo := max(0, i-5)
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1,
				strings.Join(g[lo:min(len(g), i+6)], "\n      "), strings.Join(w[lo:min(len(w), i+6)], "\n      "))
		}
	}
	return fmt.Sprintf("got %d lines, want %d", len(g), len(w))
}

// seconds is d in seconds, -1 for a moment that did not come (d < 0).
func seconds(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return d.Seconds()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
