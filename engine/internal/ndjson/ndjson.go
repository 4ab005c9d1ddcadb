// Package ndjson reads newline-delimited JSON: it splits its input into
// numbered lines, trims them and skips blank ones. It reads events but does
// not interpret them: whether a line is JSON, or an event, is for the
// caller to find out.
//
// It is the one NDJSON reader behind `plan`, `test` and `send`, so that
// they number lines, and treat over-long lines, the same way. A line longer
// than the limit does not stop the input: it is skipped without being held
// in memory whole, and reported as a [Line] whose Err is a [*TooLongError].
//
// Lines come one at a time ([Reader.Next]) or a read's worth at a time into
// a buffer the caller owns ([Reader.Fill]), so that a caller that hands
// batches of lines to other goroutines need not copy them.
package ndjson

import (
	"bytes"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// MaxLine is the default limit on the length of a line, in bytes, not
// counting its line end (Segment caps events at 32 KB; this leaves room for
// batches of traits).
const MaxLine = 4 << 20

// PrefixLen is how much of a line longer than the limit is kept, in bytes:
// enough to show it or dead-letter it, and to tell which event it was.
const PrefixLen = 1 << 10

// BufferSize is the size of the buffer a read fills, unless the caller's
// buffer is larger: about sixty realistic events.
const BufferSize = 64 << 10

// Line is one non-blank line of the input.
type Line struct {
	// Number is the 1-based line number in the input; blank lines count.
	Number int
	// Bytes is the line with surrounding white space (including the CR of
	// a CRLF line end) trimmed. From Next, it is valid until the next call
	// to Next; from Fill, it lies in the buffer Fill returned.
	// When Err is set, it holds only the first PrefixLen bytes of the line,
	// less its leading white space.
	Bytes []byte
	// Err is set when the line could not be read whole: a *TooLongError.
	// The Reader goes on with the next line.
	Err error
}

// TooLongError is the Err of a line longer than the limit.
type TooLongError struct {
	Len int // the length of the line, its line end not counted
	Max int // the limit it is over
}

// Error gives the line's length and the limit, e.g. "line is 10485760
// bytes, longer than the 4194304-byte limit".
func (e *TooLongError) Error() string {
	return fmt.Sprintf("line is %d bytes, longer than the %d-byte limit", e.Len, e.Max)
}

// Reader reads the lines of an NDJSON input. Create it with NewReader.
type Reader struct {
	// MaxLine is the longest line accepted, in bytes, not counting its line
	// end ("\n" or "\r\n"; at the end of the input, none or "\r"); 0 means
	// the package's MaxLine. A longer line is read up to its line end while
	// only its start is kept (the buffer grows to about MaxLine bytes at
	// most), and returned with a *TooLongError. Set it before the first read.
	MaxLine int

	r     io.Reader
	carry []byte // read past the last line handed out: the start of the next buffer
	num   int    // lines handed out or skipped so far
	err   error  // sticky, once carry is used up: io.EOF or the read error

	// Next's own buffer, its lines and the next one to hand out.
	own   []byte
	lines []Line
	at    int
}

// NewReader returns a Reader that reads r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r}
}

// Next returns the next non-blank line. It returns io.EOF after the last
// line (a final line needs no line end), and any other error only when
// reading the input failed; such an error names the line it stopped in.
// A line longer than the limit is not an error of Next: it comes back as
// a Line with Err set, and the following call reads the next line.
func (r *Reader) Next() (Line, error) {
	if r.at == len(r.lines) {
		var err error
		r.own, r.lines, err = r.Fill(r.own, r.lines[:0])
		r.at = 0
		if err != nil {
			return Line{}, err
		}
	}
	r.at++
	return r.lines[r.at-1], nil
}

// Fill reads the next non-blank lines into buf, reusing its memory, and
// appends them to lines. It returns at least one line, or an error: io.EOF
// after the last line, or the read error, which names the line it stopped
// in. The lines are those whole in the input's last read: from a file,
// about cap(buf) bytes of them (BufferSize for a nil buf); from a pipe,
// what has come so far, without waiting for more. The part of a line the
// read cut off is kept for the next call; buf grows only for a line longer
// than it. The lines' Bytes lie in the returned buffer, which the Reader
// no longer touches: the caller may keep it as long as it likes, and give
// it back to a later Fill.
func (r *Reader) Fill(buf []byte, lines []Line) ([]byte, []Line, error) {
	if cap(buf) == 0 {
		buf = make([]byte, 0, BufferSize)
	}
	buf = append(buf[:0], r.carry...)
	r.carry = r.carry[:0]
	first := len(lines)
	start := 0   // where the line being scanned starts
	scanned := 0 // buf[start:scanned] has no line end: a long line's reads are searched once
	for {
		// Hand out every whole line in buf.
		for {
			i := bytes.IndexByte(buf[scanned:], '\n')
			if i < 0 {
				scanned = len(buf)
				break
			}
			end := scanned + i
			lines = r.appendLine(lines, buf[start:end], end-start, end > start && buf[end-1] == '\r')
			start, scanned = end+1, end+1
		}
		if len(lines) > first || r.err != nil {
			break
		}
		// No whole line yet: make room, then read.
		if start > 0 {
			buf = buf[:copy(buf, buf[start:])]
			start, scanned = 0, scanned-start
		}
		if len(buf) > r.held() {
			return r.skipLong(buf, lines)
		}
		if free := cap(buf) - len(buf); free < cap(buf)/4 && cap(buf) < r.held()+BufferSize {
			grown := make([]byte, len(buf), min(2*cap(buf), r.held()+BufferSize))
			buf = grown[:copy(grown, buf)]
		}
		buf = r.read(buf)
	}
	if len(lines) > first {
		// What follows the last whole line waits for the next call, even
		// after the end of the input: that call makes it the last line.
		r.carry = append(r.carry, buf[start:]...)
		return buf[:start], lines, nil
	}
	// Nothing whole before the end of the input: the rest is the last line.
	// After a failed read, it is lost.
	if r.err == io.EOF && start < len(buf) {
		raw := buf[start:]
		n := len(raw)
		if raw[n-1] == '\r' {
			n-- // a CRLF cut short
		}
		if lines = r.appendLine(lines, raw, n, false); len(lines) > first {
			return buf, lines, nil
		}
	}
	return buf[:0], lines, r.readErr()
}

// readErr is Fill's error once the input is used up: io.EOF, or the read
// error with the line it stopped in.
func (r *Reader) readErr() error {
	if r.err == io.EOF {
		return io.EOF
	}
	return fmt.Errorf("line %d: %w", r.num+1, r.err)
}

// read reads once into buf's free space, setting r.err at the end of the
// input or when the read fails.
func (r *Reader) read(buf []byte) []byte {
	for tries := 0; tries < 100; tries++ {
		n, err := r.r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			r.err = err
			return buf
		}
		if n > 0 {
			return buf
		}
	}
	r.err = io.ErrNoProgress
	return buf
}

// appendLine numbers the line raw (n bytes long without its line end; cr
// tells a CRLF end) and appends it unless it is blank.
func (r *Reader) appendLine(lines []Line, raw []byte, n int, cr bool) []Line {
	r.num++
	if cr {
		n--
	}
	if limit := r.limit(); n > limit {
		return append(lines, Line{Number: r.num, Bytes: prefix(raw[:min(n, len(raw))]), Err: &TooLongError{Len: n, Max: limit}})
	}
	if line := bytes.TrimSpace(raw[:n]); len(line) > 0 {
		return append(lines, Line{Number: r.num, Bytes: line})
	}
	return lines
}

// skipLong reads on to the end of the line that starts buf and is longer
// than the limit, keeping only its prefix, and returns it as a Line with
// a *TooLongError. What follows the line's end is kept for the next call.
func (r *Reader) skipLong(buf []byte, lines []Line) ([]byte, []Line, error) {
	n := len(buf) // the line's length so far
	last := buf[n-1]
	keep := min(n, PrefixLen)
	for r.err == nil {
		buf = r.read(buf[:keep])
		read := buf[keep:]
		if i := bytes.IndexByte(read, '\n'); i >= 0 {
			if i > 0 {
				last = read[i-1]
			}
			r.carry = append(r.carry, read[i+1:]...)
			n += i
			return buf[:keep], r.appendLine(lines, buf[:keep], n, last == '\r'), nil
		}
		if len(read) > 0 {
			n += len(read)
			last = read[len(read)-1]
		}
	}
	if r.err == io.EOF {
		return buf[:keep], r.appendLine(lines, buf[:keep], n, last == '\r'), nil
	}
	return buf[:0], lines, r.readErr()
}

// held is how much of a line without a line end is held before it counts
// as too long: the limit and a CRLF (a line this long may still be within
// the limit), and at least a prefix's worth.
func (r *Reader) held() int {
	return max(r.limit()+len("\r\n"), PrefixLen)
}

// limit is the longest line accepted.
func (r *Reader) limit() int {
	if r.MaxLine > 0 {
		return r.MaxLine
	}
	return MaxLine
}

// prefix returns the start of a too-long line: at most PrefixLen bytes,
// leading white space trimmed, and not ending in a cut UTF-8 sequence.
func prefix(raw []byte) []byte {
	p := bytes.TrimLeftFunc(raw[:min(len(raw), PrefixLen)], unicode.IsSpace)
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				p = p[:i]
			}
			break
		}
	}
	return p
}
