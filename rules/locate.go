package rules

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// A scalar's Value is not always its text in the file: YAML folds a plain
// or quoted value written over several lines into one, decodes escapes
// (\u00e9 is one rune written in six, '' one quote), and a block (| or >)
// starts on the line after its indicator. locate reads the scalar's text
// in the file as YAML does, and records where each rune of Value is
// written, so that a mistake at an offset into the value is reported on
// its line and at its column.

// runeLines splits src into lines of runes, without their line breaks
// ("\n", "\r\n" or "\r", as YAML counts lines).
func runeLines(src []byte) [][]rune {
	var lines [][]rune
	for _, l := range splitLines(string(src)) {
		lines = append(lines, []rune(strings.TrimRight(l, "\r\n")))
	}
	return lines
}

// locate returns where each rune of the scalar n's value is written in a
// file of lines; nil when n is no scalar, or its text in the file does
// not read as its value (a tag, a block's explicit indentation).
func locate(lines [][]rune, n *yaml.Node) []spot {
	if n.Kind != yaml.ScalarNode || n.Line < 1 || n.Line > len(lines) || n.Column < 1 {
		return nil
	}
	w := &walker{lines: lines, line: n.Line - 1, col: n.Column - 1, style: n.Style}
	value := []rune(n.Value)
	switch n.Style {
	case 0:
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		w.col++ // the opening quote
	case yaml.LiteralStyle, yaml.FoldedStyle:
		if !w.blockStart() {
			return nil
		}
	default:
		return nil
	}
	spots := make([]spot, 0, len(value))
	for i := 0; i < len(value); {
		if w.line >= len(lines) {
			return nil
		}
		line, r := lines[w.line], value[i]
		if w.atLineEnd() {
			// A line break: YAML keeps it (\n) or folds it into a space.
			if r != ' ' && r != '\n' {
				return nil
			}
			spots = append(spots, w.spot())
			i++
			w.nextLine()
			for w.line < len(lines) && w.blankLine() {
				if i < len(value) && value[i] == '\n' {
					spots = append(spots, w.spot())
					i++
				}
				w.nextLine()
			}
			w.indent()
			continue
		}
		c := line[w.col]
		switch {
		case w.style == yaml.DoubleQuotedStyle && c == '\\':
			if w.col+1 >= len(line) { // an escaped line break: no rune
				w.nextLine()
				w.indent()
				continue
			}
			spots = append(spots, w.spot())
			i++
			w.col += 2 + escapeDigits[line[w.col+1]]
		case w.style == yaml.SingleQuotedStyle && c == '\'':
			if r != '\'' || w.col+1 >= len(line) || line[w.col+1] != '\'' {
				return nil
			}
			spots = append(spots, w.spot())
			i++
			w.col += 2
		case c == r:
			spots = append(spots, w.spot())
			i++
			w.col++
		default:
			return nil
		}
	}
	return spots
}

// escapeDigits is how many hex digits follow the letter of an escape in
// a double-quoted value; every other escape is one letter.
var escapeDigits = map[rune]int{'x': 2, 'u': 4, 'U': 8}

// walker reads a scalar's text in the file, a rune at a time.
type walker struct {
	lines     [][]rune
	line, col int // 0-based
	style     yaml.Style
	blockIn   int // a block's indentation
}

func (w *walker) block() bool {
	return w.style == yaml.LiteralStyle || w.style == yaml.FoldedStyle
}

func (w *walker) spot() spot { return spot{line: w.line + 1, col: w.col + 1} }

// blockStart moves to the first rune of a block scalar, on the lines after
// its indicator, and finds its indentation (that of its first line that
// is not blank); false when the indicator gives the indentation.
func (w *walker) blockStart() bool {
	header := strings.TrimSpace(string(w.lines[w.line][w.col:]))
	if i := strings.IndexByte(header, '#'); i >= 0 {
		header = strings.TrimSpace(header[:i])
	}
	if strings.ContainsAny(header, "123456789") {
		return false
	}
	w.line++
	for l := w.line; l < len(w.lines); l++ {
		if text := string(w.lines[l]); strings.TrimLeft(text, " ") != "" {
			w.blockIn = len(text) - len(strings.TrimLeft(text, " "))
			break
		}
	}
	w.col = 0
	if w.line < len(w.lines) && !w.blankLine() {
		w.indent()
	}
	return true
}

// atLineEnd reports whether the line holds no more of the value: its end,
// or (outside a block) only blanks up to its end.
func (w *walker) atLineEnd() bool {
	line := w.lines[w.line]
	if w.col >= len(line) {
		return true
	}
	return !w.block() && strings.TrimLeft(string(line[w.col:]), " \t") == ""
}

// blankLine reports whether the current line is blank (for a block: holds
// nothing past its indentation).
func (w *walker) blankLine() bool {
	line := string(w.lines[w.line])
	if w.block() {
		return strings.TrimLeft(line, " ") == "" && len(line) <= w.blockIn
	}
	return strings.TrimLeft(line, " \t") == ""
}

func (w *walker) nextLine() { w.line, w.col = w.line+1, 0 }

// indent skips the indentation of a line: a block's own, or every blank
// before a plain or quoted value's next line.
func (w *walker) indent() {
	if w.line >= len(w.lines) {
		return
	}
	line := w.lines[w.line]
	for w.col < len(line) && (line[w.col] == ' ' || line[w.col] == '\t' && !w.block()) && (!w.block() || w.col < w.blockIn) {
		w.col++
	}
}
