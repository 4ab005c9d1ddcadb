// Package planner runs an engine over a stream of NDJSON events and reports
// what happened to every line: the actions planned, no rule matched, or why
// the line failed. It is the one code path behind `intercom-actions plan`,
// `intercom-actions test` and the golden tests.
package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/ndjson"
)

// Result is the outcome of one input line.
type Result struct {
	Line    int             // 1-based line number in its input
	Event   []byte          // the line as read (valid until the next line); only its start if it was too long
	Actions []action.Action // planned actions (may be non-empty even when Err != nil)
	Err     error           // *engine.EventError, engine.RuleErrors, or nil
}

// Skipped reports whether no rule matched a good event.
func (r *Result) Skipped() bool { return r.Err == nil && len(r.Actions) == 0 }

// Summary counts the outcomes of a run.
type Summary struct {
	Events     int // non-blank lines read, too long ones included
	Actions    int // actions planned
	Skipped    int // good events no rule matched
	BadEvents  int // lines that were not usable events, or were too long to read
	RuleErrors int // rule failures on good events
}

// String is a one-line report, e.g. "5 events: 7 actions, 1 skipped (no rule matched), 0 bad events, 0 rule errors".
func (s Summary) String() string {
	return fmt.Sprintf("%d events: %d actions, %d skipped (no rule matched), %d bad events, %d rule errors",
		s.Events, s.Actions, s.Skipped, s.BadEvents, s.RuleErrors)
}

// Failed reports whether any line or rule failed.
func (s Summary) Failed() bool { return s.BadEvents > 0 || s.RuleErrors > 0 }

// Run evaluates every non-blank line of r and calls fn with its result, in
// order. A line longer than ndjson.MaxLine is not evaluated: its result's
// Err is an *engine.EventError that gives its length, and the run goes on.
// Run stops at the first error from fn or from reading r.
func Run(eng *engine.Engine, r io.Reader, fn func(*Result) error) (Summary, error) {
	var sum Summary
	rd := ndjson.NewReader(r)
	for {
		line, err := rd.Next()
		if err == io.EOF {
			return sum, nil
		}
		if err != nil {
			return sum, err
		}
		sum.Events++
		res := &Result{Line: line.Number, Event: line.Bytes}
		if line.Err != nil {
			res.Err = &engine.EventError{Reason: line.Err.Error()}
		} else {
			res.Actions, res.Err = eng.Evaluate(line.Bytes)
		}
		sum.Actions += len(res.Actions)
		var ruleErrs engine.RuleErrors
		switch {
		case errors.As(res.Err, &ruleErrs):
			sum.RuleErrors += len(ruleErrs)
		case res.Err != nil:
			sum.BadEvents++
		case len(res.Actions) == 0:
			sum.Skipped++
		}
		if err := fn(res); err != nil {
			return sum, err
		}
	}
}

// Line is the JSON form of one planned action in `plan` output: the
// action's JSON form (see action.Action) after its line number.
type Line struct {
	Line     int             `json:"line"`
	Rule     string          `json:"rule"`
	Action   string          `json:"action"`
	Fields   json.RawMessage `json:"fields"`
	Warnings []string        `json:"warnings,omitempty"`
}

// NewLine is the Line of action a planned for input line n.
func NewLine(n int, a action.Action) Line {
	fields, _ := a.Kind.MarshalFields(a.Fields)
	return Line{Line: n, Rule: a.Rule, Action: a.Kind.Name, Fields: fields, Warnings: a.Warnings}
}

// Messages lists a result's failures one per entry, each starting with
// "line N: ".
func (r *Result) Messages() []string {
	var ruleErrs engine.RuleErrors
	switch {
	case r.Err == nil:
		return nil
	case errors.As(r.Err, &ruleErrs):
		out := make([]string, len(ruleErrs))
		for i, e := range ruleErrs {
			out[i] = fmt.Sprintf("line %d: %v", r.Line, e)
		}
		return out
	}
	return []string{fmt.Sprintf("line %d: %v", r.Line, r.Err)}
}

// WriteReadable writes a result in the golden-file form: each action as
// indented JSON, each failure as "error: line N: ...", and a good event that
// no rule matched as "skip: line N: no rule matched".
func WriteReadable(w io.Writer, r *Result) error {
	var b bytes.Buffer
	for _, a := range r.Actions {
		if err := encode(&b, NewLine(r.Line, a), "  "); err != nil {
			return err
		}
	}
	for _, m := range r.Messages() {
		b.WriteString("error: " + m + "\n")
	}
	if r.Skipped() {
		fmt.Fprintf(&b, "skip: line %d: no rule matched\n", r.Line)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Note is the JSON form of a line that planned no action, or of one failure
// on it, in the --pretty stream: {"line":3,"skip":"no rule matched"},
// {"line":4,"error":"invalid event: ..."} or
// {"line":5,"rule":"Track Event","error":"field event_name: ..."}.
type Note struct {
	Line  int    `json:"line"`
	Rule  string `json:"rule,omitempty"`
	Skip  string `json:"skip,omitempty"`
	Error string `json:"error,omitempty"`
}

// Notes lists a result's failures, and its skip, as Notes.
func (r *Result) Notes() []Note {
	var ruleErrs engine.RuleErrors
	switch {
	case r.Skipped():
		return []Note{{Line: r.Line, Skip: "no rule matched"}}
	case r.Err == nil:
		return nil
	case errors.As(r.Err, &ruleErrs):
		out := make([]Note, len(ruleErrs))
		for i, e := range ruleErrs {
			out[i] = Note{Line: r.Line, Rule: e.Rule, Error: e.Err.Error()}
		}
		return out
	}
	return []Note{{Line: r.Line, Error: r.Err.Error()}}
}

// WritePretty writes a result as a stream of indented JSON objects (what
// `plan --pretty` prints; jq reads it): each planned action, then each
// failure and a skip as a Note.
func WritePretty(w io.Writer, r *Result) error {
	var b bytes.Buffer
	for _, a := range r.Actions {
		if err := encode(&b, NewLine(r.Line, a), "  "); err != nil {
			return err
		}
	}
	for _, n := range r.Notes() {
		if err := encode(&b, n, "  "); err != nil {
			return err
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteJSON writes each planned action of r as one JSON line.
func WriteJSON(w io.Writer, r *Result) error {
	var b bytes.Buffer
	for _, a := range r.Actions {
		if err := encode(&b, NewLine(r.Line, a), ""); err != nil {
			return err
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// encode writes v as JSON and a newline, leaving <, > and & readable.
func encode(b *bytes.Buffer, v any, indent string) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	return enc.Encode(v)
}
