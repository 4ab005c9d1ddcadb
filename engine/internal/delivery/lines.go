package delivery

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/internal/ndjson"
)

// LineSource reads NDJSON events, one per line, skipping blank lines. A
// dead-letter record (an object with "event" and "error" but no "type")
// is unwrapped, so a dead-letter file can be sent again as it is: its event
// is re-sent for the failed rule only. A line longer than ndjson.MaxLine
// (the same limit as `plan`) comes as an Event with Err set, so that it is
// dead-lettered with its length and the run goes on.
//
// A dead letter whose outcome is unknown (an action cut off mid-request:
// Intercom may have applied it) is not sent again unless IncludeUnknown is
// set: its event comes with an Err wrapping ErrOutcomeUnknown, so it is
// dead-lettered again, as unknown, rather than maybe applied twice.
type LineSource struct {
	// IncludeUnknown re-sends dead letters whose outcome is unknown.
	IncludeUnknown bool

	name string
	rd   *ndjson.Reader
	line int // of the last event returned
}

// NewLineSource reads r; name labels the events' refs ("name:line").
func NewLineSource(name string, r io.Reader) *LineSource {
	return &LineSource{name: name, rd: ndjson.NewReader(r)}
}

// Next returns the next event, or io.EOF; when ctx is done, it returns
// ctx's error without reading.
func (s *LineSource) Next(ctx context.Context) (Event, error) {
	if err := ctx.Err(); err != nil {
		return Event{}, err
	}
	line, err := s.rd.Next()
	if err == io.EOF {
		return Event{}, io.EOF
	}
	if err != nil {
		return Event{}, fmt.Errorf("%s: %w", s.name, err)
	}
	s.line = line.Number
	raw := line.Bytes
	ev := Event{Raw: bytes.Clone(raw), Ref: fmt.Sprintf("%s:%d", s.name, line.Number), Err: line.Err}
	if line.Err != nil { // only the start of the line: nothing to unwrap
		return ev, nil
	}
	if dl := gjson.GetManyBytes(raw, "event", "error", "type", "rule", "ref", "outcome"); dl[0].Exists() && dl[1].Exists() && !dl[2].Exists() {
		ev.Raw = []byte(dl[0].Raw)
		if dl[0].Type == gjson.String { // the event was not JSON
			ev.Raw = []byte(dl[0].Str)
		}
		ev.Only = dl[3].Str
		if dl[4].Str != "" {
			ev.Ref = dl[4].Str + " (via " + ev.Ref + ")"
		}
		if dl[5].Str == OutcomeUnknown && !s.IncludeUnknown {
			ev.Err = fmt.Errorf("%w, so not sent again: Intercom may have applied it (%s); re-send it on purpose with --include-unknown", ErrOutcomeUnknownEarlier, dl[1].Str)
		}
	}
	return ev, nil
}

// Line returns the line number of the event Next returned last.
func (s *LineSource) Line() int { return s.line }

// RefLine returns the line of the input named name that ref, the Ref of an
// event a LineSource reading name gave ("name:12", or "… (via name:12)"
// for a dead letter sent again), says the event was read from; ok is false
// when ref is not such a ref.
func RefLine(ref, name string) (line int, ok bool) {
	if i := strings.LastIndex(ref, " (via "); i >= 0 && strings.HasSuffix(ref, ")") {
		ref = ref[i+len(" (via ") : len(ref)-1]
	}
	rest, ok := strings.CutPrefix(ref, name+":")
	if !ok {
		return 0, false
	}
	line, err := strconv.Atoi(rest)
	if err != nil || line <= 0 || rest[0] == '+' {
		return 0, false
	}
	return line, true
}
