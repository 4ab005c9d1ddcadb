package defaults_test

import (
	"testing"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/rules/defaults"
)

// TestDefaultsCompile checks that the embedded defaults are Segment's three
// presets and compile cleanly.
func TestDefaultsCompile(t *testing.T) {
	set, err := defaults.Load()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range eng.Rules() {
		got = append(got, r.Name+" → "+r.Action+" on "+r.Trigger)
	}
	want := []string{
		`Identify Contact → identify_contact on type == "identify"`,
		`Identify Company → identify_company on type == "group"`,
		`Track Event → track_event on type == "track"`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rules %q, want %q", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rule %d: got %q, want %q", i, got[i], want[i])
		}
	}
}
