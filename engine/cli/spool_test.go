package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/spool"
)

// queuedSpool makes a data dir whose spool holds n queued tracks of about
// 1 KB, as a stopped serve leaves it, and returns the dir.
func queuedSpool(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 1000)
	var items []delivery.Item
	for i := range n {
		items = append(items, delivery.Item{ID: fmt.Sprint(i), Data: []byte(fmt.Sprintf(`{"type":"track","userId":"u%d","event":"e%d","properties":{"pad":%q}}`, i, i, pad))})
	}
	if _, err := sp.Append(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestServeRefusesADamagedSpool: a spool file cut short used to crash
// every start of serve and `deadletter list` (SIGBUS), and one emptied to
// 0 bytes started empty without a word. Both are refused, saying what is
// wrong and how to recover; `spool check` says what can be read, and
// `spool salvage --replace` copies it into a new spool serve then starts
// on with those events.
func TestServeRefusesADamagedSpool(t *testing.T) {
	t.Run("truncated", func(t *testing.T) {
		dir := queuedSpool(t, 2996)
		path := filepath.Join(dir, spool.FileName)
		info, _ := os.Stat(path)
		// Cut it at 1 MB: most of its pages, and its latest index, are gone.
		if err := os.Truncate(path, 1<<20); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "", "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--intercom", "sim")
		want := regexp.MustCompile(`^serve: spool: ` + regexp.QuoteMeta(path) + `: the file is truncated: 1048576 bytes, and its header counts \d+ pages of 4096 bytes \(\d+ bytes\)\. ` +
			regexp.QuoteMeta("Nothing was changed: see what is wrong with 'intercom-actions spool check --data-dir "+dir+"', and copy every readable event and dead letter into a new spool with 'intercom-actions spool salvage --data-dir "+dir+"'") + "\n$")
		if code != 1 || out != "" || !want.MatchString(errOut) {
			t.Errorf("serve: exit %d\n%s%s", code, out, errOut)
		}
		if after, _ := os.Stat(path); after.Size() != 1<<20 || info.Size() <= 1<<20 {
			t.Errorf("the spool file changed: %d bytes (was %d)", after.Size(), info.Size())
		}
		code, _, errOut = runCLI(t, "", "deadletter", "list", "--data-dir", dir)
		if code != 1 || !strings.HasPrefix(errOut, "deadletter: spool: "+path+": the file is truncated: 1048576 bytes") {
			t.Errorf("deadletter list: exit %d %s", code, errOut)
		}
		code, out, _ = runCLI(t, "", "spool", "check", "--data-dir", dir)
		check := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `: damaged\n  the file is truncated: 1048576 bytes, .*\n  bucket "": page \d+: past the end of the file\nreadable: (\d+) queued events and 0 dead letters \(\d+ events and 0 dead letters on pages cut off from the file's index\)\n` +
			regexp.QuoteMeta("copy them into a new spool: intercom-actions spool salvage --data-dir "+dir+" --replace") + "\n$")
		m := check.FindStringSubmatch(out)
		if code != 1 || m == nil {
			t.Fatalf("spool check: exit %d\n%s", code, out)
		}
		readable := m[1]
		code, out, errOut = runCLI(t, "", "spool", "salvage", "--data-dir", dir, "--replace")
		salvage := regexp.MustCompile(`^salvaged ` + readable + ` queued events and 0 dead letters into ` + regexp.QuoteMeta(filepath.Join(dir, "spool.salvaged.db")) + "\n" +
			`  lost: bucket "": page \d+: past the end of the file\n` + readable + ` of the events were on pages cut off from the file's index: some may have been sent already, and are sent again\n` +
			regexp.QuoteMeta(path) + ` is now the salvaged spool; the damaged file is ` + regexp.QuoteMeta(dir) + `/spool.damaged-\d{8}T\d{6}Z\.db\n$`)
		if code != 0 || !salvage.MatchString(out) {
			t.Fatalf("spool salvage: exit %d\n%s%s", code, out, errOut)
		}
		t.Logf("salvaged %s of 2996 events from the first 1 MB", readable)
		var n int
		if fmt.Sscan(readable, &n); n < 500 {
			t.Errorf("salvaged %s events of 2996 from 1 MB of 1 KB events", readable)
		}
		if code, out, _ := runCLI(t, "", "spool", "check", "--data-dir", dir); code != 0 || !strings.HasPrefix(out, path+": sound: "+readable+" queued events, 0 dead letters") {
			t.Errorf("check after salvage: exit %d %s", code, out)
		}
		s := startServe(t, nil, "--data-dir", dir, "--intercom", "sim", "--contact-wait", "10ms")
		if !strings.Contains(s.stderr.String(), "spool_events="+readable+" ") {
			t.Errorf("serve does not start on the %s salvaged events:\n%s", readable, s.stderr.String())
		}
		// It sends them: tracks of users no identify made, dead-lettered.
		waitFor(t, 30*time.Second, "every salvaged event settled", func() bool {
			return strings.Count(s.stderr.String(), "msg=dead-lettered") == n
		})
		s.stop(t)
	})
	t.Run("zero bytes", func(t *testing.T) {
		dir := queuedSpool(t, 2996)
		path := filepath.Join(dir, spool.FileName)
		os.Truncate(path, 0)
		code, out, errOut := runCLI(t, "", "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--intercom", "sim")
		want := "serve: spool: " + path + ": empty (0 bytes), and a spool file never is: it was truncated. " +
			"The events and dead letters it held are not in it. Put the file back (from a backup) and start again; " +
			"to start with an empty spool instead, delete " + path + "\n"
		if code != 1 || out != "" || errOut != want {
			t.Errorf("serve: exit %d\n%s%s\nwant:\n%s", code, out, errOut, want)
		}
		if code, out, errOut := runCLI(t, "", "spool", "salvage", "--data-dir", dir); code != 1 || out != "" || errOut != "spool: "+path+" is empty: nothing can be salvaged from it\n" {
			t.Errorf("salvage: exit %d\n%s%s", code, out, errOut)
		}
	})
}

// TestDeadLetterDeleteAndPurge: dead letters can be deleted by id and
// purged by age, and count toward --spool-max (the bytes freed let serve
// take events again); list streams them, a line each.
func TestDeadLetterDeleteAndPurge(t *testing.T) {
	dir := t.TempDir()
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i, age := range []time.Duration{900 * time.Hour, 800 * time.Hour, 10 * time.Hour, time.Hour, 750 * time.Hour} {
		ev := fmt.Sprintf(`{"type":"track","userId":"u%d","event":"E"}`, i+1)
		if err := sp.PutDeadLetter(delivery.DeadLetter{Event: []byte(ev), Ref: fmt.Sprintf("messageId m-%d", i+1), Rule: "Track Event", Action: "track_event", Error: "intercom: 422", Time: now.Add(-age)}); err != nil {
			t.Fatal(err)
		}
	}
	dead := sp.DeadBytes()
	sp.Close()
	if dead == 0 {
		t.Fatal("the dead letters count no bytes")
	}
	line := func(id int, age time.Duration) string {
		return fmt.Sprintf("%d\t%s\tmessageId m-%d\tTrack Event (track_event)\tintercom: 422\n", id, now.Add(-age).Format(time.RFC3339), id)
	}
	code, out, errOut := runCLI(t, "", "deadletter", "list", "--data-dir", dir)
	if code != 0 || out != line(1, 900*time.Hour)+line(2, 800*time.Hour)+line(3, 10*time.Hour)+line(4, time.Hour)+line(5, 750*time.Hour) || errOut != "5 dead letters in "+dir+"\n" {
		t.Errorf("list: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "", "deadletter", "delete", "--data-dir", dir, "3", "9")
	if code != 1 || out != "deleted 1 dead letters\n" || errOut != "deadletter: no dead letter 9\n" {
		t.Errorf("delete: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "", "deadletter", "purge", "--data-dir", dir, "--older-than", "720h")
	if code != 0 || out != "deleted 3 dead letters older than 720h0m0s\n" || errOut != "" {
		t.Errorf("purge: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "", "deadletter", "purge", "--data-dir", dir); code != 2 || errOut != "deadletter: purge takes --older-than (e.g. 720h) and no ids (delete does)\n" {
		t.Errorf("purge with no age: exit %d %s", code, errOut)
	}
	code, out, errOut = runCLI(t, "", "deadletter", "list", "--data-dir", dir)
	if code != 0 || out != line(4, time.Hour) || errOut != "1 dead letters in "+dir+"\n" {
		t.Errorf("list after: exit %d\n%s%s", code, out, errOut)
	}
	sp, err = spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if left := sp.DeadBytes(); left <= 0 || left >= dead/3 {
		t.Errorf("dead-letter bytes %d after deleting 4 of 5 (were %d)", left, dead)
	}
}

// TestDeadLettersCountTowardSpoolMax: a spool whose --spool-max is taken
// by dead letters refuses events (503) and /readyz says why; deleting them
// lets events in again.
func TestDeadLettersCountTowardSpoolMax(t *testing.T) {
	dir := t.TempDir()
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	big := `{"type":"track","userId":"u1","event":"E","properties":{"pad":"` + strings.Repeat("x", 3000) + `"}}`
	for range 4 {
		sp.PutDeadLetter(delivery.DeadLetter{Event: []byte(big), Error: "intercom: 422", Time: time.Now()})
	}
	sp.Close()
	s := startServe(t, nil, "--data-dir", dir, "--intercom", "sim", "--spool-max", "12000")
	code, body, _ := post(t, s.base+"/v1/track", `{"userId":"u2","event":"E"}`)
	if code != 503 || body != `{"success":false,"error":"the spool is full: events are being sent to Intercom more slowly than they arrive; retry later"}`+"\n" {
		t.Errorf("track with the spool full of dead letters: %d %s", code, body)
	}
	if code, body := get(t, s.base+"/readyz"); code != 503 || body != `{"status":"full","detail":"the spool is full, mostly of dead letters: replay or delete them ('intercom-actions deadletter')"}`+"\n" {
		t.Errorf("readyz: %d %s", code, body)
	}
	if code, out, errOut := runCLI(t, "", "deadletter", "delete", "--data-dir", dir, "1", "2"); code != 0 || out != "deleted 2 dead letters\n" {
		t.Errorf("delete through the admin socket: exit %d %s%s", code, out, errOut)
	}
	if code, body, _ := post(t, s.base+"/v1/track", `{"userId":"u2","event":"E"}`); code != 200 {
		t.Errorf("track after the delete: %d %s", code, body)
	}
	s.stop(t)
}

// TestDeadLetterListCutShort: serve's admin socket ends the list with an
// end mark; a list that stops without it (serve killed mid-list, or an
// error reading the spool) used to be reported as whole. It says it was
// cut short, after the lines it got, and exits 1.
func TestDeadLetterListCutShort(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(dir, adminSocket))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /deadletters/ping", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /deadletters", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"id":1,"event":{"type":"track"},"ref":"messageId m-1","rule":"Track Event","action":"track_event","error":"intercom: 422","time":"2026-01-02T03:04:05Z"}` + "\n"))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	code, out, errOut := runCLI(t, "", "deadletter", "list", "--data-dir", dir)
	if code != 1 || out != "1\t2026-01-02T03:04:05Z\tmessageId m-1\tTrack Event (track_event)\tintercom: 422\n" ||
		errOut != "deadletter: serve's admin socket: the list was cut short (no end mark)\n" {
		t.Errorf("list: exit %d\n%s%s", code, out, errOut)
	}
}

// TestDeadLetterWithNoSpool: in a data dir where serve never ran,
// deadletter says so, and makes nothing there.
func TestDeadLetterWithNoSpool(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, out, errOut := runCLI(t, "", "deadletter", "list", "--data-dir", dir)
	if code != 1 || out != "" || errOut != "deadletter: spool: no spool in "+dir+" (serve has not run with this --data-dir)\n" {
		t.Errorf("list: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the data dir was made: %v", err)
	}
}

// TestSalvageSaysDeadLettersMayComeBack: a spool whose root page is
// damaged has every event and dead letter on pages cut off from the
// file's index; salvage finds them there, and says that such dead letters,
// as such events, may be old copies: replayed or deleted already, back.
func TestSalvageSaysDeadLettersMayComeBack(t *testing.T) {
	dir := queuedSpool(t, 300)
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		ev := fmt.Sprintf(`{"type":"track","userId":"u%d","event":"E","properties":{"pad":%q}}`, i, strings.Repeat("y", 200))
		if err := sp.PutDeadLetter(delivery.DeadLetter{Event: []byte(ev), Error: "intercom: 422", Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	sp.Close()
	path := filepath.Join(dir, spool.FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The meta page of the last transaction (of the two at 0 and 4096)
	// names the root page: its header's flags are damaged.
	le := func(off int) uint64 {
		var v uint64
		for i := 7; i >= 0; i-- {
			v = v<<8 | uint64(data[off+i])
		}
		return v
	}
	meta := 0
	if le(4096+64) > le(64) {
		meta = 4096
	}
	root := int(le(meta + 32))
	data[root*4096+8], data[root*4096+9] = 0x7f, 0x7f
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "spool.salvaged.db")
	code, stdout, errOut := runCLI(t, "", "spool", "salvage", "--data-dir", dir)
	want := fmt.Sprintf("salvaged 300 queued events and 30 dead letters into %s\n"+
		"  lost: bucket \"\": page %d: not a branch or leaf page (flags 0x7f7f)\n"+
		"300 of the events were on pages cut off from the file's index: some may have been sent already, and are sent again\n"+
		"30 of the dead letters were on pages cut off from the file's index: some may have been replayed or deleted already, and are back (see 'intercom-actions deadletter list')\n"+
		"to use it: move %s aside and rename %s to %s (or run salvage with --replace)\n", out, root, path, out, spool.FileName)
	if code != 0 || stdout != want || errOut != "" {
		t.Errorf("salvage: exit %d\n%s%s\nwant:\n%s", code, stdout, errOut, want)
	}
}
