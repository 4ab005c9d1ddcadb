package cli

import (
	"strings"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/processor"
)

// TestEveryDeliveryVerbHasEveryOption: each option of the delivery core
// (processor.Options) is a flag of send, serve and consume, under its
// name, with its help. (The Benthos plugin's test checks its fields, the
// processor's test its Config.)
func TestEveryDeliveryVerbHasEveryOption(t *testing.T) {
	for _, cmd := range []string{"send", "serve", "consume"} {
		code, out, errOut := runCLI(t, "", cmd, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d\n%s", cmd, code, errOut)
		}
		for _, o := range processor.Options() {
			flag := "\n  -" + o.Name + " "
			if o.Kind == processor.Bool {
				flag = "\n  -" + o.Name + "\n"
			}
			i := strings.Index(out, flag)
			if i < 0 {
				t.Errorf("%s has no flag --%s", cmd, o.Name)
				continue
			}
			if help := out[i:]; !strings.Contains(help[:min(len(help), 400)], strings.Fields(o.Help)[0]) {
				t.Errorf("%s --%s: the help does not say %q:\n%s", cmd, o.Name, o.Help, help[:min(len(help), 400)])
			}
		}
	}
}
