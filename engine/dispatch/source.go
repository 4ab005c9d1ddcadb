package dispatch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/planner"
)

// LineSource reads NDJSON events, one per line, skipping blank lines. A
// dead-letter record (an object with "event" and "error" but no "type")
// is unwrapped, so a dead-letter file can be sent again as it is: its event
// is re-sent for the failed rule only.
type LineSource struct {
	name string
	sc   *bufio.Scanner
	line int
}

// NewLineSource reads r; name labels the events' refs ("name:line").
func NewLineSource(name string, r io.Reader) *LineSource {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), planner.MaxLine) // the same limit as plan
	return &LineSource{name: name, sc: sc}
}

// Next returns the next event, or io.EOF.
func (s *LineSource) Next(ctx context.Context) (Event, error) {
	for s.sc.Scan() {
		s.line++
		raw := bytes.TrimSpace(s.sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		ev := Event{Raw: bytes.Clone(raw), Ref: fmt.Sprintf("%s:%d", s.name, s.line)}
		if dl := gjson.GetManyBytes(raw, "event", "error", "type", "rule", "ref"); dl[0].Exists() && dl[1].Exists() && !dl[2].Exists() {
			ev.Raw = []byte(dl[0].Raw)
			if dl[0].Type == gjson.String { // the event was not JSON
				ev.Raw = []byte(dl[0].Str)
			}
			ev.Only = dl[3].Str
			if dl[4].Str != "" {
				ev.Ref = dl[4].Str + " (via " + ev.Ref + ")"
			}
		}
		return ev, ctx.Err()
	}
	if err := s.sc.Err(); err != nil {
		return Event{}, fmt.Errorf("%s:%d: %w", s.name, s.line+1, err)
	}
	return Event{}, io.EOF
}

// MultiSource reads several sources one after another.
type MultiSource []Source

// Next returns the next event of the first source that has one.
func (m *MultiSource) Next(ctx context.Context) (Event, error) {
	for len(*m) > 0 {
		ev, err := (*m)[0].Next(ctx)
		if err != io.EOF {
			return ev, err
		}
		*m = (*m)[1:]
	}
	return Event{}, io.EOF
}
