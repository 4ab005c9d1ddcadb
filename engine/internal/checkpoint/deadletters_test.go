package checkpoint

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// TestKeptDeadLetters: of a dead-letter file, the dead letters of the
// lines an input's mark does not have, written after the input's runs
// began, are kept — those sent again ("via") too — and nothing else: not
// those of settled lines, of another input, of an earlier run, nor a last
// line cut short.
func TestKeptDeadLetters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.ndjson")
	refused := errors.New("intercom: 422")
	dl := func(ref string, n int) delivery.DeadLetter {
		ev := delivery.Event{Raw: []byte(`{"type":"track","event":"<E` + string(rune('0'+n)) + `>"}`), Ref: ref}
		return delivery.NewDeadLetter(ev, "Track Event", "track_event", refused, time.Now())
	}
	var data []byte
	add := func(dls ...delivery.DeadLetter) {
		for _, d := range dls {
			b, _ := json.Marshal(d)
			data = append(append(data, b...), '\n')
		}
	}
	add(dl("a.ndjson:3", 3)) // an earlier run's
	from := int64(len(data))
	add(dl("a.ndjson:2", 2), dl("a.ndjson:3", 3), dl("a.ndjson:5", 5), dl("x (via a.ndjson:6)", 6), dl("b.ndjson:3", 3), dl("aa.ndjson:3", 3))
	b, _ := json.Marshal(dl("a.ndjson:7", 7))
	data = append(data, b[:20]...) // cut short by the kill
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	inputs := map[string]Progress{
		"a.ndjson": {Path: "/in/a.ndjson", Mark: Mark{Line: 2, Settled: []int{5}}, DeadLetters: path, DeadLettersFrom: from},
		"b.ndjson": {Path: "/in/b.ndjson", Mark: Mark{Line: 9}, DeadLetters: path},
	}
	kept, err := KeptDeadLetters(path, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if kept.Len() != 2 || !kept.Take(dl("a.ndjson:3", 3)) || !kept.Take(dl("x (via a.ndjson:6)", 6)) {
		t.Errorf("kept %d dead letters, want a.ndjson:3 (once) and a.ndjson:6", kept.Len())
	}
	if kept.Take(dl("a.ndjson:3", 3)) || kept.Len() != 0 {
		t.Errorf("a.ndjson:3 kept twice")
	}

	other := map[string]Progress{"a.ndjson": {Path: "/in/a.ndjson", DeadLetters: path + ".other"}}
	if kept, err := KeptDeadLetters(path, other); err != nil || kept.Len() != 0 {
		t.Errorf("with the runs' dead letters in another file: %d kept, %v", kept.Len(), err)
	}
	if kept, err := KeptDeadLetters(path+".none", inputs); err != nil || kept.Len() != 0 {
		t.Errorf("no dead-letter file: %d kept, %v", kept.Len(), err)
	}
}

// TestCheckpointKeepsWhereTheDeadLettersBegin: an input's dead-letter file
// and where its runs' dead letters begin survive a reload, and are left
// out once the input is done.
func TestCheckpointKeepsWhereTheDeadLettersBegin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.ndjson")
	in := []Progress{{Path: "/in/a", Size: 10, DeadLetters: "/out/dead.ndjson", DeadLettersFrom: 1234}, {Path: "/in/b", Size: 10, DeadLetters: "/out/dead.ndjson"}}
	f, err := Create(path, in)
	if err != nil {
		t.Fatal(err)
	}
	f.Finish("/in/b")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	want := []Progress{in[0], {Path: "/in/b", Size: 10, Done: true}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("loaded %+v, %v\nwant   %+v", got, err, want)
	}
}
