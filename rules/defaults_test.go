package rules_test

import (
	"slices"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/rules"
)

// TestDefaultsCompile checks that the embedded defaults are Segment's three
// presets and compile cleanly.
func TestDefaultsCompile(t *testing.T) {
	set, err := rules.ParseAll(rules.Defaults()...)
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

// TestEmbeddedNames: the embedded files keep the names every message and
// golden file shows.
func TestEmbeddedNames(t *testing.T) {
	var names []string
	for _, s := range rules.Defaults() {
		names = append(names, s.Name)
	}
	if len(names) != 1 || names[0] != "segment.yaml" {
		t.Errorf("defaults %q, want [segment.yaml]", names)
	}
	if got := rules.PresetNames(); !slices.Contains(got, "classic-company") {
		t.Errorf("presets %q, want classic-company among them", got)
	}
	srcs, err := rules.Presets("classic-company")
	if err != nil || len(srcs) != 1 || srcs[0].Name != "presets/classic-company.yaml" || len(srcs[0].Data) == 0 {
		t.Errorf("Presets(classic-company) = %v, %v", srcs, err)
	}
}
