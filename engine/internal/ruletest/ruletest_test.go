package ruletest

import (
	"flag"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the want sections of the golden cases")

// TestGoldenCases runs every case under testdata/cases, the same cases
// `intercom-actions test` runs.
func TestGoldenCases(t *testing.T) {
	paths, err := Find(filepath.Join("..", "..", "..", "testdata", "cases"), filepath.Join("..", "..", "..", "testdata", "transcripts"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no golden cases found")
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			o, err := Run(p, *update)
			if err != nil {
				t.Fatal(err)
			}
			if o.Updated {
				t.Logf("updated %s", p)
			}
			if !o.Passed {
				t.Errorf("%s differs from its want section:\n%s", p, o.Diff)
			}
		})
	}
}
