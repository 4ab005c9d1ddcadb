package simulator

import "testing"

// TestVersions: the simulator speaks Intercom-Version 2.11 to 2.16, 2.16
// when a request sends none; owner_id is a string in 2.16 bodies and
// answers and an integer before, and a version it does not speak is
// refused before anything is done.
func TestVersions(t *testing.T) {
	s, c, _ := start(t, Options{})
	old := c.withVersion("2.11").offDescription("simulator-speaks-older-versions")
	u1 := old.ok("POST", "/contacts", map[string]any{"external_id": "u1", "owner_id": 7}, 200)
	mustEqual(t, "2.11 owner_id", u1["owner_id"], 7.0)
	old.fail("POST", "/contacts", map[string]any{"external_id": "u2", "owner_id": "7"}, 400, "parameter_invalid", "owner_id must be an integer")

	id := u1["id"].(string)
	mustEqual(t, "2.16 owner_id", c.withVersion("2.16").ok("GET", "/contacts/"+id, nil, 200)["owner_id"], "7")
	mustEqual(t, "owner_id without a version", c.ok("PUT", "/contacts/"+id, map[string]any{"owner_id": "8"}, 200)["owner_id"], "8")
	c.fail("PUT", "/contacts/"+id, map[string]any{"owner_id": 9}, 400, "parameter_invalid", "owner_id must be a string")
	c.fail("PUT", "/contacts/"+id, map[string]any{"owner_id": "nine"}, 400, "parameter_invalid", "owner_id must be a string of an id")
	mustEqual(t, "2.15 owner_id", c.withVersion("2.15").offDescription("simulator-speaks-older-versions").ok("GET", "/contacts/"+id, nil, 200)["owner_id"], 8.0)
	mustEqual(t, "owner_id unset", c.ok("PUT", "/contacts/"+id, map[string]any{"owner_id": nil}, 200)["owner_id"], nil)

	before := s.State()
	for _, v := range []string{"2.10", "2.17", "2.016", "Unstable", "1.4"} {
		c.withVersion(v).fail("PUT", "/contacts/"+id, map[string]any{"name": "x"}, 400, "intercom_version_invalid",
			"Intercom-Version \""+v+"\" is not supported: the simulator speaks 2.11 to 2.16")
	}
	mustEqual(t, "state after refusals", s.State(), before)
}

// TestUnsetFields: what a contact or company does not have is rendered as
// the description says: an unset email is "", never null; a company's
// unset website, industry and remote_created_at are left out, its unset
// name is "".
func TestUnsetFields(t *testing.T) {
	_, c, _ := start(t, Options{})
	lead := c.ok("POST", "/contacts", map[string]any{"role": "lead"}, 200)
	mustEqual(t, "lead's email", lead["email"], "")
	mustEqual(t, "flags", []any{lead["has_hard_bounced"], lead["marked_email_as_spam"]}, []any{false, false})
	co := c.ok("POST", "/companies", map[string]any{"company_id": "bare"}, 200)
	for _, k := range []string{"website", "industry", "remote_created_at"} {
		if v, ok := co[k]; ok {
			t.Errorf("unset %s is rendered: %v", k, v)
		}
	}
	mustEqual(t, "name, session_count", []any{co["name"], co["session_count"]}, []any{"", 0.0})
}
