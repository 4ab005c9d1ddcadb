package delivery

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDeadLetterFileKept: a dead letter the file holds already (Kept) is
// not written again, once: the same event, ref, rule and action, whatever
// the error and the time; the event as written to the file (compact, HTML
// escaped) is the event as read.
func TestDeadLetterFileKept(t *testing.T) {
	ev := Event{Raw: []byte(`{ "type": "track", "event": "<b>" }`), Ref: "in:4"}
	first := NewDeadLetter(ev, "Track Event", "track_event", errors.New("intercom: 422 (request 1)"), time.Unix(1, 0))
	line, _ := json.Marshal(first)
	var read DeadLetter // as KeptDeadLetters reads it back
	if err := json.Unmarshal(line, &read); err != nil {
		t.Fatal(err)
	}
	kept := &DeadLetterSet{}
	kept.Add(read)
	path := filepath.Join(t.TempDir(), "dead.ndjson")
	file := &DeadLetterFile{Path: path, Kept: kept}
	defer file.Close()
	again := NewDeadLetter(ev, "Track Event", "track_event", errors.New("intercom: 422 (request 2)"), time.Unix(2, 0))
	for _, dl := range []DeadLetter{
		again,
		NewDeadLetter(ev, "Identify User", "identify_user", errors.New("intercom: 422"), time.Unix(2, 0)), // another action of the event
		again, // met a second time in this run: written
	} {
		if err := file.Put(dl); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(path)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var dl DeadLetter
		json.Unmarshal([]byte(l), &dl)
		out = append(out, dl.Ref+" "+dl.Rule+" "+dl.Error)
	}
	if len(out) != 2 || out[0] != "in:4 Identify User intercom: 422" || out[1] != "in:4 Track Event intercom: 422 (request 2)" || kept.Len() != 0 {
		t.Errorf("written %q, %d left kept", out, kept.Len())
	}
	var none *DeadLetterSet
	if none.Take(again) || none.Len() != 0 {
		t.Error("a nil set holds something")
	}
}

// TestRefLine: the line of an input a LineSource's ref names.
func TestRefLine(t *testing.T) {
	for _, c := range []struct {
		ref, name string
		line      int
		ok        bool
	}{
		{"events.ndjson:12", "events.ndjson", 12, true},
		{"messageId m-1 (via dead.ndjson:3)", "dead.ndjson", 3, true},
		{"a:1 (via b:2) (via dead.ndjson:7)", "dead.ndjson", 7, true},
		{"events.ndjson:12", "events", 0, false},
		{"xevents.ndjson:12", "events.ndjson", 0, false},
		{"events.ndjson:+1", "events.ndjson", 0, false},
		{"events.ndjson:", "events.ndjson", 0, false},
		{"stdin:3", "events.ndjson", 0, false},
	} {
		if line, ok := RefLine(c.ref, c.name); line != c.line || ok != c.ok {
			t.Errorf("RefLine(%q, %q) = %d, %v; want %d, %v", c.ref, c.name, line, ok, c.line, c.ok)
		}
	}
}
