package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/dispatch"
	"github.com/intercom-actions/intercom-actions/rules"
)

// TestTrackerWatermarkIsTheLowestUnsettledLine: lines settle out of order;
// the mark is the line before the lowest unsettled one, plus the settled
// lines after it. Blank lines (never read) do not hold it back.
func TestTrackerWatermarkIsTheLowestUnsettledLine(t *testing.T) {
	tr := NewTracker(Mark{})
	for _, l := range []int{1, 2, 4, 5, 6} { // line 3 is blank
		tr.Read(l)
	}
	steps := []struct {
		settle int
		want   Mark
	}{
		{2, Mark{Line: 0, Settled: []int{2}}},
		{5, Mark{Line: 0, Settled: []int{2, 5}}},
		{1, Mark{Line: 3, Settled: []int{5}}}, // 3 is blank: every event up to it is settled
		{4, Mark{Line: 5}},
		{6, Mark{Line: 6}},
	}
	for _, s := range steps {
		tr.Settle(s.settle)
		if got := tr.Mark(); !reflect.DeepEqual(got, s.want) {
			t.Errorf("after settling %d: %+v, want %+v", s.settle, got, s.want)
		}
	}
	if tr.Pending() != 0 {
		t.Errorf("pending %d", tr.Pending())
	}
}

// TestTrackerResumes: a tracker started from a mark keeps its settled lines
// until they are skipped, and moves the watermark over them.
func TestTrackerResumes(t *testing.T) {
	tr := NewTracker(Mark{Line: 10, Settled: []int{12, 13}})
	tr.Read(11)
	if got := tr.Mark(); !reflect.DeepEqual(got, Mark{Line: 10, Settled: []int{12, 13}}) {
		t.Errorf("mark %+v", got)
	}
	tr.Skip(12)
	tr.Skip(13)
	tr.Read(14)
	tr.Settle(11)
	if got := tr.Mark(); !reflect.DeepEqual(got, Mark{Line: 13}) {
		t.Errorf("mark %+v, want line 13", got)
	}
}

// TestFileJournalSurvivesAKill: what Settled wrote is read back by Load
// without Close (a killed run), a last line cut short is ignored, and Close
// compacts the journal into one mark per input.
func TestFileJournalSurvivesAKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.ndjson")
	f, err := Create(path, []Progress{{Path: "/in/a", Size: 100}, {Path: "/in/b", Mark: Mark{Line: 7}}})
	if err != nil {
		t.Fatal(err)
	}
	ta := f.Tracker("/in/a")
	for l := 1; l <= 5; l++ {
		ta.Read(l)
	}
	for _, l := range []int{1, 2, 4} {
		f.Settled("/in/a", l)
	}
	f.flush() // what the writer does on its own; here, in step
	data, _ := os.ReadFile(path)
	// A kill in the middle of a write leaves a partial last line.
	if err := os.WriteFile(path, append(data, `{"input":"/in/a","sett`...), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Progress{{Path: "/in/a", Size: 100, Mark: Mark{Line: 2, Settled: []int{4}}}, {Path: "/in/b", Mark: Mark{Line: 7}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loaded %+v\nwant   %+v", got, want)
	}

	f2, err := Create(path, got)
	if err != nil {
		t.Fatal(err)
	}
	f2.Tracker("/in/a").Read(3)
	f2.Settled("/in/a", 3)
	f2.Tracker("/in/a").Skip(4)
	f2.Tracker("/in/a").Read(5)
	f2.Settled("/in/a", 5)
	f2.Finish("/in/a")
	if err := f2.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	wantFile := `{"input":"/in/a","size":100,"line":5,"done":true}
{"input":"/in/b","line":7}
`
	if string(data) != wantFile {
		t.Errorf("compacted file:\n%s\nwant:\n%s", data, wantFile)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// countingIntercom counts how often each event (by its user) is sent, and
// stops the run after a number of them.
type countingIntercom struct {
	mu    sync.Mutex
	sent  map[string]int
	after int
	stop  func()
}

func (c *countingIntercom) Execute(_ context.Context, a action.Action) (action.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := a.Fields.(*action.TrackEvent)
	c.sent[f.EventName]++
	if n := len(c.sent); n == c.after && c.stop != nil {
		c.stop()
	}
	return action.Result{Calls: 1}, nil
}

// TestStopAndResumeSendEachEventOnce runs a dispatcher over a checkpointed
// input, stops it midway, and resumes it from the checkpoint file, twice:
// every event is sent exactly once over the three runs.
func TestStopAndResumeSendEachEventOnce(t *testing.T) {
	set, _ := rules.ParseAll(rules.Defaults()...)
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&in, `{"type":"track","userId":"u%d","event":"e%d","timestamp":1700000000}`+"\n", i%37, i)
		if i%100 == 0 {
			in.WriteString("\n") // blank lines count in line numbers
		}
	}
	cpPath := filepath.Join(t.TempDir(), "cp.ndjson")
	fake := &countingIntercom{sent: map[string]int{}}
	progress := []Progress{{Path: "/in/events"}}
	for run, stopAfter := range []int{700, 1900, 0} {
		d, err := dispatch.New(dispatch.Config{Engine: eng, Executor: fake, Concurrency: 4})
		if err != nil {
			t.Fatal(err)
		}
		fake.after, fake.stop = stopAfter, d.Stop
		f, err := Create(cpPath, progress)
		if err != nil {
			t.Fatal(err)
		}
		src := NewSource(delivery.NewLineSource("events", strings.NewReader(in.String())), "/in/events", f, progress[0].Mark)
		sum, err := d.Run(context.Background(), src)
		if stopAfter > 0 && !errors.Is(err, delivery.ErrStopped) || stopAfter == 0 && err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if progress, err = Load(cpPath); err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d: %d read, %d sent, %d unsettled; mark line %d + %d settled after it",
			run, sum.Read, sum.Sent, sum.Unsettled, progress[0].Mark.Line, len(progress[0].Mark.Settled))
	}
	if len(fake.sent) != 3000 {
		t.Errorf("%d events sent, want 3000", len(fake.sent))
	}
	for name, n := range fake.sent {
		if n != 1 {
			t.Errorf("%s sent %d times", name, n)
		}
	}
	if !progress[0].Done || len(progress[0].Mark.Settled) != 0 {
		t.Errorf("final progress %+v, want done", progress[0])
	}
}
