package action

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated sections of README.md")

const (
	beginMarker = "<!-- actions:begin -->\n"
	endMarker   = "<!-- actions:end -->"
)

// TestReadmeReference keeps README.md's "Actions and fields" section equal
// to the action table; -update rewrites it.
func TestReadmeReference(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	i := strings.Index(readme, beginMarker)
	j := strings.Index(readme, endMarker)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", beginMarker, endMarker)
	}
	got := readme[i+len(beginMarker) : j]
	want := Reference()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:i+len(beginMarker)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's action reference is out of date with the actions in engine/action; run go test ./engine/action -update")
}
