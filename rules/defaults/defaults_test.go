package defaults

import "testing"

func TestDefaultsLoad(t *testing.T) {
	rs, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs.Rules {
		got = append(got, r.Name+" → "+r.Action.Name+" on "+r.Trigger.Source)
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
