// Package ndjson reads newline-delimited JSON: it splits its input into
// numbered lines, trims them and skips blank ones. It reads events but does
// not interpret them: whether a line is JSON, or an event, is for the
// caller to find out.
//
// It is the one NDJSON reader behind `plan`, `test` and `send`, so that
// they number lines, and treat over-long lines, the same way. A line longer
// than the limit does not stop the input: it is skipped without being held
// in memory whole, and reported as a [Line] whose Err is a [*TooLongError].
package ndjson

import (
	"bufio"
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

// Line is one non-blank line of the input.
type Line struct {
	// Number is the 1-based line number in the input; blank lines count.
	Number int
	// Bytes is the line with surrounding white space (including the CR of
	// a CRLF line end) trimmed. It is valid until the next call to Next.
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
	// only its start is kept (at most MaxLine bytes are held), and returned
	// with a *TooLongError. Set it before the first call to Next.
	MaxLine int

	br  *bufio.Reader
	buf []byte // a line longer than br's buffer, or the start of a too-long one
	num int    // lines read so far
	err error  // sticky: io.EOF or the read error
}

// NewReader returns a Reader that reads r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next non-blank line. It returns io.EOF after the last
// line (a final line needs no line end), and any other error only when
// reading the input failed; such an error names the line it stopped in.
// A line longer than the limit is not an error of Next: it comes back as
// a Line with Err set, and the following call reads the next line.
func (r *Reader) Next() (Line, error) {
	for {
		raw, n, err := r.readLine()
		if err != nil {
			return Line{}, err
		}
		r.num++
		if limit := r.limit(); n > limit {
			return Line{Number: r.num, Bytes: prefix(raw[:min(len(raw), n)]), Err: &TooLongError{Len: n, Max: limit}}, nil
		}
		if line := bytes.TrimSpace(raw); len(line) > 0 {
			return Line{Number: r.num, Bytes: line}, nil
		}
	}
}

// limit is the longest line accepted.
func (r *Reader) limit() int {
	if r.MaxLine > 0 {
		return r.MaxLine
	}
	return MaxLine
}

// readLine reads one line, its line end included. It returns the line, or
// at least its first limit+2 bytes when it is longer, and its length without
// the line end.
func (r *Reader) readLine() (raw []byte, n int, err error) {
	if r.err != nil {
		return nil, 0, r.err
	}
	frag, err := r.br.ReadSlice('\n')
	if err == nil { // the common case: the whole line is in br's buffer
		n = len(frag) - 1
		if n > 0 && frag[n-1] == '\r' {
			n--
		}
		return frag, n, nil
	}
	raw, n = frag, len(frag)
	var last2 [2]byte // the last two bytes read, to find a "\r\n" split across reads
	if err == bufio.ErrBufferFull {
		keep := r.limit() + len("\r\n") // a line this long may still be within the limit
		r.buf = append(r.buf[:0], frag[:min(len(frag), keep)]...)
		for err == bufio.ErrBufferFull {
			last2 = tail2(last2, frag)
			frag, err = r.br.ReadSlice('\n')
			n += len(frag)
			if room := keep - len(r.buf); room > 0 {
				r.buf = append(r.buf, frag[:min(len(frag), room)]...)
			}
		}
		raw = r.buf
	}
	last2 = tail2(last2, frag)
	switch {
	case err == io.EOF && n == 0:
		r.err = io.EOF
		return nil, 0, io.EOF
	case err == io.EOF:
		r.err = io.EOF // a last line without a line end; do not read again
		if last2[1] == '\r' {
			n-- // a CRLF cut short
		}
	case err != nil:
		r.err = fmt.Errorf("line %d: %w", r.num+1, err)
		return nil, 0, r.err
	case last2 == [2]byte{'\r', '\n'}:
		n -= 2
	default:
		n--
	}
	return raw, n, nil
}

// tail2 returns the last two bytes of what was read, given the last two
// before frag.
func tail2(last2 [2]byte, frag []byte) [2]byte {
	switch len(frag) {
	case 0:
		return last2
	case 1:
		return [2]byte{last2[1], frag[0]}
	}
	return [2]byte{frag[len(frag)-2], frag[len(frag)-1]}
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
