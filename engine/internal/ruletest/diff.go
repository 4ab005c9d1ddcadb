package ruletest

import (
	"fmt"
	"strings"
)

// contextLines is how many unchanged lines are shown around each change.
const contextLines = 3

// Diff returns a unified-style line diff from a to b ("" when equal):
// "-" lines are only in a, "+" lines only in b.
func Diff(aName, a, bName, b string) string {
	if a == b {
		return ""
	}
	x, y := lines(a), lines(b)
	// Longest common subsequence table; golden outputs are small.
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte // ' ', '-', '+'
		text string
		line int // line number in a (for ' ' and '-') or b (for '+')
	}
	var ops []op
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, op{' ', x[i], i + 1})
			i++
			j++
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', x[i], i + 1})
			i++
		default:
			ops = append(ops, op{'+', y[j], j + 1})
			j++
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	lastShown := -1
	for k := range ops {
		near := false
		for d := -contextLines; d <= contextLines; d++ {
			if k+d >= 0 && k+d < len(ops) && ops[k+d].kind != ' ' {
				near = true
				break
			}
		}
		if !near {
			continue
		}
		if lastShown < 0 || k > lastShown+1 {
			fmt.Fprintf(&out, "@@ line %d\n", ops[k].line)
		}
		fmt.Fprintf(&out, "%c %s\n", ops[k].kind, ops[k].text)
		lastShown = k
	}
	return out.String()
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
