package dispatch

import (
	"bufio"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// DeadLetter is one record of the dead-letter output (NDJSON): the
// original event, the rule and action that failed, and why. `send` reads
// such a file back and re-sends just the failed rule of each event.
type DeadLetter struct {
	Event  json.RawMessage `json:"event"`            // the event as read (a JSON string if it was not JSON)
	Ref    string          `json:"ref,omitempty"`    // where it was read, e.g. "events.ndjson:12"
	Rule   string          `json:"rule,omitempty"`   // empty when the event itself was unusable
	Action string          `json:"action,omitempty"` // e.g. "identify_company"
	Error  string          `json:"error"`
	Time   time.Time       `json:"time"`
}

// DeadLetterWriter writes DeadLetter records; safe for concurrent use. A
// nil *DeadLetterWriter discards.
type DeadLetterWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	now func() time.Time
}

// NewDeadLetterWriter writes records to w.
func NewDeadLetterWriter(w io.Writer) *DeadLetterWriter {
	return &DeadLetterWriter{w: bufio.NewWriter(w), now: time.Now}
}

// Write records one failure.
func (d *DeadLetterWriter) Write(ev Event, rule, action string, err error) error {
	if d == nil {
		return nil
	}
	raw := json.RawMessage(ev.Raw)
	if !json.Valid(ev.Raw) {
		raw, _ = json.Marshal(string(ev.Raw))
	}
	rec := DeadLetter{Event: raw, Ref: ev.Ref, Rule: rule, Action: action, Error: err.Error(), Time: d.now().UTC()}
	line, mErr := json.Marshal(rec)
	if mErr != nil {
		return mErr
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.w.Write(append(line, '\n')); err != nil {
		return err
	}
	// Flush each record: a dead letter must survive a crash of the run.
	return d.w.Flush()
}

// Flush writes out buffered records.
func (d *DeadLetterWriter) Flush() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.w.Flush()
}
