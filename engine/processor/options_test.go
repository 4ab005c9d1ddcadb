package processor

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// TestEveryOptionSetsTheConfig: each option (the flags of send, serve and
// consume and the Benthos fields are made from the same table) sets a
// field of Config, by name, from the text a flag or a field gives; and a
// value that does not parse is an error that names the option.
func TestEveryOptionSetsTheConfig(t *testing.T) {
	sample := map[Kind]string{String: "x", Int: "3", Duration: "5s", Bool: "true", List: "a"}
	for _, o := range Options() {
		v := sample[o.Kind]
		switch {
		case o.Kind == Enum:
			v = o.Values[len(o.Values)-1]
		case o.Kind == Bool && o.Default == "true":
			v = "false"
		}
		if o.Name == "waiting-max" { // a String that is a size
			v = "32MiB"
		}
		var c Config
		if err := c.Set(o.Name, v); err != nil {
			t.Errorf("Set(%q, %q): %v", o.Name, v, err)
			continue
		}
		if reflect.DeepEqual(c, Config{}) {
			t.Errorf("Set(%q, %q) changed nothing in Config", o.Name, v)
		}
		if o.Help == "" || strings.ContainsAny(o.Name, " _") {
			t.Errorf("option %q: a name is kebab-case and every option has help", o.Name)
		}
	}
	var c Config
	for name, want := range map[string]string{
		"concurrency":  `concurrency "0": must be at least 1`,
		"contact-wait": `contact-wait "soon": not a duration (such as 30s, 5m or 1h)`,
		"colour":       `no option "colour" (known: rules, with-defaults, preset, region, api-base, token-file, intercom-version, concurrency, contact-wait, search-wait, archived-contacts, spread-same-second-events, waiting-max, custom-attributes, token-recheck, skip-unchanged, last-seen-resolution, skip-unchanged-ttl, skip-unchanged-size)`,
		"waiting-max":  `waiting-max "lots": not a size (such as 1GiB, 512MiB or 2000000)`,
		"regoin":       `no option "regoin" (did you mean "region"?)`,
	} {
		value := map[string]string{"concurrency": "0", "contact-wait": "soon", "waiting-max": "lots"}[name]
		if err := c.Set(name, value); err == nil || err.Error() != want {
			t.Errorf("Set(%q, %q) = %v, want %s", name, value, err, want)
		}
	}
}

// TestIntercomVersionIsSent: the intercom-version option is the header
// every request carries, in the embedding API as on the command line.
func TestIntercomVersionIsSent(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	var c Config
	for name, v := range map[string]string{"api-base": sim.URL(), "intercom-version": "2.14"} {
		if err := c.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	p := newProcessor(t, c)
	if _, err := p.Process(context.Background(), []byte(`{"type":"identify","userId":"u1"}`)); err != nil {
		t.Fatal(err)
	}
	for _, r := range sim.Requests() {
		if v := r.Header.Get("Intercom-Version"); v != "2.14" {
			t.Errorf("%s %s: Intercom-Version %q, want 2.14", r.Method, r.Path, v)
		}
	}
	if len(sim.Requests()) == 0 {
		t.Error("nothing was sent")
	}
}
