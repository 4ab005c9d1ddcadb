package cli

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// batches cuts NDJSON events into /v1/batch bodies of n events, each with
// a messageId made from its line, and no sentAt (so timestamps are kept
// and a run's final state can be compared with a clean run's).
func batches(events string, n int) []string {
	lines := strings.Split(strings.TrimSpace(events), "\n")
	var out []string
	for i := 0; i < len(lines); i += n {
		var b strings.Builder
		b.WriteString(`{"batch":[`)
		for j := i; j < min(i+n, len(lines)); j++ {
			if j > i {
				b.WriteByte(',')
			}
			l := lines[j]
			b.WriteString(l[:len(l)-1] + fmt.Sprintf(`,"messageId":"line-%d"}`, j+1))
		}
		b.WriteString(`]}`)
		out = append(out, b.String())
	}
	return out
}

// loadClient posts batches in order to the current server, each until it
// is acknowledged (200), retrying the same batch — same messageIds — on
// any failure, as Segment's libraries do. Setting halt stops it before its
// next try (done is closed then): the batches acknowledged are the first
// acked of them.
type loadClient struct {
	base  atomic.Value // string: where the server is now
	acked atomic.Int64
	halt  atomic.Bool
	pause time.Duration
	done  chan struct{}
}

func newLoadClient(base string, pause time.Duration) *loadClient {
	c := &loadClient{pause: pause, done: make(chan struct{})}
	c.base.Store(base)
	return c
}

func (c *loadClient) run(t testing.TB, bodies []string) {
	defer close(c.done)
	hc := &http.Client{Timeout: 10 * time.Second}
	for _, body := range bodies {
		for {
			if c.halt.Load() {
				return
			}
			resp, err := hc.Post(c.base.Load().(string)+"/v1/batch", "application/json", strings.NewReader(body))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
				t.Logf("batch answered %d; retrying", resp.StatusCode)
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.acked.Add(1)
		time.Sleep(c.pause)
	}
}

// TestServeSurvivesSIGKILL: under steady load from a client, serve is
// killed (SIGKILL) three times and restarted on the same data dir. Every
// acknowledged event ends up applied, Intercom's final state equals a
// clean run's, and no data event is stored twice: events whose settling
// the kill lost are sent again, and Intercom ignores a data event
// identical to one it has (modelled in front of the simulator).
func TestServeSurvivesSIGKILL(t *testing.T) {
	events := workload(3000)
	want := cleanState(t, events)
	ic := simulator.NewServer(simulator.Options{})
	defer ic.Close()
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--api-base", ic.URL(), "--concurrency", "4"}
	s := startServe(t, nil, args...)
	bodies := batches(events, 50) // 60 batches
	client := newLoadClient(s.base, 60*time.Millisecond)
	go client.run(t, bodies)
	// Kill it while identifies are sent, then twice while data events are.
	kills := []struct {
		what string
		when func() bool
	}{
		{"10 batches acknowledged", func() bool { return client.acked.Load() >= 10 }},
		{"100 data events", func() bool { return len(ic.State().Events) >= 100 }},
		{"500 data events", func() bool { return len(ic.State().Events) >= 500 }},
	}
	for kill, k := range kills {
		waitFor(t, 60*time.Second, k.what, k.when)
		s.signal(syscall.SIGKILL)
		s.wait(30 * time.Second)
		t.Logf("kill %d (%s): %d of %d batches acknowledged; Intercom has %d requests", kill+1, k.what, client.acked.Load(), len(bodies), len(ic.Requests()))
		s = startServe(t, nil, args...)
		client.base.Store(s.base)
	}
	<-client.done
	waitFor(t, 60*time.Second, "Intercom to hold every event", func() bool { return canonical(t, ic.State()) == want })
	waitForMetrics(t, s.base, "intercom_actions_spool_depth 0", "intercom_actions_dead_letters_total 0")
	// A settle is committed before its worker takes the next event, so a
	// kill can bring back only the events in flight: 4 (--concurrency) a kill.
	t.Logf("%d data events re-sent after a kill and ignored as duplicates by Intercom", ic.DuplicateEvents())
	if d := ic.DuplicateEvents(); d > 3*4 {
		t.Errorf("%d data events sent twice: more than were in flight at the kills", d)
	}
	s.stop(t)
}

// TestServeStopsOnSignalAndTheNextStartFinishes: SIGTERM and SIGINT while
// serve is sending a backlog to a slow Intercom. It stops taking events,
// lets the requests in flight finish, logs its summary with what is left in
// the spool, and exits 0; the next start sends the rest, and Intercom ends
// as after a clean run.
func TestServeStopsOnSignalAndTheNextStartFinishes(t *testing.T) {
	events := workload(1000)
	want := cleanState(t, events)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			sim := simulator.NewServer(simulator.Options{})
			defer sim.Close()
			// Intercom takes 200 requests, then holds the others until the
			// stop has begun: the signal comes mid-backlog whatever the
			// machine's speed.
			ic := newFront(t, sim, 200)
			dir := t.TempDir()
			args := func(api string) []string { return []string{"--data-dir", dir, "--api-base", api, "--concurrency", "4"} }
			s := startServe(t, nil, args(ic.URL())...)
			for _, b := range batches(events, 100) {
				if code, body, _ := post(t, s.base+"/v1/batch", b); code != 200 {
					t.Fatalf("%d %s", code, body)
				}
			}
			waitFor(t, 30*time.Second, "a request held after the first 200", func() bool { return ic.Stalled() > 0 })
			s.signal(sig)
			s.waitForStderr(t, 30*time.Second, `msg="serve: stopping:`)
			ic.Release()
			if code := s.wait(30 * time.Second); code != 0 {
				t.Fatalf("exit %d after %s:\n%s", code, sig, s.stderr.String())
			}
			log := s.stderr.String()
			name := signalName(sig)
			if !strings.Contains(log, `msg="serve: stopping: no more events are taken; the requests to Intercom in flight may finish; a second signal aborts them" signal="`+name+`"`) ||
				!strings.Contains(log, `msg="serve: stopped" events_settled=`) || !strings.Contains(log, "dead_lettered=0 outcome_unknown=0") {
				t.Errorf("log:\n%s", log)
			}
			var settled, left int
			fmt.Sscanf(log[strings.Index(log, "events_settled="):], "events_settled=%d", &settled)
			fmt.Sscanf(log[strings.Index(log, "left_in_spool="):], "left_in_spool=%d", &left)
			if settled == 0 || left == 0 || settled+left != 1000 {
				t.Errorf("settled %d, left %d, of 1000", settled, left)
			}

			s = startServe(t, nil, args(sim.URL())...)
			if !strings.Contains(s.stderr.String(), fmt.Sprintf("spool_events=%d ", left)) {
				t.Errorf("restart does not find the %d events left:\n%s", left, s.stderr.String())
			}
			waitFor(t, 60*time.Second, "the rest sent", func() bool { return canonical(t, sim.State()) == want })
			s.stop(t)
		})
	}
}

// TestServeSecondSignalAborts: a second signal while requests to Intercom
// hang cuts them off: dead-lettered with outcome unknown, exit 130.
func TestServeSecondSignalAborts(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	front := newFront(t, sim, 0) // every delivery is held: in flight until cut off
	dir := t.TempDir()
	s := startServe(t, nil, "--data-dir", dir, "--api-base", front.URL(), "--concurrency", "2")
	for _, b := range batches(workload(100), 100) {
		post(t, s.base+"/v1/batch", b)
	}
	waitFor(t, 20*time.Second, "2 requests in flight", func() bool { return front.Stalled() >= 2 })
	s.signal(syscall.SIGTERM)
	waitFor(t, 30*time.Second, "stopping", func() bool { return strings.Contains(s.stderr.String(), "serve: stopping") })
	s.signal(syscall.SIGTERM)
	if code := s.wait(20 * time.Second); code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
	log := s.stderr.String()
	if !strings.Contains(log, `msg="serve: aborting: the requests in flight are cut off" signal="terminated (SIGTERM)"`) || !strings.Contains(log, "outcome_unknown=2 left_in_spool=98") {
		t.Errorf("log:\n%s", log)
	}
	code, out, _ := runCLI(t, "", "deadletter", "list", "--data-dir", dir)
	if code != 0 || strings.Count(out, "[outcome unknown]") != 2 {
		t.Errorf("dead letters:\n%s", out)
	}
	code, out, _ = runCLI(t, "", "deadletter", "replay", "--data-dir", dir)
	if code != 0 || out != "replayed 0 dead letters into the queue (serve is not running: they are sent at its next start)\nnot replayed: 2 with outcome unknown (Intercom may have applied them; --include-unknown replays them): 1 2\n" {
		t.Errorf("replay: %d\n%s", code, out)
	}
}

// capped are events of three users, three of whose tracks are of a second
// event name, past a workspace's cap of one (simulator.Options
// MaxEventNames 1): Intercom refuses them (422) each time, and each is a
// dead letter. Sent one at a time (--concurrency 1), the first name is
// "Signed In" on every run.
const capped = `{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"},"timestamp":"2024-03-01T10:00:00Z"}
{"type":"identify","userId":"u2","traits":{"email":"u2@example.com"},"timestamp":"2024-03-01T10:00:01Z"}
{"type":"track","userId":"u1","event":"Signed In","timestamp":"2024-03-01T10:00:02Z"}
{"type":"track","userId":"u2","event":"Plan Changed","timestamp":"2024-03-01T10:00:03Z"}
{"type":"track","userId":"u2","event":"Signed In","timestamp":"2024-03-01T10:00:04Z"}
{"type":"track","userId":"u1","event":"Plan Changed","timestamp":"2024-03-01T10:00:05Z"}
{"type":"identify","userId":"u3","traits":{"email":"u3@example.com"},"timestamp":"2024-03-01T10:00:06Z"}
{"type":"track","userId":"u3","event":"Plan Changed","timestamp":"2024-03-01T10:00:07Z"}
`

// cappedFailures are the lines of capped that fail.
var cappedFailures = []int{4, 6, 8}

// cappedIntercom returns a simulator with the cap on event names capped
// runs into (closed at the test's end), and the canonical state a clean
// run of capped, one event at a time, leaves in one.
func cappedIntercom(t *testing.T) (*simulator.Server, string) {
	t.Helper()
	opts := simulator.Options{MaxEventNames: 1}
	want := cleanStateWith(t, opts, capped, 1, "--concurrency", "1")
	ic := simulator.NewServer(opts)
	t.Cleanup(ic.Close)
	return ic, want
}

// checkOnePerFailure checks that refs, those of the dead letters kept
// (listed), are one for each line of cappedFailures, as ref (a format
// with the line's number) names it.
func checkOnePerFailure(t *testing.T, refs []string, ref, listed string) {
	t.Helper()
	var want []string
	for _, l := range cappedFailures {
		want = append(want, fmt.Sprintf(ref, l))
	}
	if strings.Join(refs, ", ") != strings.Join(want, ", ") {
		t.Errorf("dead letters of %s, want one of each of %s:\n%s", strings.Join(refs, ", "), strings.Join(want, ", "), listed)
	}
}

// TestServeDeadLettersOnceAcrossSIGKILL: serve is killed (SIGKILL) after
// an event's dead letter is kept and before the event is settled (a test
// hook holds it there), and restarted on the same data dir. The event
// comes again and is refused again, and its dead letter is not kept
// twice: `deadletter list` shows one per failure, and Intercom ends as
// after a clean run.
func TestServeDeadLettersOnceAcrossSIGKILL(t *testing.T) {
	ic, want := cappedIntercom(t)
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--api-base", ic.URL(), "--concurrency", "1"}
	s := startServe(t, []string{holdAfterDeadLetterEnv + "=1"}, args...)
	if code, body, _ := post(t, s.base+"/v1/batch", batches(capped, 100)[0]); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	s.waitForStderr(t, 30*time.Second, holdingLine)
	s.signal(syscall.SIGKILL)
	s.wait(30 * time.Second)

	s = startServe(t, nil, args...)
	waitFor(t, 60*time.Second, "Intercom to hold what a clean run leaves", func() bool { return canonical(t, ic.State()) == want })
	waitForMetrics(t, s.base, "intercom_actions_spool_depth 0", fmt.Sprintf("intercom_actions_dead_letters_total %d", len(cappedFailures)))
	s.stop(t)
	code, out, errOut := runCLI(t, "", "deadletter", "list", "--data-dir", dir)
	var refs []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Split(l, "\t"); len(f) > 2 {
			refs = append(refs, f[2])
		}
	}
	if code != 0 {
		t.Errorf("deadletter list: exit %d\n%s", code, errOut)
	}
	checkOnePerFailure(t, refs, "messageId line-%d", out+errOut)
}
