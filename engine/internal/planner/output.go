package planner

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// AppendJSON appends each planned action of r as one line of `plan`
// output: {"line":N,"rule":...,"action":...,"fields":{...},"warnings":[...]}.
// It writes the bytes encoding/json would (HTML left unescaped, every value
// compact) without reflection or a buffer per action.
func AppendJSON(dst []byte, r *Result) []byte {
	for _, a := range r.Actions {
		dst = appendLine(dst, r.Line, a)
		dst = append(dst, '\n')
	}
	return dst
}

// AppendReadable appends a result in the golden-file form: each action as
// indented JSON, each failure as "error: line N: ...", and a good event that
// no rule matched as "skip: line N: no rule matched".
func AppendReadable(dst []byte, r *Result) []byte {
	var line []byte
	for _, a := range r.Actions {
		line = appendLine(line[:0], r.Line, a)
		dst = appendIndented(dst, line)
	}
	for _, m := range r.Messages() {
		dst = append(dst, "error: "...)
		dst = append(dst, m...)
		dst = append(dst, '\n')
	}
	if r.Skipped() {
		dst = append(dst, "skip: line "...)
		dst = strconv.AppendInt(dst, int64(r.Line), 10)
		dst = append(dst, ": no rule matched\n"...)
	}
	return dst
}

// AppendPretty appends a result as a stream of indented JSON objects (what
// `plan --pretty` prints; jq reads it): each planned action, then each
// failure and a skip as a Note.
func AppendPretty(dst []byte, r *Result) []byte {
	var line []byte
	for _, a := range r.Actions {
		line = appendLine(line[:0], r.Line, a)
		dst = appendIndented(dst, line)
	}
	for _, n := range r.Notes() {
		line = append(line[:0], `{"line":`...)
		line = strconv.AppendInt(line, int64(n.Line), 10)
		for _, kv := range [...][2]string{{"rule", n.Rule}, {"skip", n.Skip}, {"error", n.Error}} {
			if kv[1] != "" {
				line = append(line, `,"`+kv[0]+`":`...)
				line = intercom.AppendString(line, kv[1])
			}
		}
		dst = appendIndented(dst, append(line, '}'))
	}
	return dst
}

// appendIndented appends the compact JSON line indented by two spaces, and
// a newline, as encoding/json's Encoder with SetIndent("", "  ") writes it.
func appendIndented(dst, line []byte) []byte {
	b := bytes.NewBuffer(dst)
	if err := json.Indent(b, line, "", "  "); err != nil {
		panic("planner: invalid plan line " + string(line) + ": " + err.Error())
	}
	return append(b.Bytes(), '\n')
}

// appendLine appends one action's line, without the newline.
func appendLine(dst []byte, line int, a action.Action) []byte {
	dst = append(dst, `{"line":`...)
	dst = strconv.AppendInt(dst, int64(line), 10)
	dst = append(dst, `,"rule":`...)
	dst = intercom.AppendString(dst, a.Rule)
	dst = append(dst, `,"action":`...)
	dst = intercom.AppendString(dst, a.Kind.Name)
	dst = append(dst, `,"fields":`...)
	dst = a.Kind.AppendFields(dst, a.Fields)
	if len(a.Warnings) > 0 {
		dst = append(dst, `,"warnings":[`...)
		for i, w := range a.Warnings {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = intercom.AppendString(dst, w)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}
