package rules_test

import (
	"testing"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/rules"
)

// TestPresetsCompileWithTheDefaults: every preset joins the defaults
// without an error (and without a rule name they share).
func TestPresetsCompileWithTheDefaults(t *testing.T) {
	if len(rules.PresetNames()) == 0 {
		t.Fatal("no presets embedded")
	}
	for _, name := range rules.PresetNames() {
		p, err := rules.Presets(name)
		if err != nil {
			t.Fatal(err)
		}
		set, err := rules.ParseAll(append(rules.Defaults(), p...)...)
		if err == nil {
			_, err = engine.Compile(set)
		}
		if err != nil {
			t.Errorf("preset %s with the defaults: %v", name, err)
		}
	}
}

func TestUnknownPreset(t *testing.T) {
	for name, want := range map[string]string{
		"classic-compny":      `unknown preset "classic-compny" (did you mean "classic-company"?)`,
		"segment":             `unknown preset "segment" (known: classic-company)`,
		"../defaults/segment": `unknown preset "../defaults/segment" (known: classic-company)`,
	} {
		if _, err := rules.Presets("classic-company", name); err == nil || err.Error() != want {
			t.Errorf("Presets(%q): %v, want %s", name, err, want)
		}
	}
}
