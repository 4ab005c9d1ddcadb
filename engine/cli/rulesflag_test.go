package cli

import (
	"strings"
	"testing"
)

// TestPresetFlag: --preset adds an embedded preset to the active rules
// (the defaults here); an unknown one is a clear error.
func TestPresetFlag(t *testing.T) {
	code, out, errOut := runCLI(t, "", "check", "--preset", "classic-company")
	want := `ok: 7 rules (7 enabled)
  Identify Contact             identify_contact  when type == "identify"
  Identify Company             identify_company  when type == "group"
  Track Event                  track_event       when type == "track"
  Classic Company              identify_company  when type == "identify" && traits.company.id != nil && traits.company.remove != true
  Classic Company By Name      identify_company  when type == "identify" && traits.company.id == nil && traits.company.name != nil && traits.company.remove != true
  Classic Company Name Only    identify_company  when type == "identify" && traits.company != nil && traits.company.id == nil && traits.company.name == nil && traits.company.remove == nil
  Classic Company Removal      detach_company    when type == "identify" && traits.company.remove == true
`
	if code != 0 || out != want || errOut != "" {
		t.Errorf("check --preset: exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}

	event := `{"type":"identify","userId":"u1","traits":{"company":"Initech"},"timestamp":1700000000}`
	code, out, _ = runCLI(t, event, "plan", "--preset", "classic-company")
	if code != 0 || !strings.Contains(out, `{"line":1,"rule":"Classic Company Name Only","action":"identify_company","fields":{"company_id":"Initech","external_id":"u1","name":"Initech"}}`) {
		t.Errorf("plan --preset: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, event, "plan")
	if code != 0 || strings.Contains(out, "Classic") {
		t.Errorf("plan without the preset: exit %d\n%s", code, out)
	}

	code, _, errOut = runCLI(t, event, "plan", "--preset", "clasic-company")
	if code != 1 || errOut != "plan: rules failed to load:\nunknown preset \"clasic-company\" (did you mean \"classic-company\"?)\n" {
		t.Errorf("unknown preset: exit %d, %q", code, errOut)
	}
}
