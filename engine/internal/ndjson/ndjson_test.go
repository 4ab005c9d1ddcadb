package ndjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// readAll reads every line of in, with the given limit (0: the default),
// as "N: bytes" or "N: !error [prefix]", and checks that the end is io.EOF.
func readAll(t *testing.T, in string, limit int) []string {
	t.Helper()
	rd := NewReader(strings.NewReader(in))
	rd.MaxLine = limit
	var out []string
	for {
		l, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		if l.Err != nil {
			out = append(out, fmt.Sprintf("%d: !%v [%s]", l.Number, l.Err, l.Bytes))
			continue
		}
		out = append(out, fmt.Sprintf("%d: %s", l.Number, l.Bytes))
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("Next after the end: %v, want io.EOF", err)
	}
	return out
}

func TestLines(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"empty input", "", nil},
		{"one newline", "\n", nil},
		{"no final newline", `{"a":1}` + "\n" + `{"b":2}`, []string{`1: {"a":1}`, `2: {"b":2}`}},
		{"blank lines count", "\n{}\n\n\n[1]\n\n", []string{"2: {}", "5: [1]"}},
		{"whitespace-only lines", " \n\t\t\n \v\f \r\n{}\n\u00a0\u2003\n", []string{"4: {}"}},
		{"surrounding white space", "  {} \t\n\t[ 1 ]  \n", []string{"1: {}", "2: [ 1 ]"}},
		{"CRLF", "{}\r\n\r\n[]\r\n", []string{"1: {}", "3: []"}},
		{"CRLF without final line end", "{}\r\n[]\r", []string{"1: {}", "2: []"}},
		{"CR alone is not a line end", "{}\r[]\n", []string{"1: {}\r[]"}},
		{"not JSON is not the reader's business", "not json\n", []string{"1: not json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readAll(t, tc.in, 0)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestLimit(t *testing.T) {
	const limit = 10
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"at the limit", "0123456789\n", []string{"1: 0123456789"}},
		{"at the limit, CRLF", "0123456789\r\n", []string{"1: 0123456789"}},
		{"at the limit, no line end", "0123456789", []string{"1: 0123456789"}},
		{"at the limit, CR at the end", "0123456789\r", []string{"1: 0123456789"}},
		{"white space counts", " 123456789\n", []string{"1: 123456789"}},
		{"one over", "0123456789a\n{}\n", []string{"1: !line is 11 bytes, longer than the 10-byte limit [0123456789a]", "2: {}"}},
		{"one over, CRLF", "0123456789a\r\n{}\r\n", []string{"1: !line is 11 bytes, longer than the 10-byte limit [0123456789a]", "2: {}"}},
		{"one over, no line end", "{}\n0123456789a", []string{"1: {}", "2: !line is 11 bytes, longer than the 10-byte limit [0123456789a]"}},
		{"white space over the limit", "0123456789 \n", []string{"1: !line is 11 bytes, longer than the 10-byte limit [0123456789 ]"}},
		{"blank over the limit", "           \n", []string{"1: !line is 11 bytes, longer than the 10-byte limit []"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readAll(t, tc.in, limit)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestDefaultLimit checks MaxLine itself, on lines longer than the
// Reader's buffer.
func TestDefaultLimit(t *testing.T) {
	at := `{"x":"` + strings.Repeat("a", MaxLine-8) + `"}`
	over := at + " "
	for _, tc := range []struct {
		name, in string
		len      int // of the second line; -1 when it is within the limit
	}{
		{"at the limit", "{}\n" + at + "\n[]\n", -1},
		{"at the limit, CRLF", "{}\r\n" + at + "\r\n[]\r\n", -1},
		{"one over", "{}\n" + over + "\n[]\n", MaxLine + 1},
		{"one over, CRLF", "{}\r\n" + over + "\r\n[]\r\n", MaxLine + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := NewReader(strings.NewReader(tc.in))
			lines := readLines(t, rd)
			if len(lines) != 3 || lines[0].text != "{}" || lines[2].text != "[]" || lines[2].Number != 3 || lines[1].Number != 2 {
				t.Fatalf("lines %v", lines)
			}
			var tooLong *TooLongError
			switch {
			case tc.len < 0 && (lines[1].Err != nil || lines[1].text != at):
				t.Errorf("line 2: err %v, %d bytes; want the line whole", lines[1].Err, len(lines[1].text))
			case tc.len >= 0 && !errors.As(lines[1].Err, &tooLong):
				t.Errorf("line 2: err %v, want a *TooLongError", lines[1].Err)
			case tc.len >= 0 && (*tooLong != TooLongError{Len: tc.len, Max: MaxLine} || lines[1].text != at[:PrefixLen]):
				t.Errorf("line 2: %+v, prefix %q", *tooLong, lines[1].text)
			}
		})
	}
}

// TestLongLineDoesNotStopTheInput: a 10 MB line between two good lines is
// reported with its length, and only its start is kept in memory.
func TestLongLineDoesNotStopTheInput(t *testing.T) {
	long := `{"type":"track","properties":{"blob":"` + strings.Repeat("x", 10<<20-41) + `"}}`
	if len(long) != 10<<20 {
		t.Fatalf("the long line is %d bytes", len(long))
	}
	rd := NewReader(strings.NewReader(`{"n":1}` + "\n\n" + long + "\n" + `{"n":2}` + "\n"))
	lines := readLines(t, rd)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3: %v", len(lines), lines)
	}
	if l := lines[0]; l.Number != 1 || l.text != `{"n":1}` || l.Err != nil {
		t.Errorf("first line: %v", l)
	}
	var tooLong *TooLongError
	if l := lines[1]; l.Number != 3 || !errors.As(l.Err, &tooLong) || *tooLong != (TooLongError{Len: 10 << 20, Max: MaxLine}) || l.text != long[:PrefixLen] {
		t.Errorf("long line: %v", l)
	}
	if msg := lines[1].Err.Error(); msg != "line is 10485760 bytes, longer than the 4194304-byte limit" {
		t.Errorf("message %q", msg)
	}
	if l := lines[2]; l.Number != 4 || l.text != `{"n":2}` || l.Err != nil {
		t.Errorf("last line: %v", l)
	}
	if c := cap(rd.own); c >= 2*MaxLine {
		t.Errorf("the reader kept %d bytes of the 10 MB line", c)
	}
}

// TestCRLFSplitAcrossReads: the CR of a long line's CRLF is the last byte
// of one buffer's worth, the LF the first of the next.
func TestCRLFSplitAcrossReads(t *testing.T) {
	n := 64<<10 - 1 // the Reader's buffer, less the CR
	line := `"` + strings.Repeat("a", n-2) + `"`
	rd := NewReader(strings.NewReader(line + "\r\n{}\r\n"))
	rd.MaxLine = n
	lines := readLines(t, rd)
	if len(lines) != 2 || lines[0].Err != nil || lines[0].text != line || lines[1].text != "{}" {
		t.Errorf("lines %v", lines)
	}
}

func TestPrefixKeepsWholeRunes(t *testing.T) {
	long := "  " + strings.Repeat("é", PrefixLen)
	for _, lead := range []string{"", "x"} { // the cut falls after an "é", then inside one
		rd := NewReader(strings.NewReader(lead + long + "\n"))
		rd.MaxLine = PrefixLen
		lines := readLines(t, rd)
		p, want := lines[0].text, strings.TrimSpace(lead+long[:PrefixLen-len(lead)])
		if len(lead)%2 == 1 {
			want = want[:len(want)-1] // the first byte of an "é"
		}
		if lines[0].Err == nil || !utf8.ValidString(p) || p != want {
			t.Errorf("lead %q: prefix of %d bytes %.10q..., want %d bytes", lead, len(p), p, len(want))
		}
	}
}

type failingReader struct {
	data  string
	reads int
}

var errBoom = errors.New("boom")

func (f *failingReader) Read(p []byte) (int, error) {
	f.reads++
	if f.data == "" {
		return 0, errBoom
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadErrorNamesTheLine(t *testing.T) {
	rd := NewReader(&failingReader{data: "{}\n\n[1, 2"})
	if l, err := rd.Next(); err != nil || string(l.Bytes) != "{}" {
		t.Fatalf("first line: %v, %v", l, err)
	}
	for range 2 { // and again: the error sticks
		if _, err := rd.Next(); !errors.Is(err, errBoom) || err.Error() != "line 3: boom" {
			t.Errorf("err = %v, want line 3: boom", err)
		}
	}
}

// eofCounter counts reads after the end.
type eofCounter struct {
	r     io.Reader
	after int
}

func (e *eofCounter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.after++
	}
	return n, err
}

// TestEOFSticks: at the end of a terminal's input, a second read would
// wait for more.
func TestEOFSticks(t *testing.T) {
	src := &eofCounter{r: strings.NewReader("{}")}
	rd := NewReader(src)
	for range 3 {
		rd.Next()
	}
	if src.after != 1 {
		t.Errorf("read %d times at the end, want once", src.after)
	}
}

// FuzzReader compares the Reader, line by line and buffer by buffer, with
// splitting the whole input at "\n", whatever sizes the input's reads come
// in.
func FuzzReader(f *testing.F) {
	for _, s := range []string{"", "\n", "a\r\nb", " \n\r\n", "0123456789ab\ncd\r\n", "\r\n\r", "é\n\u00a0x\u00a0\n", "  éééé\n", "0000\r"} {
		f.Add(s, 4)
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, in string, limit int) {
		if limit < 0 || limit > 1<<20 {
			return
		}
		want := split(in, limit)
		for name, src := range map[string]func() io.Reader{
			"whole":    func() io.Reader { return strings.NewReader(in) },
			"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(in)) },
			"halves":   func() io.Reader { return iotest.HalfReader(strings.NewReader(in)) },
		} {
			rd := NewReader(src())
			rd.MaxLine = limit
			compareLines(t, fmt.Sprintf("Next, %s reads, input %q, limit %d", name, in, limit), readLines(t, rd), want)
			rd = NewReader(src())
			rd.MaxLine = limit
			compareLines(t, fmt.Sprintf("Fill, %s reads, input %q, limit %d", name, in, limit), fillLines(t, rd), want)
		}
	})
}

// split is what the Reader should make of in: the reference.
func split(in string, limit int) []line {
	max := limit
	if max == 0 {
		max = MaxLine
	}
	var want []line
	for i, text := range strings.SplitAfter(in, "\n") {
		text = strings.TrimSuffix(strings.TrimSuffix(text, "\n"), "\r")
		switch {
		case len(text) > max:
			want = append(want, line{Line{Number: i + 1, Err: &TooLongError{Len: len(text), Max: max}}, text})
		case strings.TrimSpace(text) != "":
			want = append(want, line{Line{Number: i + 1}, string(bytes.TrimSpace([]byte(text)))})
		}
	}
	return want
}

// compareLines fails the test unless got is want, a too-long line's text
// being its prefix.
func compareLines(t *testing.T, what string, got, want []line) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s:\ngot  %v\nwant %v", what, got, want)
	}
	for i, g := range got {
		w := want[i]
		if g.Number != w.Number || fmt.Sprint(g.Err) != fmt.Sprint(w.Err) {
			t.Fatalf("%s: line %d is %v, want %v", what, i, g, w)
		}
		if w.Err == nil && g.text != w.text {
			t.Fatalf("%s: line %d is %q, want %q", what, i, g.text, w.text)
		}
		// The prefix of a long line: its start, less leading white space
		// and at most a cut rune.
		start := strings.TrimLeftFunc(w.text, unicode.IsSpace)
		cut := strings.TrimLeftFunc(w.text[:min(len(w.text), PrefixLen)], unicode.IsSpace)
		if w.Err != nil && (!strings.HasPrefix(start, g.text) || len(g.text) > len(cut) || len(g.text) < len(cut)-(utf8.UTFMax-1) ||
			utf8.ValidString(start) && !utf8.ValidString(g.text)) {
			t.Fatalf("%s: line %d has the prefix %q", what, i, g.text)
		}
	}
}

// fillLines reads every line with Fill, into a small buffer of its own each
// time (it grows as lines need), and copies the lines' bytes only at the
// end: a buffer Fill returned must not change after.
func fillLines(t *testing.T, rd *Reader) []line {
	t.Helper()
	var lines []Line
	for {
		buf, got, err := rd.Fill(make([]byte, 0, 8), lines)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == len(lines) {
			t.Fatalf("Fill returned no line and no error")
		}
		for _, l := range got[len(lines):] {
			if len(l.Bytes) > 0 && !inside(l.Bytes, buf) {
				t.Fatalf("line %d is not in the buffer Fill returned", l.Number)
			}
		}
		lines = got
	}
	out := make([]line, len(lines))
	for i, l := range lines {
		out[i] = line{l, string(l.Bytes)}
	}
	return out
}

// inside reports whether b lies within buf's bytes.
func inside(b, buf []byte) bool {
	if len(buf) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(&buf[0]))
	p := uintptr(unsafe.Pointer(&b[0]))
	return p >= start && p+uintptr(len(b)) <= start+uintptr(len(buf))
}

// TestFillDoesNotWaitForMore: a pipe's reader (a terminal, `tail -f`) gets
// the lines that came, without Fill reading again and so waiting for more.
func TestFillDoesNotWaitForMore(t *testing.T) {
	src := &countingReader{chunks: []string{"{\"a\":1}\n{\"b\"", ":2}\n"}}
	rd := NewReader(src)
	buf, lines, err := rd.Fill(nil, nil)
	if err != nil || len(lines) != 1 || string(lines[0].Bytes) != `{"a":1}` || src.reads != 1 {
		t.Fatalf("first Fill: %v %v, %d reads; want one line after one read", err, lines, src.reads)
	}
	if _, lines, err = rd.Fill(buf, lines[:0]); err != nil || len(lines) != 1 || string(lines[0].Bytes) != `{"b":2}` || lines[0].Number != 2 || src.reads != 2 {
		t.Fatalf("second Fill: %v %v, %d reads; want line 2 after a second read", err, lines, src.reads)
	}
}

// countingReader returns its chunks one read at a time, then io.EOF.
type countingReader struct {
	chunks []string
	reads  int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	if c.chunks[0] == "" {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

type line struct {
	Line
	text string
}

func (l line) String() string {
	return fmt.Sprintf("{%d %d bytes %.20q... %v}", l.Number, len(l.text), l.text, l.Err)
}

// readLines reads every line, copying its bytes.
func readLines(t *testing.T, rd *Reader) []line {
	t.Helper()
	var out []line
	for {
		l, err := rd.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, line{l, string(l.Bytes)})
	}
}
