package simulator

import (
	"testing"
	"time"
)

// noteAnswer is a note as POST /contacts/{id}/notes answers it.
func noteAnswer(id string, createdAt int64, contactID, body string) map[string]any {
	return map[string]any{
		"type": "note", "id": id, "created_at": float64(createdAt),
		"contact": map[string]any{"type": "contact", "id": contactID},
		"author": map[string]any{
			"type": "admin", "id": "1", "name": "Simulator", "email": "sim@example.com",
			"away_mode_enabled": false, "away_mode_reassign": false, "has_inbox_seat": true, "team_ids": []any{},
		},
		"body": body,
	}
}

func TestNotes(t *testing.T) {
	s, c, clk := start(t, Options{})
	ts := t0.Unix()
	u := c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
	other := c.ok("POST", "/contacts", map[string]any{"external_id": "u2"}, 200)["id"].(string)

	for _, step := range []struct {
		name    string
		contact string
		body    map[string]any
		want    map[string]any
	}{
		{"plain text becomes a paragraph", u, map[string]any{"body": "Called about billing", "admin_id": "1"},
			noteAnswer("1", ts, u, "<p>Called about billing</p>")},
		{"numeric admin_id", other, map[string]any{"body": "Hello", "admin_id": 1},
			noteAnswer("2", ts+1, other, "<p>Hello</p>")},
		{"no admin_id: the token's admin", u, map[string]any{"body": "<p>Renewal <b>due</b></p>"},
			noteAnswer("3", ts+2, u, "<p>Renewal <b>due</b></p>")},
		{"null admin_id", u, map[string]any{"body": "x", "admin_id": nil},
			noteAnswer("4", ts+3, u, "<p>x</p>")},
	} {
		mustEqual(t, step.name, c.offDescription("simulator-takes-integer-ids").ok("POST", "/contacts/"+step.contact+"/notes", step.body, 200), step.want)
		clk.Advance(time.Second)
	}

	mustEqual(t, "state", s.State().Contacts, []Contact{
		{ID: u, Role: "user", ExternalID: "u1", CreatedAt: ts, UpdatedAt: ts, Notes: []Note{
			{ID: "1", Body: "<p>Called about billing</p>", AuthorID: "1", CreatedAt: ts},
			{ID: "3", Body: "<p>Renewal <b>due</b></p>", AuthorID: "1", CreatedAt: ts + 2},
			{ID: "4", Body: "<p>x</p>", AuthorID: "1", CreatedAt: ts + 3},
		}},
		{ID: other, Role: "user", ExternalID: "u2", CreatedAt: ts, UpdatedAt: ts, Notes: []Note{
			{ID: "2", Body: "<p>Hello</p>", AuthorID: "1", CreatedAt: ts + 1},
		}},
	})
	// The contact answer does not list notes; an update keeps them.
	ct := c.ok("PUT", "/contacts/"+u, map[string]any{"name": "Ann"}, 200)
	if _, ok := ct["notes"]; ok {
		t.Errorf("contact answer has notes: %v", ct)
	}
	mustEqual(t, "notes after update", len(s.State().Contacts[0].Notes), 3)

	// Reset forgets the notes and restarts their ids.
	s.Reset()
	u = c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
	mustEqual(t, "after Reset", c.ok("POST", "/contacts/"+u+"/notes", map[string]any{"body": "again"}, 200),
		noteAnswer("1", ts+4, u, "<p>again</p>"))
}

func TestNoteErrors(t *testing.T) {
	s, c, _ := start(t, Options{})
	u := c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
	before := s.State()
	for _, tc := range []struct {
		name      string
		contact   string
		body      any
		status    int
		code, msg string
	}{
		{"unknown contact", "65c000000000000000000999", map[string]any{"body": "x", "admin_id": "1"}, 404, "not_found", "User Not Found"},
		{"unknown admin", u, map[string]any{"body": "x", "admin_id": "123"}, 404, "not_found", "Resource Not Found"},
		{"no body", u, map[string]any{"admin_id": "1"}, 400, "parameter_invalid", "body must not be empty"},
		{"empty body", u, map[string]any{"body": ""}, 400, "parameter_invalid", "body must not be empty"},
		{"blank body", u, map[string]any{"body": " \n\t"}, 400, "parameter_invalid", "body must not be empty"},
		{"null body", u, map[string]any{"body": nil}, 400, "parameter_invalid", "body must not be empty"},
		{"body not a string", u, map[string]any{"body": 5}, 400, "parameter_invalid", "body must be a string"},
		{"admin_id not an id", u, map[string]any{"body": "x", "admin_id": true}, 400, "parameter_invalid", "admin_id must be a string"},
		{"unknown parameter", u, map[string]any{"body": "x", "contact_id": u}, 400, "parameter_invalid", "contact_id is not a valid parameter"},
		{"empty request body", u, "", 400, "bad_request", "Request body is empty: a JSON object is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.fail("POST", "/contacts/"+tc.contact+"/notes", tc.body, tc.status, tc.code, tc.msg)
		})
	}
	mustEqual(t, "state after the refusals", s.State(), before)
	r := c.do("GET", "/contacts/"+u+"/notes", nil)
	checkError(t, r, 405, "method_not_allowed", "Method Not Allowed")
	mustEqual(t, "Allow", r.header.Get("Allow"), "POST")
}

func TestNotesFollowMergeAndDelete(t *testing.T) {
	s, c, _ := start(t, Options{})
	user := c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
	lead := c.ok("POST", "/contacts", map[string]any{"role": "lead"}, 200)["id"].(string)
	for _, n := range []struct{ contact, body string }{{user, "u-1"}, {lead, "l-2"}, {user, "u-3"}, {lead, "l-4"}} {
		c.ok("POST", "/contacts/"+n.contact+"/notes", map[string]any{"body": n.body}, 200)
	}
	c.ok("POST", "/contacts/merge", map[string]any{"from": lead, "into": user}, 200)
	var bodies []string
	for _, n := range s.State().Contacts[0].Notes {
		bodies = append(bodies, n.ID+":"+n.Body)
	}
	mustEqual(t, "merged notes, in the order written", bodies, []string{"1:<p>u-1</p>", "2:<p>l-2</p>", "3:<p>u-3</p>", "4:<p>l-4</p>"})
	c.fail("POST", "/contacts/"+lead+"/notes", map[string]any{"body": "x"}, 404, "not_found", "User Not Found")
	c.ok("DELETE", "/contacts/"+user, nil, 200)
	c.fail("POST", "/contacts/"+user+"/notes", map[string]any{"body": "x"}, 404, "not_found", "User Not Found")
	mustEqual(t, "contacts after delete", len(s.State().Contacts), 0)
}

func TestCanonicalTagsAndNotes(t *testing.T) {
	run := func(shift bool) State {
		s, c, clk := start(t, Options{})
		if shift { // other ids and times: a tag and a note on a deleted contact
			tmp := c.ok("POST", "/contacts", map[string]any{"external_id": "tmp"}, 200)["id"].(string)
			c.ok("POST", "/tags", map[string]any{"name": "Old"}, 200)
			c.ok("POST", "/contacts/"+tmp+"/notes", map[string]any{"body": "x"}, 200)
			c.ok("DELETE", "/contacts/"+tmp, nil, 200)
			clk.Advance(time.Hour)
		}
		u := c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
		c.ok("POST", "/companies", map[string]any{"company_id": "acme"}, 200)
		c.ok("POST", "/tags", map[string]any{"name": "VIP", "users": []any{map[string]any{"id": u}}}, 200)
		c.ok("POST", "/tags", map[string]any{"name": "Churn", "companies": []any{map[string]any{"company_id": "acme"}}}, 200)
		c.ok("POST", "/contacts/"+u+"/notes", map[string]any{"body": "first"}, 200)
		c.ok("POST", "/contacts/"+u+"/notes", map[string]any{"body": "second"}, 200)
		return s.State()
	}
	clean, shifted := run(false), run(true)
	want := State{
		Contacts: []Contact{{Role: "user", ExternalID: "u1", Tags: []string{"VIP"}, Notes: []Note{
			{Body: "<p>first</p>", AuthorID: "1"}, {Body: "<p>second</p>", AuthorID: "1"},
		}}},
		Companies: []Company{{CompanyID: "acme", Tags: []string{"Churn"}}},
		Events:    []Event{},
		Tags:      []Tag{{Name: "Churn"}, {Name: "VIP"}},
	}
	mustEqual(t, "canonical clean run", clean.Canonical(), want)
	want.Tags = []Tag{{Name: "Churn"}, {Name: "Old"}, {Name: "VIP"}}
	mustEqual(t, "canonical shifted run", shifted.Canonical(), want)
	// Canonical does not modify its receiver.
	if clean.Tags[0].ID != "1" || clean.Contacts[0].Notes[0].ID != "1" {
		t.Errorf("receiver modified: %+v", clean)
	}
}
