package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/checkpoint"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// TestSendStopsOnSignalAndResumes: SIGINT or SIGTERM in the middle of a
// send of 2,000 events. The run stops reading, lets the requests in flight
// finish, prints its summary and how to resume, and exits 130 with nothing
// dead-lettered; `send --resume` sends the rest, and Intercom ends exactly
// as after a clean run (no event lost, none stored twice).
func TestSendStopsOnSignalAndResumes(t *testing.T) {
	events := workload(2000)
	want := cleanState(t, events)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, "events.ndjson", events)
			sim := simulator.NewServer(simulator.Options{})
			defer sim.Close()
			// Intercom takes 300 requests, then holds the others until the
			// stop has begun: the signal comes mid-run whatever the
			// machine's speed.
			ic := newFront(t, sim, 300)
			cpName := checkpoint.Name([]string{path}) // named after its input
			args := []string{"send", "--api-base", ic.URL(), "--concurrency", "4", "events.ndjson"}
			p := start(t, dir, args...)
			waitFor(t, 20*time.Second, "a request held after the first 300", func() bool { return ic.Stalled() > 0 || !p.running() })
			p.signal(sig)
			p.waitForStderr(t, 20*time.Second, ": stopping: no more events are read;")
			ic.Release()
			code := p.wait(20 * time.Second)
			errOut := p.stderr.String()
			name := map[syscall.Signal]string{syscall.SIGINT: "interrupt (SIGINT)", syscall.SIGTERM: "terminated (SIGTERM)"}[sig]
			for _, line := range []string{
				"send: " + name + ": stopping: no more events are read; the requests in flight may take up to 30s (--shutdown-timeout); a second signal aborts them\n",
				"send: stopped by " + name + ": ",
				"  events.ndjson: settled up to line ",
				"send: checkpoint: " + cpName + "; continue with: intercom-actions send --resume --api-base " + ic.URL() + " --concurrency 4 events.ndjson\n",
			} {
				if !strings.Contains(errOut, line) {
					t.Errorf("stderr lacks %q:\n%s", line, errOut)
				}
			}
			if code != 130 || !strings.Contains(errOut, "\nactions: ") {
				t.Fatalf("exit %d, want 130 with a summary; stderr:\n%s", code, errOut)
			}
			if _, err := os.Stat(filepath.Join(dir, "dead-letter.ndjson")); err == nil {
				dl, _ := os.ReadFile(filepath.Join(dir, "dead-letter.ndjson"))
				t.Errorf("a graceful stop dead-lettered:\n%s", dl)
			}
			var read, settled, left int
			if _, err := fmt.Sscanf(errOut[strings.Index(errOut, "send: stopped by "+name+": ")+len("send: stopped by "+name+": "):],
				"%d events read, %d settled (sent, skipped or dead-lettered), %d left for --resume", &read, &settled, &left); err != nil || settled == 0 || settled == 2000 || read != settled+left {
				t.Errorf("stop report: read %d, settled %d, left %d (%v)", read, settled, left, err)
			}

			resumed := start(t, dir, "send", "--resume", "--api-base", sim.URL(), "--concurrency", "4", path)
			if code := resumed.wait(60 * time.Second); code != 0 {
				t.Fatalf("resume: exit %d\n%s", code, resumed.stderr.String())
			}
			if !strings.Contains(resumed.stderr.String(), fmt.Sprintf("send: %d events: %d sent", 2000-settled, 2000-settled)) {
				t.Errorf("resume sent something else than the %d events not settled:\n%s", 2000-settled, resumed.stderr.String())
			}
			if got := canonical(t, sim.State()); got != want {
				t.Errorf("state after stop and resume differs from a clean run's")
			}
			if _, err := os.Stat(filepath.Join(dir, cpName)); !os.IsNotExist(err) {
				t.Errorf("the checkpoint of a finished run is left behind (%v)", err)
			}
		})
	}
}

// TestSendSecondSignalAborts: a second signal while the requests in flight
// hang cuts them off: they are dead-lettered with outcome unknown (Intercom
// may have applied them), and the summary says so.
func TestSendSecondSignalAborts(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "events.ndjson", workload(100))
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	front := newFront(t, sim, 0) // every delivery is held: in flight until cut off
	p := start(t, dir, "send", "--api-base", front.URL(), "--concurrency", "2", "events.ndjson")
	waitFor(t, 20*time.Second, "2 requests in flight", func() bool { return front.Stalled() >= 2 })
	p.signal(syscall.SIGINT)
	waitFor(t, 30*time.Second, "the stopping message", func() bool { return strings.Contains(p.stderr.String(), "stopping") })
	p.signal(syscall.SIGINT)
	code := p.wait(20 * time.Second)
	errOut := p.stderr.String()
	for _, line := range []string{
		"send: interrupt (SIGINT) again: aborting: the requests in flight are cut off\n",
		"send: 2 actions were cut off mid-request: their outcome is unknown (Intercom may have applied them); they are in the dead letters with \"outcome\":\"unknown\": check before sending them again\n",
		"  2 × rule \"Identify Contact\": outcome unknown (cut off by the stop)\n",
	} {
		if !strings.Contains(errOut, line) {
			t.Errorf("stderr lacks %q:\n%s", line, errOut)
		}
	}
	if code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
	dl, _ := os.ReadFile(filepath.Join(dir, "dead-letter.ndjson"))
	if n := strings.Count(string(dl), `"outcome":"unknown"`); n != 2 || strings.Count(string(dl), "\n") != 2 {
		t.Errorf("dead letters, want 2 with outcome unknown:\n%s", dl)
	}
}

// TestSendShutdownTimeoutCutsOff: requests that do not finish within
// --shutdown-timeout after SIGTERM are cut off as outcome unknown.
func TestSendShutdownTimeoutCutsOff(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "events.ndjson", workload(100))
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	front := newFront(t, sim, 0) // every delivery is held: in flight until cut off
	p := start(t, dir, "send", "--api-base", front.URL(), "--concurrency", "1", "--shutdown-timeout", "300ms", "events.ndjson")
	waitFor(t, 20*time.Second, "a request in flight", func() bool { return front.Stalled() >= 1 })
	p.signal(syscall.SIGTERM)
	code := p.wait(20 * time.Second)
	errOut := p.stderr.String()
	if code != 130 || !strings.Contains(errOut, "send: the requests in flight did not finish within 300ms (--shutdown-timeout): cutting them off\n") ||
		!strings.Contains(errOut, "send: 1 actions were cut off mid-request") {
		t.Errorf("exit %d; stderr:\n%s", code, errOut)
	}
}

// TestSendResumesAfterSIGKILL: a run killed outright resumes from the
// checkpoint journal it kept while it ran. Only the events in flight at
// the kill can be sent again (at-least-once); Intercom ignores a data event
// identical to one it stored, so it ends as after a clean run.
func TestSendResumesAfterSIGKILL(t *testing.T) {
	events := workload(2000)
	want := cleanState(t, events)
	dir := t.TempDir()
	writeFile(t, dir, "events.ndjson", events)
	ic := simulator.NewServer(simulator.Options{Faults: simulator.Faults{SlowRate: 1, SlowDelay: 2 * time.Millisecond}})
	defer ic.Close()
	args := []string{"send", "--api-base", ic.URL(), "--concurrency", "4", "events.ndjson"}
	p := start(t, dir, args...)
	// Kill it while data events are being sent.
	waitFor(t, 20*time.Second, "100 data events", func() bool { return len(ic.State().Events) >= 100 || !p.running() })
	p.signal(syscall.SIGKILL)
	p.wait(30 * time.Second)
	sentBefore := len(ic.Requests())
	eventsBefore := len(ic.State().Events)

	ic.SetFaults(simulator.Faults{})
	resumed := start(t, dir, append([]string{"send", "--resume"}, args[1:]...)...)
	if code := resumed.wait(60 * time.Second); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, resumed.stderr.String())
	}
	if got := canonical(t, ic.State()); got != want {
		t.Errorf("state after kill and resume differs from a clean run's")
	}
	t.Logf("%d requests before the kill; %d data events re-sent by the resume and ignored as duplicates; resume: %s",
		sentBefore, ic.DuplicateEvents(), firstLine(resumed.stderr.String()))
	// Re-sent are the events in flight at the kill (at most 4, the
	// concurrency) and those settled whose line the journal's writer had
	// not yet appended: how many depends on how far behind it was, so on the
	// machine's speed. What does not: the resume started from the journal,
	// not over, which would re-send every data event stored before the kill.
	if d := ic.DuplicateEvents(); d >= eventsBefore {
		t.Errorf("%d data events re-sent of the %d stored before the kill: the resume started over", d, eventsBefore)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestSendSaysAtOnceWhenIntercomIsUnreachable: a mistyped --api-base port
// is reported within seconds, while the retries go on, not after them.
func TestSendSaysAtOnceWhenIntercomIsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close() // nobody listens there
	dir := t.TempDir()
	writeFile(t, dir, "events.ndjson", workload(10))
	begin := time.Now()
	p := start(t, dir, "send", "--api-base", base, "events.ndjson")
	want := "send: cannot reach Intercom at " + base + ": connection refused; retrying (check --api-base or --region; Ctrl-C stops and keeps the checkpoint)\n"
	waitFor(t, 30*time.Second, "the unreachable message", func() bool { return strings.Contains(p.stderr.String(), want) })
	p.signal(syscall.SIGINT) // the stop ends the retries' waits: what waited is left for --resume
	if code := p.wait(20 * time.Second); code != 130 {
		t.Errorf("exit %d, want 130; stderr:\n%s", code, p.stderr.String())
	}
	// Said once, not at every retry (a few a millisecond); again only every
	// rest.UnreachableEvery, which a slow machine may reach.
	if n, most := strings.Count(p.stderr.String(), "cannot reach"), 1+int(time.Since(begin)/rest.UnreachableEvery); n < 1 || n > most {
		t.Errorf("said %d times, want once (at most %d in the %v the run took); stderr:\n%s", n, most, time.Since(begin), p.stderr.String())
	}
	// What never reached Intercom is not "outcome unknown": it is left for --resume.
	errOut := p.stderr.String()
	var read, settled, left int
	i := strings.Index(errOut, "send: stopped by interrupt (SIGINT): ")
	if i < 0 {
		t.Fatalf("no stop report:\n%s", errOut)
	}
	if _, err := fmt.Sscanf(errOut[i+len("send: stopped by interrupt (SIGINT): "):], "%d events read, %d settled (sent, skipped or dead-lettered), %d left for --resume", &read, &settled, &left); err != nil || read == 0 || settled != 0 || left != read {
		t.Errorf("stop report: %d read, %d settled, %d left (%v):\n%s", read, settled, left, err, errOut)
	}
	if strings.Contains(errOut, "outcome unknown") {
		t.Errorf("requests refused before reaching Intercom were reported as outcome unknown:\n%s", errOut)
	}
}

// TestSendDeadLettersOnceAcrossSIGKILL: send is killed (SIGKILL) after an
// event's dead letter is written and before the event's settle is
// recorded in the checkpoint (a test hook holds it there). `send --resume`
// sends the event again, Intercom refuses it again, and its dead letter
// is not written twice: the dead-letter file holds one per failure, and
// Intercom ends as after a clean run.
func TestSendDeadLettersOnceAcrossSIGKILL(t *testing.T) {
	ic, want := cappedIntercom(t)
	dir := t.TempDir()
	writeFile(t, dir, "events.ndjson", capped)
	args := []string{"send", "--api-base", ic.URL(), "--concurrency", "1", "events.ndjson"}
	p := startEnv(t, dir, []string{holdAfterDeadLetterEnv + "=1"}, args...)
	p.waitForStderr(t, 30*time.Second, holdingLine)
	p.signal(syscall.SIGKILL)
	p.wait(30 * time.Second)

	resumed := start(t, dir, append([]string{"send", "--resume"}, args[1:]...)...)
	if code := resumed.wait(60 * time.Second); code != 1 {
		t.Fatalf("resume: exit %d, want 1 (dead letters)\n%s", code, resumed.stderr.String())
	}
	if !strings.Contains(resumed.stderr.String(), "send: dead-letter.ndjson holds 1 dead letters of events the stopped run did not settle") {
		t.Errorf("the resume does not say it found the dead letter:\n%s", resumed.stderr.String())
	}
	data, _ := os.ReadFile(filepath.Join(dir, "dead-letter.ndjson"))
	var refs []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var dl struct{ Ref string }
		json.Unmarshal([]byte(l), &dl)
		refs = append(refs, dl.Ref)
	}
	checkOnePerFailure(t, refs, "events.ndjson:%d", string(data))
	if got := canonical(t, ic.State()); got != want {
		t.Errorf("Intercom after the kill and the resume differs from a clean run's")
	}
}
