package action

import (
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated action reference, README.md in this folder")

// referencePath is the action reference: this folder's README.md, which
// GitHub shows under the folder's file list and the top README.md links to.
const referencePath = "README.md"

// referenceFile is the whole of referencePath: a header, then Reference().
func referenceFile() string {
	return `<!-- Generated from the action declarations in this folder by TestReadmeReference
     (engine/action/reference_test.go): do not edit; run go test ./engine/action -update. -->

# Actions and fields

The Intercom actions a rule can name (` + "`action:`" + `), one file of this folder each. Every
action's fields, defaults, conversions, routing and call sequence come from its declaration, and
so does this page. Back to the [README](../../README.md); how rules map fields is in its
[Rule files](../../README.md#rule-files) section.

## The actions

` + Reference()
}

// TestReadmeReference keeps engine/action/README.md equal to the action
// declarations (Reference); -update rewrites it.
func TestReadmeReference(t *testing.T) {
	want := referenceFile()
	got, err := os.ReadFile(referencePath)
	if err != nil && !(*update && os.IsNotExist(err)) {
		t.Fatal(err)
	}
	if string(got) == want {
		return
	}
	if *update {
		if err := os.WriteFile(referencePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("engine/action/README.md is out of date with the actions declared in engine/action; run go test ./engine/action -update")
}
