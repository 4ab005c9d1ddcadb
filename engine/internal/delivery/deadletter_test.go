package delivery

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDeadLetterFile: the file is made (0600) by the first dead letter
// only, each record is one NDJSON line written before Put returns, an
// event that is not JSON is kept as a JSON string, and an action cut off
// mid-request is marked "outcome":"unknown".
func TestDeadLetterFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.ndjson")
	f := &DeadLetterFile{Path: path, Sync: true}
	defer f.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) || f.Written() {
		t.Fatalf("the file exists before any dead letter: %v", err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := f.Put(NewDeadLetter(Event{Raw: []byte(`{"type":"group"}`), Ref: "in:1"}, "R", "identify_company", errors.New("intercom: 422"), at)); err != nil {
		t.Fatal(err)
	}
	cut := fmt.Errorf("%w: cut off", ErrOutcomeUnknown)
	if err := f.Put(NewDeadLetter(Event{Raw: []byte("not json"), Ref: "in:2"}, "", "", cut, at)); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"event":{"type":"group"},"ref":"in:1","rule":"R","action":"identify_company","error":"intercom: 422","time":"2026-01-02T03:04:05Z"}` + "\n" +
		`{"event":"not json","ref":"in:2","error":"outcome unknown: cut off","outcome":"unknown","time":"2026-01-02T03:04:05Z"}` + "\n"
	if string(got) != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 || !f.Written() {
		t.Errorf("mode %v, written %v", info.Mode().Perm(), f.Written())
	}
}

// TestSummaryAdd: adding summaries sums every count, merges the maps
// without sharing them, and keeps the longest Elapsed.
func TestSummaryAdd(t *testing.T) {
	a := Summary{Read: 2, Events: 2, Sent: 1, Failed: 1, Elapsed: time.Second,
		PerAction: map[string]ActionCount{"track_event": {Sent: 1, Calls: 1}},
		Failures:  map[string]*Failure{"contact not found": {Count: 1, Ref: "a:1", Example: "x"}}}
	b := Summary{Read: 3, Events: 3, Sent: 3, Elapsed: 2 * time.Second,
		PerAction: map[string]ActionCount{"track_event": {Sent: 2, Calls: 3}},
		Failures:  map[string]*Failure{"contact not found": {Count: 2, Ref: "b:9", Example: "y"}}}
	var sum Summary
	sum.Add(a)
	sum.Add(b)
	if sum.Read != 5 || sum.Events != 5 || sum.Sent != 4 || sum.Failed != 1 || sum.Elapsed != 2*time.Second ||
		sum.PerAction["track_event"] != (ActionCount{Sent: 3, Calls: 4}) ||
		*sum.Failures["contact not found"] != (Failure{Count: 3, Ref: "a:1", Example: "x"}) {
		t.Errorf("sum: %+v %+v %+v", sum, sum.PerAction, *sum.Failures["contact not found"])
	}
	if a.Failures["contact not found"].Count != 1 {
		t.Error("Add changed the summary it added")
	}
}
