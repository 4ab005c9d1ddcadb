package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/checkpoint"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// checkpoints lists the checkpoint files (and their locks) in dir.
func checkpoints(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "send-checkpoint*"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// TestSendRefusedStartLeavesNoCheckpoint: a start refused for its
// settings — no token, a bad region or version, a refused token — leaves no checkpoint behind,
// and the corrected command (without --resume) is accepted and sends
// everything, as a clean run does.
func TestSendRefusedStartLeavesNoCheckpoint(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	events := workload(30)
	writeFile(t, dir, "events.ndjson", events)
	sim := simulator.NewServer(simulator.Options{Token: "right"})
	defer sim.Close()

	t.Setenv("INTERCOM_ACCESS_TOKEN", "right")
	for _, c := range []struct {
		flag, value, want string
	}{
		{"--region", "mars", "send: unknown intercom region \"mars\" (expected one of us, north_america, eu, europe, au, australia)\n"},
		{"--intercom-version", "1.0", "send: --intercom-version \"1.0\": want a version from 2.11 to 2.16 (default 2.16)\n"},
	} {
		code, _, errOut := runCLI(t, "", "send", c.flag, c.value, "events.ndjson")
		if code != 2 || errOut != c.want {
			t.Errorf("%s %s: exit %d, stderr %q", c.flag, c.value, code, errOut)
		}
		if cps := checkpoints(t, dir); len(cps) > 0 {
			t.Errorf("%s %s: left %v behind", c.flag, c.value, cps)
		}
	}

	t.Setenv("INTERCOM_ACCESS_TOKEN", "")
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	code, _, errOut := runCLI(t, "", "send", "--api-base", "https://intercom.invalid", "events.ndjson")
	if code != 2 || !strings.HasPrefix(errOut, "send: no intercom token: set INTERCOM_ACCESS_TOKEN to an access token, or run `intercom-actions auth login`") {
		t.Errorf("no token: exit %d, stderr %q", code, errOut)
	}
	if cps := checkpoints(t, dir); len(cps) > 0 {
		t.Errorf("no token: left %v behind", cps)
	}

	// A token Intercom refuses is caught by the start's check (GET /me),
	// before anything is read. (Refused later, mid-run:
	// TestSendStopsOnATokenRefusedLater.)
	t.Setenv("INTERCOM_ACCESS_TOKEN", "wrong")
	code, _, errOut = runCLI(t, "", "send", "--api-base", sim.URL(), "--concurrency", "1", "events.ndjson")
	if want := "send: Intercom refuses the token: intercom: 401 unauthorized: Access Token Invalid (request sim-000000000001)\n"; code != 1 || !strings.HasPrefix(errOut, want) {
		t.Errorf("refused token: exit %d, stderr:\n%s\nwant it to start with:\n%s", code, errOut, want)
	}
	if cps := checkpoints(t, dir); len(cps) > 0 {
		t.Errorf("refused token: left %v behind", cps)
	}

	t.Setenv("INTERCOM_ACCESS_TOKEN", "right")
	code, _, errOut = runCLI(t, "", "send", "--api-base", sim.URL(), "--concurrency", "1", "events.ndjson")
	if code != 0 || !strings.Contains(errOut, "send: 30 events: 30 sent") {
		t.Errorf("the corrected command: exit %d, stderr:\n%s", code, errOut)
	}
	if got, want := canonical(t, sim.State()), cleanState(t, events); got != want {
		t.Errorf("Intercom's state differs from a clean run's")
	}
	if cps := checkpoints(t, dir); len(cps) > 0 {
		t.Errorf("a finished run left %v behind", cps)
	}
}

// TestSendCheckpointIsNamedAfterItsInput: runs over different files of one
// folder have checkpoints of their own; an unfinished one does not block
// sending another file, and still guards its own input. With one
// --checkpoint given for both, the other file's unfinished progress does
// not block either, and is kept.
func TestSendCheckpointIsNamedAfterItsInput(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	a := writeFile(t, dir, "a.ndjson", workload(10))
	b := writeFile(t, dir, "b.ndjson", workload(10))
	if na, nb := checkpoint.Name([]string{a}), checkpoint.Name([]string{b}); na == nb || !strings.HasPrefix(na, "send-checkpoint-a-") || !strings.HasPrefix(nb, "send-checkpoint-b-") {
		t.Fatalf("names %s and %s", na, nb)
	}
	other := filepath.Join(t.TempDir(), "a.ndjson") // the same name in another folder
	if checkpoint.Name([]string{other}) == checkpoint.Name([]string{a}) {
		t.Errorf("a.ndjson of two folders share a checkpoint name")
	}
	if checkpoint.Name([]string{a, b}) != checkpoint.Name([]string{b, a}) || checkpoint.Name([]string{a, b}) == checkpoint.Name([]string{a}) {
		t.Errorf("names of two inputs: %s, %s", checkpoint.Name([]string{a, b}), checkpoint.Name([]string{b, a}))
	}
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	t.Setenv("INTERCOM_ACCESS_TOKEN", "")

	unfinished := `{"input":"` + a + `","line":4}` + "\n"
	writeFile(t, dir, checkpoint.Name([]string{a}), unfinished)
	code, _, errOut := runCLI(t, "", "send", "--api-base", sim.URL(), "b.ndjson")
	if code != 0 || !strings.Contains(errOut, "send: 10 events: 10 sent") {
		t.Errorf("b beside a's unfinished checkpoint: exit %d, stderr:\n%s", code, errOut)
	}
	code, _, errOut = runCLI(t, "", "send", "--api-base", sim.URL(), "a.ndjson")
	if want := "send: " + checkpoint.Name([]string{a}) + " holds the checkpoint of a run that did not finish (" + a + ", settled up to line 4): add --resume to continue it, or remove the file to start again\n"; code != 2 || errOut != want {
		t.Errorf("a over its unfinished checkpoint: exit %d, stderr %q", code, errOut)
	}

	shared := filepath.Join(dir, "shared.ndjson")
	writeFile(t, dir, "shared.ndjson", unfinished)
	code, _, errOut = runCLI(t, "", "send", "--api-base", sim.URL(), "--checkpoint", shared, "b.ndjson")
	if code != 0 {
		t.Errorf("b with a shared --checkpoint: exit %d, stderr:\n%s", code, errOut)
	}
	info, _ := os.Stat(b)
	wantShared := `{"input":"` + b + `","size":` + strconv.FormatInt(info.Size(), 10) + `,"line":10,"done":true}` + "\n" + unfinished
	if data, _ := os.ReadFile(shared); string(data) != wantShared {
		t.Errorf("the shared checkpoint, after b:\n%s\nwant b done and a's progress kept:\n%s", data, wantShared)
	}
}

// TestSendRefusesASecondRunOnOneCheckpoint: while a send runs, a second
// send of the same file (which would find the same checkpoint) is refused
// with a message that names the first; once the first has finished, the
// same command runs.
func TestSendRefusesASecondRunOnOneCheckpoint(t *testing.T) {
	binary(t) // built from the module, before the test leaves it
	dir := t.TempDir()
	t.Chdir(dir)
	path := writeFile(t, dir, "events.ndjson", workload(200))
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	ic := newFront(t, sim, 20) // holds the requests after 20 until released
	first := start(t, dir, "send", "--api-base", ic.URL(), "--concurrency", "2", "events.ndjson")
	waitFor(t, 20*time.Second, "a request held", func() bool { return ic.Stalled() > 0 || !first.running() })

	t.Setenv("INTERCOM_ACCESS_TOKEN", "")
	code, _, errOut := runCLI(t, "", "send", "--api-base", sim.URL(), path)
	name := checkpoint.Name([]string{path})
	want := "send: " + name + " is in use by another send (process " + strconv.Itoa(first.cmd.Process.Pid) + ") that is still running: " +
		"two runs over one checkpoint would send the same events twice; wait for it to finish, or stop it (Ctrl-C) and then add --resume\n"
	if code != 2 || errOut != want {
		t.Errorf("second run: exit %d, stderr %q\nwant %q", code, errOut, want)
	}
	ic.Release()
	if code := first.wait(60 * time.Second); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, first.stderr.String())
	}
	if cps := checkpoints(t, dir); len(cps) > 0 {
		t.Errorf("the first run left %v behind", cps)
	}
	code, _, errOut = runCLI(t, "", "send", "--api-base", sim.URL(), path)
	if code != 0 || !strings.Contains(errOut, "send: 200 events: 200 sent") {
		t.Errorf("after the first: exit %d, stderr:\n%s", code, errOut)
	}
}

// TestSendRefusesInvalidUTF8: two users whose ids differ only in bytes
// that are not UTF-8 are not sent as one contact (each byte read as
// U+FFFD): both events are dead letters that say why, and Intercom has
// no contact; the valid one beside them is sent.
func TestSendRefusesInvalidUTF8(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	t.Setenv("INTERCOM_ACCESS_TOKEN", "")
	events := "{\"type\":\"identify\",\"userId\":\"u\xff\",\"traits\":{\"email\":\"a@example.com\"}}\n" +
		"{\"type\":\"identify\",\"userId\":\"u\xfe\",\"traits\":{\"email\":\"b@example.com\"}}\n" +
		"{\"type\":\"identify\",\"userId\":\"u\",\"traits\":{\"email\":\"c@example.com\"}}\n"
	dl := filepath.Join(t.TempDir(), "dl.ndjson")
	code, _, errOut := runCLI(t, events, "send", "--api-base", sim.URL(), "--dead-letter", dl)
	// The example is the first settled, stdin:1 or stdin:2 (two contacts
	// go in parallel); both have the bad byte at 30.
	want := "failures by reason:\n  2 × invalid event: not valid Unicode text\n      e.g. stdin:"
	want2 := ": invalid event: not valid Unicode text (UTF-8 broken at byte 30): refused rather than altered, as ids that differ only in such bytes would become one\n"
	if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, want2) || !strings.Contains(errOut, "send: 3 events: 1 sent, 0 skipped (no rule matched), 2 failed\n") {
		t.Errorf("exit %d, stderr:\n%s\nwant it to hold:\n%s", code, errOut, want)
	}
	if c := sim.State().Contacts; len(c) != 1 || c[0].ExternalID != "u" {
		t.Errorf("contacts: %+v", c)
	}
	data, _ := os.ReadFile(dl)
	if n := strings.Count(string(data), "not valid Unicode text (UTF-8 broken at byte 30)"); n != 2 {
		t.Errorf("dead letters:\n%s", data)
	}
	// The dead letters keep the bad bytes visible (\xFF, \xFE), not as
	// U+FFFD: sent again, they are refused again rather than merged.
	for _, b := range []string{`\\xFF`, `\\xFE`} {
		if !strings.Contains(string(data), `\"userId\":\"u`+b+`\"`) || strings.Contains(string(data), "\uFFFD") {
			t.Errorf("dead letters lack %s:\n%s", b, data)
		}
	}
	code, _, errOut = runCLI(t, "", "send", "--api-base", sim.URL(), "--dead-letter", filepath.Join(t.TempDir(), "dl2"), dl)
	if c := sim.State().Contacts; code != 1 || len(c) != 1 {
		t.Errorf("the dead letters sent again: exit %d, %d contacts\n%s", code, len(c), errOut)
	}
}
