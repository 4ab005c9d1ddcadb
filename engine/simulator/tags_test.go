package simulator

import (
	"testing"
	"time"
)

// tagBody is a tag as POST /tags and GET /tags answer it.
func tagBody(id, name string) map[string]any {
	return map[string]any{"type": "tag", "id": id, "name": name}
}

// appliedTagBody is a tag as the per-contact tag endpoints answer it;
// appliedAt 0 means it was not applied (null applied_at and applied_by).
func appliedTagBody(id, name string, appliedAt int64) map[string]any {
	out := map[string]any{"type": "tag", "id": id, "name": name, "applied_at": nil, "applied_by": nil}
	if appliedAt != 0 {
		out["applied_at"] = float64(appliedAt)
		out["applied_by"] = map[string]any{"type": "admin", "id": "1"}
	}
	return out
}

func TestTags(t *testing.T) {
	s, c, clk := start(t, Options{})
	u1 := c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
	u2 := c.ok("POST", "/contacts", map[string]any{"external_id": "u2"}, 200)["id"].(string)
	acme := c.ok("POST", "/companies", map[string]any{"company_id": "acme"}, 200)["id"].(string)
	beta := c.ok("POST", "/companies", map[string]any{"company_id": "beta"}, 200)["id"].(string)
	ts := t0.Unix()

	for _, step := range []struct {
		name string
		body map[string]any
		want map[string]any
	}{
		{"create", map[string]any{"name": "VIP"}, tagBody("1", "VIP")},
		{"names ignore case", map[string]any{"name": "vip"}, tagBody("1", "VIP")},
		{"tag users", map[string]any{"name": "VIP", "users": []any{map[string]any{"id": u1}, map[string]any{"id": u2}}}, tagBody("1", "VIP")},
		{"tag companies by id and company_id", map[string]any{"name": "Churn risk", "companies": []any{
			map[string]any{"id": acme}, map[string]any{"company_id": "beta"},
		}}, tagBody("2", "Churn risk")},
		{"untag a user", map[string]any{"name": "VIP", "users": []any{map[string]any{"id": u2, "untag": true}}}, tagBody("1", "VIP")},
		{"untag a company", map[string]any{"name": "churn RISK", "companies": []any{map[string]any{"company_id": "beta", "untag": true}}}, tagBody("2", "Churn risk")},
		{"untag what is not tagged", map[string]any{"name": "VIP", "companies": []any{map[string]any{"id": beta, "untag": true}}}, tagBody("1", "VIP")},
		{"empty lists", map[string]any{"name": "Later", "users": []any{}}, tagBody("3", "Later")},
	} {
		mustEqual(t, "POST /tags: "+step.name, c.ok("POST", "/tags", step.body, 200), step.want)
	}
	mustEqual(t, "GET /tags", c.ok("GET", "/tags", nil, 200), map[string]any{
		"type": "list",
		"data": []any{tagBody("1", "VIP"), tagBody("2", "Churn risk"), tagBody("3", "Later")},
	})

	// One contact at a time; the tag id may be sent as a number.
	clk.Advance(10 * time.Second)
	mustEqual(t, "tag u2", c.ok("POST", "/contacts/"+u2+"/tags", map[string]any{"id": "2"}, 200), appliedTagBody("2", "Churn risk", ts+10))
	mustEqual(t, "tag u1 (numeric id)", c.offDescription("simulator-takes-integer-ids").ok("POST", "/contacts/"+u1+"/tags", map[string]any{"id": 2}, 200), appliedTagBody("2", "Churn risk", ts+10))
	clk.Advance(10 * time.Second)
	mustEqual(t, "tag u2 again keeps applied_at", c.ok("POST", "/contacts/"+u2+"/tags", map[string]any{"id": "2"}, 200), appliedTagBody("2", "Churn risk", ts+10))
	mustEqual(t, "tag u2 with VIP", c.ok("POST", "/contacts/"+u2+"/tags", map[string]any{"id": "1"}, 200), appliedTagBody("1", "VIP", ts+20))
	mustEqual(t, "untag u2", c.ok("DELETE", "/contacts/"+u2+"/tags/2", nil, 200), appliedTagBody("2", "Churn risk", ts+10))
	mustEqual(t, "untag u2 again", c.ok("DELETE", "/contacts/"+u2+"/tags/2", nil, 200), appliedTagBody("2", "Churn risk", 0))

	mustEqual(t, "state", s.State(), State{
		Contacts: []Contact{
			{ID: u1, Role: "user", ExternalID: "u1", Tags: []string{"Churn risk", "VIP"}, CreatedAt: ts, UpdatedAt: ts},
			{ID: u2, Role: "user", ExternalID: "u2", Tags: []string{"VIP"}, CreatedAt: ts, UpdatedAt: ts},
		},
		Companies: []Company{
			{ID: acme, CompanyID: "acme", Tags: []string{"Churn risk"}, CreatedAt: ts, UpdatedAt: ts},
			{ID: beta, CompanyID: "beta", CreatedAt: ts, UpdatedAt: ts},
		},
		Events: []Event{},
		Tags:   []Tag{{ID: "1", Name: "VIP"}, {ID: "2", Name: "Churn risk"}, {ID: "3", Name: "Later"}},
	})

	// A company keeps its tags through an update; the answers do not list
	// tags.
	co := c.ok("POST", "/companies", map[string]any{"company_id": "acme", "name": "Acme"}, 200)
	if _, ok := co["tags"]; ok {
		t.Errorf("company answer has tags: %v", co)
	}
	mustEqual(t, "company tags after update", s.State().Companies[0].Tags, []string{"Churn risk"})
	ct := c.ok("PUT", "/contacts/"+u1, map[string]any{"name": "Ann"}, 200)
	if _, ok := ct["tags"]; ok {
		t.Errorf("contact answer has tags: %v", ct)
	}
	mustEqual(t, "contact tags after update", s.State().Contacts[0].Tags, []string{"Churn risk", "VIP"})

	// Reset forgets the tags and restarts their ids.
	s.Reset()
	mustEqual(t, "GET /tags after Reset", c.ok("GET", "/tags", nil, 200), map[string]any{"type": "list", "data": []any{}})
	mustEqual(t, "POST /tags after Reset", c.ok("POST", "/tags", map[string]any{"name": "Later"}, 200), tagBody("1", "Later"))
}

func TestTagErrors(t *testing.T) {
	s, c, _ := start(t, Options{})
	u1 := c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
	acme := c.ok("POST", "/companies", map[string]any{"company_id": "acme"}, 200)["id"].(string)
	c.ok("POST", "/tags", map[string]any{"name": "VIP", "users": []any{map[string]any{"id": u1}}}, 200)
	before := s.State()
	const nobody = "65c000000000000000000999"
	user := func(id string) map[string]any { return map[string]any{"id": id} }

	for _, tc := range []struct {
		name         string
		method, path string
		body         any
		status       int
		code, msg    string
	}{
		{"no name", "POST", "/tags", map[string]any{}, 400, "parameter_not_found", "name not specified"},
		{"empty name", "POST", "/tags", map[string]any{"name": ""}, 400, "parameter_not_found", "name not specified"},
		{"name not a string", "POST", "/tags", map[string]any{"name": 5}, 400, "parameter_invalid", "name must be a string"},
		{"unknown parameter", "POST", "/tags", map[string]any{"name": "x", "test": "invalid"}, 400, "parameter_invalid", "test is not a valid parameter"},
		{"users and companies", "POST", "/tags", map[string]any{"name": "x", "users": []any{user(u1)}, "companies": []any{user(acme)}},
			400, "parameter_invalid", "invalid tag parameters"},
		{"users not an array", "POST", "/tags", map[string]any{"name": "x", "users": u1}, 400, "parameter_invalid", "users must be an array of objects"},
		{"user not an object", "POST", "/tags", map[string]any{"name": "x", "users": []any{u1}}, 400, "parameter_invalid", "users[0] must be an object"},
		{"user by user_id", "POST", "/tags", map[string]any{"name": "x", "users": []any{map[string]any{"user_id": "u1"}}},
			400, "parameter_invalid", "users[0].user_id is not a valid parameter"},
		{"user without id", "POST", "/tags", map[string]any{"name": "x", "users": []any{user(u1), map[string]any{"untag": true}}},
			400, "parameter_not_found", "users[1].id not specified"},
		{"user id not a string", "POST", "/tags", map[string]any{"name": "x", "users": []any{map[string]any{"id": 7}}},
			400, "parameter_invalid", "users[0].id must be a string"},
		{"untag not a boolean", "POST", "/tags", map[string]any{"name": "x", "users": []any{map[string]any{"id": u1, "untag": "yes"}}},
			400, "parameter_invalid", "users[0].untag must be a boolean"},
		{"company without ids", "POST", "/tags", map[string]any{"name": "x", "companies": []any{map[string]any{}}},
			400, "parameter_not_found", "companies[0].id or companies[0].company_id not specified"},
		{"unknown user", "POST", "/tags", map[string]any{"name": "x", "users": []any{user(u1), user(nobody)}},
			404, "not_found", "User Not Found"},
		{"untag an unknown user", "POST", "/tags", map[string]any{"name": "VIP", "users": []any{map[string]any{"id": u1, "untag": true}, map[string]any{"id": nobody, "untag": true}}},
			404, "not_found", "User Not Found"},
		{"unknown company id", "POST", "/tags", map[string]any{"name": "x", "companies": []any{user(acme), user("65d000000000000000000999")}},
			404, "company_not_found", "Company Not Found"},
		{"unknown company_id", "POST", "/tags", map[string]any{"name": "x", "companies": []any{map[string]any{"company_id": "nope"}}},
			404, "company_not_found", "Company Not Found"},
		{"malformed JSON", "POST", "/tags", `{"name":`, 400, "bad_request", "Request body is not valid JSON"},

		{"tag: unknown contact", "POST", "/contacts/" + nobody + "/tags", map[string]any{"id": "1"}, 404, "not_found", "User Not Found"},
		{"tag: unknown tag", "POST", "/contacts/" + u1 + "/tags", map[string]any{"id": "999"}, 404, "not_found", "Resource Not Found"},
		{"tag: no id", "POST", "/contacts/" + u1 + "/tags", map[string]any{}, 400, "parameter_not_found", "id not specified"},
		{"tag: id not a string", "POST", "/contacts/" + u1 + "/tags", map[string]any{"id": true}, 400, "parameter_invalid", "id must be a string"},
		{"tag: by name", "POST", "/contacts/" + u1 + "/tags", map[string]any{"name": "VIP"}, 400, "parameter_invalid", "name is not a valid parameter"},
		{"untag: unknown contact", "DELETE", "/contacts/" + nobody + "/tags/1", nil, 404, "not_found", "User Not Found"},
		{"untag: unknown tag", "DELETE", "/contacts/" + u1 + "/tags/999", nil, 404, "not_found", "Resource Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.fail(tc.method, tc.path, tc.body, tc.status, tc.code, tc.msg)
		})
	}
	// A refused request changes nothing: no tag "x", u1 still tagged VIP.
	mustEqual(t, "state after the refusals", s.State(), before)

	r := c.do("GET", "/contacts/"+u1+"/tags", nil)
	checkError(t, r, 405, "method_not_allowed", "Method Not Allowed")
	mustEqual(t, "Allow", r.header.Get("Allow"), "POST")
	r = c.do("PUT", "/tags", map[string]any{"name": "x"})
	checkError(t, r, 405, "method_not_allowed", "Method Not Allowed")
	mustEqual(t, "Allow", r.header.Get("Allow"), "GET, POST")
}

func TestTagsFollowMergeAndDelete(t *testing.T) {
	s, c, clk := start(t, Options{})
	ts := t0.Unix()
	user := c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
	lead := c.ok("POST", "/contacts", map[string]any{"role": "lead", "email": "lee@example.com"}, 200)["id"].(string)
	a := c.ok("POST", "/tags", map[string]any{"name": "A", "users": []any{map[string]any{"id": lead}}}, 200)["id"].(string)
	clk.Advance(time.Second)
	b := c.ok("POST", "/tags", map[string]any{"name": "B", "users": []any{map[string]any{"id": user}, map[string]any{"id": lead}}}, 200)["id"].(string)

	clk.Advance(time.Second)
	c.ok("POST", "/contacts/merge", map[string]any{"from": lead, "into": user}, 200)
	got := s.State()
	mustEqual(t, "merged contact's tags", got.Contacts[0].Tags, []string{"A", "B"})
	// The lead's tag keeps the time it was applied to the lead.
	mustEqual(t, "untag A", c.ok("DELETE", "/contacts/"+user+"/tags/"+a, nil, 200), appliedTagBody(a, "A", ts))
	mustEqual(t, "untag B", c.ok("DELETE", "/contacts/"+user+"/tags/"+b, nil, 200), appliedTagBody(b, "B", ts+1))
	c.ok("POST", "/contacts/"+user+"/tags", map[string]any{"id": a}, 200)

	// Deleting the contact takes its tags with it; the tags stay.
	c.ok("DELETE", "/contacts/"+user, nil, 200)
	got = s.State()
	mustEqual(t, "after delete", [2]int{len(got.Contacts), len(got.Tags)}, [2]int{0, 2})
	c.fail("POST", "/contacts/"+user+"/tags", map[string]any{"id": a}, 404, "not_found", "User Not Found")
}
