package engine

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// goList runs `go list` in the module with args and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	root, _ := moduleRoot(t)
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.Fields(string(out))
}

// TestSourcesAndSinksKnowNoEngine: the disk queue, the checkpoint, Kafka
// and HTTP ingestion share the delivery vocabulary
// (engine/internal/delivery), not the dispatcher's, so they compile neither
// the rule engine nor the actions.
func TestSourcesAndSinksKnowNoEngine(t *testing.T) {
	_, module := moduleRoot(t)
	deps := goList(t, "-deps", "./engine/internal/spool", "./engine/internal/checkpoint", "./engine/internal/kafka", "./engine/internal/ingest")
	for _, forbidden := range []string{"github.com/expr-lang/expr", module + "/engine", module + "/engine/action", module + "/engine/internal/dispatch"} {
		if slices.Contains(deps, forbidden) {
			t.Errorf("the spool, checkpoint, kafka or ingest package depends on %s", forbidden)
		}
	}
}

// TestPublicPackages: what an embedder or a rule author may import is a
// short, deliberate list; everything else is under engine/internal/.
// (engine/cli is public only because cmd/intercom-actions, outside
// engine/, must import it; engine/simulator/contract, a test helper, so
// that the tests of cmd/benthos-intercom can check their exchanges.)
// Adding a public package means adding it here.
func TestPublicPackages(t *testing.T) {
	_, module := moduleRoot(t)
	want := []string{"engine", "engine/action", "engine/cli", "engine/intercom", "engine/processor", "engine/simulator", "engine/simulator/contract", "rules"}
	var got []string
	for _, p := range goList(t, "-f", "{{if ne .Name \"main\"}}{{.ImportPath}}{{end}}", "./...") {
		if rel := strings.TrimPrefix(strings.TrimPrefix(p, module), "/"); !strings.Contains(rel, "internal/") && !strings.HasPrefix(rel, "cmd/") {
			got = append(got, rel)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("public packages:\n got %q\nwant %q", got, want)
	}
}
