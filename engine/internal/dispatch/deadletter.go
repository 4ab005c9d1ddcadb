package dispatch

import (
	"bufio"
	"encoding/json"
	"errors"
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
	// Outcome is "unknown" for an action cut off after a request was sent
	// (ErrOutcomeUnknown): Intercom may have applied it, so sending it again
	// may apply it twice. Empty for a failure.
	Outcome string    `json:"outcome,omitempty"`
	Time    time.Time `json:"time"`
}

// OutcomeUnknown is DeadLetter.Outcome of an action cut off mid-request.
const OutcomeUnknown = "unknown"

// DeadLetterWriter writes DeadLetter records; safe for concurrent use. A
// nil *DeadLetterWriter discards.
type DeadLetterWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	put func(DeadLetter) error // instead of w
	now func() time.Time
}

// NewDeadLetterWriter writes records to w.
func NewDeadLetterWriter(w io.Writer) *DeadLetterWriter {
	return &DeadLetterWriter{w: bufio.NewWriter(w), now: time.Now}
}

// NewDeadLetterStore hands each record to put (one call at a time), e.g. to
// keep it in a spool; put must store it durably before it returns.
func NewDeadLetterStore(put func(DeadLetter) error) *DeadLetterWriter {
	return &DeadLetterWriter{put: put, now: time.Now}
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
	if errors.Is(err, ErrOutcomeUnknown) {
		rec.Outcome = OutcomeUnknown
	}
	if d.put != nil {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.put(rec)
	}
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
	if d == nil || d.put != nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.w.Flush()
}
