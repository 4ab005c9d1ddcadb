package contract

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// waiver accepts one known difference between the description and what
// the tests send or the simulator answers, with its reason. A waiver
// either patches the description (Patch, merged like Intercom's overrides:
// for a defect of the description) or lets violations through (Match).
type waiver struct {
	// Name identifies the waiver in reports.
	Name string `yaml:"name"`
	// Reason says why the difference is accepted.
	Reason string `yaml:"reason"`
	// Until, when set, marks a temporary waiver: the change that ends it.
	Until string `yaml:"until,omitempty"`
	// Match lets through the violations it matches.
	Match *match `yaml:"match,omitempty"`
	// Patch is merged onto the description (after Intercom's overrides).
	Patch any `yaml:"-"`
}

// match selects violations: every field set must match.
type match struct {
	// Side is "request" or "response".
	Side string `yaml:"side,omitempty"`
	// Operation is the description's "METHOD /path/{param}".
	Operation string `yaml:"operation,omitempty"`
	// Messages are substrings of violation messages: any one matches.
	Messages []string `yaml:"messages"`
	// Versions, when set, limits the waiver to requests whose
	// Intercom-Version is one of them.
	Versions []string `yaml:"versions,omitempty"`
	// Tagged limits the waiver to requests that name it in their
	// WaiverHeader: a test that sends a request off the description on
	// purpose (to show how the simulator answers one) says so there, and
	// the same difference anywhere else is still a violation.
	Tagged bool `yaml:"tagged,omitempty"`
}

// WaiverHeader is the request header in which a test names the tagged
// waiver that covers a request it sends off the description on purpose.
const WaiverHeader = "X-Contract-Waiver"

// covers reports whether w lets v through; version and tags are the
// request's Intercom-Version and WaiverHeader values.
func (w waiver) covers(v violation, version string, tags []string) bool {
	m := w.Match
	return m != nil && (m.Side == "" || m.Side == v.Side) &&
		(m.Operation == "" || m.Operation == v.Operation) &&
		slices.ContainsFunc(m.Messages, func(s string) bool { return strings.Contains(v.Message, s) }) &&
		(len(m.Versions) == 0 || slices.Contains(m.Versions, version)) &&
		(!m.Tagged || slices.Contains(tags, w.Name))
}

// parseWaivers reads waivers.yaml: {waivers: [waiver...]}, where a patch
// is written under `patch:`.
func parseWaivers(src []byte) ([]waiver, error) {
	var file struct {
		Waivers []yaml.Node `yaml:"waivers"`
	}
	if err := yaml.Unmarshal(src, &file); err != nil {
		return nil, err
	}
	var out []waiver
	seen := map[string]bool{}
	for _, n := range file.Waivers {
		var w waiver
		var raw struct {
			Patch yaml.Node `yaml:"patch"`
		}
		if err := n.Decode(&w); err != nil {
			return nil, err
		}
		if err := n.Decode(&raw); err != nil {
			return nil, err
		}
		if raw.Patch.Kind != 0 {
			p, err := plain(&raw.Patch)
			if err != nil {
				return nil, err
			}
			w.Patch = p
		}
		switch {
		case w.Name == "":
			return nil, fmt.Errorf("line %d: a waiver without a name", n.Line)
		case seen[w.Name]:
			return nil, fmt.Errorf("line %d: waiver %q given twice", n.Line, w.Name)
		case strings.TrimSpace(w.Reason) == "":
			return nil, fmt.Errorf("line %d: waiver %q gives no reason", n.Line, w.Name)
		case (w.Match == nil) == (w.Patch == nil):
			return nil, fmt.Errorf("line %d: waiver %q needs either match or patch", n.Line, w.Name)
		case w.Match != nil && (len(w.Match.Messages) == 0 || slices.Contains(w.Match.Messages, "")):
			return nil, fmt.Errorf("line %d: waiver %q matches no message", n.Line, w.Name)
		}
		seen[w.Name] = true
		out = append(out, w)
	}
	return out, nil
}
