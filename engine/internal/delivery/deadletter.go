package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DeadLetter is one record of the dead letters (NDJSON): the original
// event, the rule and action that failed, and why. `send` reads such a
// file back and re-sends just the failed rule of each event.
type DeadLetter struct {
	Event  json.RawMessage `json:"event"`            // the event as read (a JSON string if it was not JSON)
	Ref    string          `json:"ref,omitempty"`    // where it was read, e.g. "events.ndjson:12"
	Rule   string          `json:"rule,omitempty"`   // empty when the event itself was unusable
	Action string          `json:"action,omitempty"` // e.g. "identify_company"
	Error  string          `json:"error"`
	// Outcome is "unknown" for an action cut off after a request was sent
	// (ErrOutcomeUnknown): Intercom may have applied it, so sending it again
	// may apply it twice. Empty for a failure.
	Outcome string    `json:"outcome,omitempty"`
	Time    time.Time `json:"time"`
	// Key is its event's Event.Key, for the store (not written out): a
	// store may keep one dead letter per Key, Rule and Action, so that an
	// event dispatched again after a crash is not dead-lettered twice.
	Key string `json:"-"`
}

// OutcomeUnknown is DeadLetter.Outcome of an action cut off mid-request.
const OutcomeUnknown = "unknown"

// NewDeadLetter is the dead letter of ev, of rule's action when rule is
// set, failed with err at now.
func NewDeadLetter(ev Event, rule, action string, err error, now time.Time) DeadLetter {
	raw := json.RawMessage(ev.Raw)
	switch {
	case !utf8.Valid(ev.Raw):
		// JSON cannot hold its bad bytes, and encoding/json would write
		// them as U+FFFD, making ids that differed one: kept as a string
		// with each bad byte written \xNN, which is refused again as not
		// JSON until a person mends it.
		raw, _ = json.Marshal(escapeInvalidUTF8(ev.Raw))
	case !json.Valid(ev.Raw):
		raw, _ = json.Marshal(string(ev.Raw))
	}
	dl := DeadLetter{Event: raw, Ref: ev.Ref, Rule: rule, Action: action, Error: err.Error(), Time: now.UTC(), Key: ev.Key}
	if errors.Is(err, ErrOutcomeUnknown) {
		dl.Outcome = OutcomeUnknown
	}
	return dl
}

// escapeInvalidUTF8 is b with each byte that is not UTF-8 written \xNN.
func escapeInvalidUTF8(b []byte) string {
	var out strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&out, `\x%02X`, b[0])
		} else {
			out.Write(b[:size])
		}
		b = b[size:]
	}
	return out.String()
}

// DeadLetters keeps dead letters. Put must keep the record durably before
// it returns (the event it names is then settled) and be safe for
// concurrent use.
type DeadLetters interface {
	Put(DeadLetter) error
}

// DeadLetterFunc makes a function, such as the spool's, DeadLetters. It is
// called one record at a time.
func DeadLetterFunc(put func(DeadLetter) error) DeadLetters {
	return &funcDeadLetters{put: put}
}

type funcDeadLetters struct {
	mu  sync.Mutex
	put func(DeadLetter) error
}

func (f *funcDeadLetters) Put(dl DeadLetter) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.put(dl)
}

// DeadLetterWriter writes dead letters to w as NDJSON, a line a record,
// each written whole before Put returns.
func DeadLetterWriter(w io.Writer) DeadLetters {
	return DeadLetterFunc(func(dl DeadLetter) error {
		line, err := json.Marshal(dl)
		if err != nil {
			return err
		}
		_, err = w.Write(append(line, '\n'))
		return err
	})
}

// DeadLetterFile appends dead letters to a file as NDJSON, creating it
// (0600) on the first record, so that a run with no failures leaves no
// empty file behind. With Sync each record is fsynced before Put returns
// (a consumer commits the event's offset after it); without, it is
// written to the file (it survives a crash of the process, not of the
// machine).
type DeadLetterFile struct {
	Path string
	Sync bool
	// Kept, if set, are dead letters the file holds already: a killed run
	// wrote them and did not settle their events, which the run resuming it
	// dispatches again. Put writes each of them once less.
	Kept *DeadLetterSet

	mu sync.Mutex
	f  *os.File
}

// Put appends one record, unless Kept has it.
func (d *DeadLetterFile) Put(dl DeadLetter) error {
	if d.Kept.Take(dl) {
		return nil
	}
	line, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		f, err := os.OpenFile(d.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		d.f = f
	}
	if _, err := d.f.Write(append(line, '\n')); err != nil {
		return err
	}
	if d.Sync {
		return d.f.Sync()
	}
	return nil
}

// Written says whether a record was written: the file exists.
func (d *DeadLetterFile) Written() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.f != nil
}

// Close closes the file, if it was opened.
func (d *DeadLetterFile) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	return d.f.Close()
}

// DeadLetterSet is a multiset of dead letters, told apart by their event,
// Ref, Rule and Action (not by Error, Outcome or Time: the same failure
// met again). It is safe for concurrent use; a nil set is empty.
type DeadLetterSet struct {
	mu sync.Mutex
	n  map[deadLetterID]int
}

// deadLetterID is what tells dead letters apart in a DeadLetterSet.
type deadLetterID struct{ event, ref, rule, action string }

// idOf is dl's id: its event as json.Marshal writes it (compact, HTML
// escaped), so that one read back from a file is the one written.
func idOf(dl DeadLetter) deadLetterID {
	ev, err := json.Marshal(dl.Event)
	if err != nil {
		ev = dl.Event
	}
	return deadLetterID{string(ev), dl.Ref, dl.Rule, dl.Action}
}

// Add puts dl in the set.
func (s *DeadLetterSet) Add(dl DeadLetter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[deadLetterID]int{}
	}
	s.n[idOf(dl)]++
}

// Take removes one dead letter like dl from the set, and says whether
// there was one.
func (s *DeadLetterSet) Take(dl DeadLetter) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.n) == 0 {
		return false
	}
	id := idOf(dl)
	if s.n[id] == 0 {
		return false
	}
	if s.n[id]--; s.n[id] == 0 {
		delete(s.n, id)
	}
	return true
}

// Len returns how many dead letters the set holds.
func (s *DeadLetterSet) Len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.n {
		n += c
	}
	return n
}
