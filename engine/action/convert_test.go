package action

import (
	"strconv"
	"testing"
)

// TestDropped holds dropped's quoting of the key to strconv.Quote, the form
// the warnings had before it quoted the usual key itself.
func TestDropped(t *testing.T) {
	for _, s := range []string{"", "products", "a b", `say "hi"`, `back\slash`, "tab\t", "é", "\x7f", "日本", "\xff"} {
		want := "metadata: dropped " + strconv.Quote(s) + " (array)"
		if got := dropped("metadata", s, "array"); got != want {
			t.Errorf("dropped(%q) = %s, want %s", s, got, want)
		}
	}
}
