package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Progress is where one input stands.
type Progress struct {
	Path string // absolute
	Size int64  // its size when the first run began; a resumed input must not be smaller
	Mark Mark
	Done bool // every event of the input is settled
	// DeadLetters is the dead-letter file of the input's runs (absolute)
	// and DeadLettersFrom its size when the first of them began: what they
	// wrote there comes after it (see KeptDeadLetters). DeadLetters is ""
	// when unknown: a checkpoint of an earlier version.
	DeadLetters     string
	DeadLettersFrom int64
}

// record is one line of a checkpoint file. A record with Line (or Done)
// is a mark; one with only Settled adds lines to the input's mark.
type record struct {
	Input   string `json:"input"`
	Size    int64  `json:"size,omitempty"`
	Line    int    `json:"line,omitempty"`
	Settled []int  `json:"settled,omitempty"`
	Done    bool   `json:"done,omitempty"`
	// Of a mark, while the input is not done: Progress.DeadLetters and
	// DeadLettersFrom.
	DeadLetters     string `json:"dead_letters,omitempty"`
	DeadLettersFrom int64  `json:"dead_letters_from,omitempty"`
}

// Load reads a checkpoint file. A missing file gives an error for which
// errors.Is(err, os.ErrNotExist); a last line cut short (the writer was
// killed mid-write) is ignored.
func Load(path string) ([]Progress, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var order []string
	byPath := map[string]*Progress{}
	settled := map[string]map[int]bool{}
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil || r.Input == "" {
			if i == len(lines)-1 {
				break // cut short by a kill: the lines in it were not all written
			}
			return nil, fmt.Errorf("checkpoint %s: line %d is not a checkpoint record", path, i+1)
		}
		p := byPath[r.Input]
		if p == nil {
			p = &Progress{Path: r.Input}
			byPath[r.Input] = p
			settled[r.Input] = map[int]bool{}
			order = append(order, r.Input)
		}
		if r.Size > 0 {
			p.Size = r.Size
		}
		if r.DeadLetters != "" {
			p.DeadLetters, p.DeadLettersFrom = r.DeadLetters, r.DeadLettersFrom
		}
		p.Mark.Line = max(p.Mark.Line, r.Line)
		p.Done = p.Done || r.Done
		for _, l := range r.Settled {
			settled[r.Input][l] = true
		}
	}
	out := make([]Progress, 0, len(order))
	for _, path := range order {
		p := byPath[path]
		for settled[path][p.Mark.Line+1] { // the journal's lines, as a watermark
			p.Mark.Line++
		}
		for l := range settled[path] {
			if l > p.Mark.Line {
				p.Mark.Settled = append(p.Mark.Settled, l)
			}
		}
		slices.Sort(p.Mark.Settled)
		out = append(out, *p)
	}
	return out, nil
}

// compactAt is the journal size after which it is rewritten as marks.
const compactAt = 4 << 20

// File is an open checkpoint file: a journal that Settled appends to, in
// batches, from a goroutine of its own. Close writes the final marks.
type File struct {
	path string

	mu       sync.Mutex
	f        *os.File
	inputs   []string
	trackers map[string]*Tracker
	start    map[string]Progress // of each input, as given to Create: its Size, DeadLetters and DeadLettersFrom
	done     map[string]bool
	pending  map[string][]int
	err      error // the first write error
	written  int64 // bytes appended since the last compaction

	kick chan struct{}
	quit chan struct{}
	exit chan struct{}
}

// Create starts a checkpoint file at path for the inputs (replacing any
// file there) and returns it open for Settled.
func Create(path string, inputs []Progress) (*File, error) {
	f := &File{
		path: path, trackers: map[string]*Tracker{}, start: map[string]Progress{}, done: map[string]bool{},
		pending: map[string][]int{}, kick: make(chan struct{}, 1), quit: make(chan struct{}), exit: make(chan struct{}),
	}
	for _, in := range inputs {
		f.inputs = append(f.inputs, in.Path)
		f.trackers[in.Path] = NewTracker(in.Mark)
		f.start[in.Path] = in
		f.done[in.Path] = in.Done
	}
	if err := f.compact(); err != nil {
		return nil, err
	}
	go f.writer()
	return f, nil
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Tracker returns the tracker of an input given to Create.
func (f *File) Tracker(input string) *Tracker { return f.trackers[input] }

// Settled records that the event on line of input is settled: in its
// tracker at once, in the file in the writer's next batch.
func (f *File) Settled(input string, line int) {
	f.trackers[input].Settle(line)
	f.mu.Lock()
	f.pending[input] = append(f.pending[input], line)
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Finish records that every event of input is settled.
func (f *File) Finish(input string) {
	f.mu.Lock()
	f.done[input] = true
	if _, ok := f.pending[input]; !ok {
		f.pending[input] = nil // a record is written, with done
	}
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Close writes what is pending and the final marks, and closes the file.
func (f *File) Close() error {
	close(f.quit)
	<-f.exit
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.compactLocked(); err != nil && f.err == nil {
		f.err = err
	}
	if err := f.f.Close(); err != nil && f.err == nil {
		f.err = err
	}
	return f.err
}

// writer appends the pending lines, one write per batch.
func (f *File) writer() {
	defer close(f.exit)
	for {
		select {
		case <-f.kick:
		case <-f.quit:
			f.flush()
			return
		}
		f.flush()
	}
}

func (f *File) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pending) == 0 {
		return
	}
	var b bytes.Buffer
	for _, in := range f.inputs {
		lines, ok := f.pending[in]
		if !ok {
			continue
		}
		line, _ := json.Marshal(record{Input: in, Settled: lines, Done: f.done[in]})
		b.Write(line)
		b.WriteByte('\n')
	}
	clear(f.pending)
	n, err := f.f.Write(b.Bytes())
	f.written += int64(n)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("checkpoint %s: %w", f.path, err)
	}
	if f.written > compactAt {
		if err := f.compactLocked(); err != nil && f.err == nil {
			f.err = err
		}
	}
}

func (f *File) compact() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.compactLocked()
}

// compactLocked rewrites the file as one mark per input (through a new
// file renamed over it) and reopens it for appending.
func (f *File) compactLocked() error {
	var b bytes.Buffer
	for _, in := range f.inputs {
		m, start := f.trackers[in].Mark(), f.start[in]
		r := record{Input: in, Size: start.Size, Line: m.Line, Settled: m.Settled, Done: f.done[in]}
		if !r.Done { // a done input is not resumed
			r.DeadLetters, r.DeadLettersFrom = start.DeadLetters, start.DeadLettersFrom
		}
		line, _ := json.Marshal(r)
		b.Write(line)
		b.WriteByte('\n')
	}
	tmp := f.path + ".tmp"
	if err := writeSynced(tmp, b.Bytes()); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if d, err := os.Open(filepath.Dir(f.path)); err == nil {
		d.Sync()
		d.Close()
	}
	if f.f != nil {
		f.f.Close()
	}
	nf, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	f.f = nf
	f.written = 0
	return nil
}

func writeSynced(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(fh)
	_, err = w.Write(data)
	err = errors.Join(err, w.Flush(), fh.Sync(), fh.Close())
	return err
}
