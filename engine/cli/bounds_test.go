package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeRefusesWhileTooManyEventsWait: tracks for contacts that never
// identify wait in memory; once they hold 90% of --waiting-max, serve
// takes no more (503 with a JSON error and Retry-After, /readyz says why)
// instead of letting memory grow (20,000 such tracks of 29 KB took the
// heap to 961 MB).
func TestServeRefusesWhileTooManyEventsWait(t *testing.T) {
	s := startServe(t, nil, "--data-dir", t.TempDir(), "--intercom", "sim", "--contact-wait", "1h", "--concurrency", "1", "--waiting-max", "100KB")
	defer s.stop(t)
	pad := strings.Repeat("x", 20_000)
	var code int
	var body string
	for i := 0; i < 50; i++ {
		code, body, _ = post(t, s.base+"/v1/track", fmt.Sprintf(`{"userId":"never-%d","event":"Viewed","properties":{"pad":%q}}`, i, pad))
		if code == 503 {
			break
		}
		// Each waits before the next comes: the dispatcher parks it.
		waitForMetrics(t, s.base, fmt.Sprintf(`intercom_actions_events_received_total{endpoint="track"} %d`, i+1))
		time.Sleep(20 * time.Millisecond)
	}
	want := `{"success":false,"error":"too many events wait for their contact's identify (90% of --waiting-max 100000 bytes): retry later"}` + "\n"
	if code != 503 || body != want {
		t.Fatalf("tracks for contacts that never identify: last %d %s", code, body)
	}
	if code, body := get(t, s.base+"/readyz"); code != 503 || body != `{"status":"waiting_full","detail":"too many events wait for their contact's identify (90% of --waiting-max 100000 bytes): retry later"}`+"\n" {
		t.Errorf("readyz: %d %s", code, body)
	}
}

// TestServeOnAFullDisk: serve's data dir is a small tmpfs. Events are
// acknowledged, then the disk fills while they wait for their contact:
// their dead letters cannot be written. /readyz says why, the events stay
// in the spool (used to be settled anyway: lost), and once the disk has
// room after a restart they are dead-lettered, each once. Needs root to
// mount a tmpfs; skipped otherwise (the spool's TestFullDiskLosesNoAckedEvent
// injects the write error and always runs).
func TestServeOnAFullDisk(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() }) // before TempDir's, after serve is killed
	const n = 20
	s := startServe(t, nil, "--data-dir", dir, "--intercom", "sim", "--contact-wait", "6s") // the disk fills meanwhile
	for i := range n {
		if code, body, _ := post(t, s.base+"/v1/track", fmt.Sprintf(`{"userId":"ghost-%d","event":"Viewed","messageId":"m-%d"}`, i, i)); code != 200 {
			t.Fatalf("track %d: %d %s", i, code, body)
		}
	}
	// Fill the disk, so that no dead letter can be written.
	filler := filepath.Join(dir, "filler")
	exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=64k").Run()
	s.waitForStderr(t, 30*time.Second, `msg="serve: the spool cannot be written: nothing is taken or settled until it can (every event stays in the spool); /readyz says not ready" error="spool: write: `)
	waitForMetrics(t, s.base, "\nintercom_actions_spool_write_failing 1\n")
	code, body := get(t, s.base+"/readyz")
	if code != 503 || !strings.HasPrefix(body, `{"status":"write_failed","detail":"the spool cannot be written (spool: write: `) || !strings.HasSuffix(body, `): events are neither taken nor settled until it can; free the disk"}`+"\n") {
		t.Errorf("readyz on a full disk: %d %s", code, body)
	}
	s.stop(t)
	os.Remove(filler)
	s = startServe(t, nil, "--data-dir", dir, "--intercom", "sim", "--contact-wait", "10ms")
	var left int
	fmt.Sscanf(s.stderr.String()[strings.Index(s.stderr.String(), "spool_events="):], "spool_events=%d", &left)
	if left == 0 {
		t.Errorf("the restart finds none of the acknowledged events left:\n%s", s.stderr.String())
	}
	// Every event is a dead letter: those written before the disk filled,
	// and those the restart made. (One written just before the disk
	// filled, whose settle could not be, is made again: twice, not lost.)
	var last string
	defer func() { t.Logf("last list:\n%s\nserve:\n%s", last, s.stderr.String()) }()
	waitFor(t, 30*time.Second, "a dead letter of every event", func() bool {
		_, last, _ = runCLI(t, "", "deadletter", "list", "--data-dir", dir)
		refs := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(last), "\n") {
			if f := strings.Split(line, "\t"); len(f) > 2 {
				refs[f[2]] = true
			}
		}
		return len(refs) == n
	})
	if code, body := get(t, s.base+"/readyz"); code != 200 {
		t.Errorf("readyz with room again: %d %s", code, body)
	}
	waitForMetrics(t, s.base, "\nintercom_actions_spool_write_failing 0\n")
	s.stop(t)
}
