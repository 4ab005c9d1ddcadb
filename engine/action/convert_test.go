package action

import (
	"strconv"
	"testing"
)

// TestQuote holds quote to strconv.Quote, the form the warnings had before.
func TestQuote(t *testing.T) {
	for _, s := range []string{"", "products", "a b", `say "hi"`, `back\slash`, "tab\t", "é", "\x7f", "日本", "\xff"} {
		if got, want := quote(s), strconv.Quote(s); got != want {
			t.Errorf("quote(%q) = %s, want %s", s, got, want)
		}
	}
}
