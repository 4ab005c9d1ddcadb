package simulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// at sends a request with Intercom-Version version.
func (c *testClient) at(version, method, path string, body any) response {
	c.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Intercom-Version", version)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b.Bytes()}
}

// TestOwnerIDByVersion: owner_id is a string from 2.16 and an integer
// before, in bodies and answers; email_verified comes with 2.16 and needs
// an email.
func TestOwnerIDByVersion(t *testing.T) {
	_, c, _ := start(t, Options{})
	r := c.at("2.15", "POST", "/contacts", map[string]any{"external_id": "u1", "owner_id": 7})
	if m := decode(t, r.body); r.status != 200 || m["owner_id"] != 7.0 {
		t.Fatalf("2.15: %d %s", r.status, r.body)
	}
	id := decode(t, r.body)["id"].(string)
	if m := decode(t, c.at("2.16", "GET", "/contacts/"+id, nil).body); m["owner_id"] != "7" {
		t.Errorf("2.16 answers owner_id %#v, want \"7\"", m["owner_id"])
	}
	checkError(t, c.at("2.16", "PUT", "/contacts/"+id, map[string]any{"owner_id": 7}), 400, "parameter_invalid", "owner_id must be a string")
	checkError(t, c.at("2.15", "PUT", "/contacts/"+id, map[string]any{"owner_id": "7"}), 400, "parameter_invalid", "owner_id must be an integer")
	checkError(t, c.at("2.15", "PUT", "/contacts/"+id, map[string]any{"email": "a@example.com", "email_verified": true}), 400, "parameter_invalid", "email_verified is not a valid parameter")
	checkError(t, c.at("2.16", "PUT", "/contacts/"+id, map[string]any{"email_verified": true}), 400, "parameter_invalid", "email_verified must be supplied together with an email")
	if r := c.at("2.16", "PUT", "/contacts/"+id, map[string]any{"email": "a@example.com", "email_verified": true}); r.status != 200 {
		t.Errorf("2.16 email_verified: %d %s", r.status, r.body)
	}
}

// TestMergedIDAnswers410: from 2.16 a merged lead's old id answers 410
// contact_merged with a Link to the user; before, 404.
func TestMergedIDAnswers410(t *testing.T) {
	_, c, _ := start(t, Options{})
	user := c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
	lead := c.ok("POST", "/contacts", map[string]any{"role": "lead", "email": "lee@example.com"}, 200)["id"].(string)
	c.ok("POST", "/contacts/merge", map[string]any{"from": lead, "into": user}, 200)
	r := c.at("2.16", "GET", "/contacts/"+lead, nil)
	checkError(t, r, 410, "contact_merged", "This contact has been merged. See the 'Link' header for the canonical contact.")
	if got, want := r.header.Get("Link"), "</contacts/"+user+`>; rel="canonical"`; got != want {
		t.Errorf("Link %q, want %q", got, want)
	}
	checkError(t, c.at("2.15", "GET", "/contacts/"+lead, nil), 404, "not_found", "User Not Found")
}

// TestFindByExternalID: GET /contacts/find_by_external_id/{id} finds a
// user from 2.13; before it does not exist.
func TestFindByExternalID(t *testing.T) {
	_, c, _ := start(t, Options{})
	id := c.ok("POST", "/contacts", map[string]any{"external_id": "u/1"}, 200)["id"].(string)
	if m := decode(t, c.at("2.13", "GET", "/contacts/find_by_external_id/u%2F1", nil).body); m["id"] != id {
		t.Errorf("found %v, want %s", m, id)
	}
	checkError(t, c.at("2.16", "GET", "/contacts/find_by_external_id/u2", nil), 404, "not_found", "User Not Found")
	checkError(t, c.at("2.12", "GET", "/contacts/find_by_external_id/u%2F1", nil), 404, "not_found", "Resource Not Found")
}

// TestArchivedContacts: an archived contact leaves lookups; a create that
// matches it answers 409 naming it as archived; unarchiving brings it back.
func TestArchivedContacts(t *testing.T) {
	s, c, _ := start(t, Options{})
	id := c.ok("POST", "/contacts", map[string]any{"external_id": "u1", "email": "ann@example.com"}, 200)["id"].(string)
	mustEqual(t, "archive", c.ok("POST", "/contacts/"+id+"/archive", nil, 200),
		map[string]any{"type": "contact", "id": id, "external_id": "u1", "archived": true})
	c.fail("GET", "/contacts/"+id, nil, 404, "not_found", "User Not Found")
	c.fail("POST", "/contacts", map[string]any{"email": "ann@example.com"}, 409, "conflict",
		"An archived contact matching those details already exists with id="+id)
	if st := s.State(); len(st.Contacts) != 1 || !st.Contacts[0].Archived {
		t.Errorf("state: %+v", st.Contacts)
	}
	mustEqual(t, "unarchive", c.ok("POST", "/contacts/"+id+"/unarchive", nil, 200),
		map[string]any{"type": "contact", "id": id, "external_id": "u1", "archived": false})
	c.ok("GET", "/contacts/"+id, nil, 200)
	c.fail("POST", "/contacts", map[string]any{"email": "ann@example.com"}, 409, "conflict",
		"A contact matching those details already exists with id="+id)
	c.fail("POST", "/contacts/nope/unarchive", nil, 404, "not_found", "User Not Found")
}

// TestEventNameCap: an event of a new name past MaxEventNames answers 422;
// names already stored still go.
func TestEventNameCap(t *testing.T) {
	s, c, _ := start(t, Options{MaxEventNames: 2})
	c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)
	for i, name := range []string{"a", "b", "A"} {
		if r := c.do("POST", "/events", map[string]any{"event_name": name, "created_at": 1700000000 + i, "user_id": "u1"}); r.status != 202 {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
	}
	c.fail("POST", "/events", map[string]any{"event_name": "c", "created_at": 1700000000, "user_id": "u1"}, 422, "parameter_invalid",
		"Your workspace has reached its limit of 2 active event names: archive event names to track new ones")
	if n := len(s.State().Events); n != 3 {
		t.Errorf("%d events stored, want 3", n)
	}
}
