package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/processor"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// The README's example, as a person runs it: the binary built from this
// module, example.yaml, events on standard input, the simulator as
// Intercom. The state it leaves is the one the same events sent one at a
// time leave, and the event that fails is in the dead-letter file.
func TestExampleAsAPersonRunsIt(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "benthos-intercom")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	example, err := filepath.Abs("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile("../../testdata/events/sample.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	bad := `{"type":"group","userId":"nobody","groupId":"acme-co"}`
	input := string(sample) + bad + "\n"

	lint := exec.Command(bin, "lint", example)
	lint.Env = environ()
	if out, err := lint.CombinedOutput(); err == nil || !strings.Contains(string(out), "required environment variables were not set: [INTERCOM_ACCESS_TOKEN]") {
		t.Errorf("lint without a token: %v\n%s", err, out)
	}
	lint = exec.Command(bin, "lint", example)
	lint.Env = environ("INTERCOM_ACCESS_TOKEN=tok")
	if out, err := lint.CombinedOutput(); err != nil {
		t.Fatalf("lint: %v\n%s", err, out)
	}

	sim := simulator.NewServer(simulator.Options{Token: "tok"})
	defer sim.Close()
	// Benthos' HTTP server on a port of its own, not the example's 4195.
	cmd := exec.Command(bin, "run", "--set", "http.address=127.0.0.1:0", example)
	cmd.Dir = dir
	cmd.Env = environ("INTERCOM_API_BASE="+sim.URL(), "INTERCOM_ACCESS_TOKEN=tok")
	cmd.Stdin = strings.NewReader(input)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	dead, err := os.ReadFile(filepath.Join(dir, "dead-letters.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"error":"rule \"Identify Company\": identify_company: contact not found (external_id \"nobody\"); no identify for this contact came before the end of the input","event":{"groupId":"acme-co","type":"group","userId":"nobody"},"reason":"rule \"Identify Company\": contact not found"}` + "\n"
	if string(dead) != want {
		t.Errorf("dead letters:\n%s\nwant:\n%s", dead, want)
	}

	// The same events, one at a time, to a fresh simulator.
	ref := simulator.NewServer(simulator.Options{})
	defer ref.Close()
	p, err := processor.New(processor.Config{APIBase: ref.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok"})})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, ev := range strings.Split(strings.TrimSpace(input), "\n") {
		if _, err := p.Process(context.Background(), []byte(ev)); err != nil {
			t.Fatal(err)
		}
	}
	got, wantState := sim.State().Canonical(), ref.State().Canonical()
	if len(got.Contacts) == 0 || !reflect.DeepEqual(got, wantState) {
		t.Errorf("state after benthos-intercom:\n%s\nafter the events one at a time:\n%s", fmt.Sprint(got), fmt.Sprint(wantState))
	}
}

// environ is the test's environment without the variables the example
// reads, plus set.
func environ(set ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INTERCOM_ACCESS_TOKEN=") && !strings.HasPrefix(kv, "INTERCOM_API_BASE=") {
			env = append(env, kv)
		}
	}
	return append(env, set...)
}
