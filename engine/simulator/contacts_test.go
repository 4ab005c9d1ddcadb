package simulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMeAndAdmins(t *testing.T) {
	_, c, _ := start(t, Options{Token: "tok"})
	mustEqual(t, "GET /me", c.ok("GET", "/me", nil, 200), map[string]any{
		"type": "admin", "id": "1", "email": "sim@example.com", "name": "Simulator",
		"away_mode_enabled": false, "away_mode_reassign": false, "has_inbox_seat": true, "team_ids": []any{},
		"app": map[string]any{"type": "app", "id_code": "sim", "name": "Intercom Simulator", "region": "US"},
	})
	mustEqual(t, "GET /admins", c.ok("GET", "/admins", nil, 200), map[string]any{
		"type": "admin.list",
		"admins": []any{map[string]any{
			"type": "admin", "id": "1", "email": "sim@example.com", "name": "Simulator",
			"away_mode_enabled": false, "away_mode_reassign": false, "has_inbox_seat": true, "team_ids": []any{},
		}},
	})
}

func TestContactLifecycle(t *testing.T) {
	s, c, clk := start(t, Options{})
	created := c.ok("POST", "/contacts", map[string]any{
		"external_id": "u1", "email": "ann@example.com", "name": "Ann",
		"signed_up_at": 1600000000, "owner_id": "7",
		"custom_attributes": map[string]any{"plan": "pro", "seats": 3, "vip": true},
	}, 200)
	id := created["id"].(string)
	if len(id) != 24 {
		t.Fatalf("id %q is not 24 characters", id)
	}
	want := map[string]any{
		"type": "contact", "id": id, "workspace_id": "sim", "external_id": "u1",
		"role": "user", "email": "ann@example.com", "phone": nil, "name": "Ann",
		"avatar": nil, "owner_id": "7", "created_at": float64(t0.Unix()),
		"updated_at": float64(t0.Unix()), "signed_up_at": 1600000000.0,
		"last_seen_at": nil, "has_hard_bounced": false, "marked_email_as_spam": false,
		"unsubscribed_from_emails": false,
		"custom_attributes":        map[string]any{"plan": "pro", "seats": 3.0, "vip": true},
		"companies": map[string]any{
			"type": "list", "data": []any{}, "url": "/contacts/" + id + "/companies",
			"total_count": 0.0, "has_more": false,
		},
	}
	mustEqual(t, "created contact", created, want)
	mustEqual(t, "GET contact", c.ok("GET", "/contacts/"+id, nil, 200), want)

	// A partial update changes only the given fields; null removes a custom
	// attribute.
	clk.Advance(5 * time.Second)
	updated := c.ok("PUT", "/contacts/"+id, map[string]any{
		"phone": "+100", "last_seen_at": 1700000000,
		"custom_attributes": map[string]any{"plan": "team", "vip": nil},
	}, 200)
	want["phone"] = "+100"
	want["last_seen_at"] = 1700000000.0
	want["updated_at"] = float64(t0.Unix() + 5)
	want["custom_attributes"] = map[string]any{"plan": "team", "seats": 3.0}
	mustEqual(t, "updated contact", updated, want)

	// An update that changes nothing keeps updated_at.
	clk.Advance(5 * time.Second)
	mustEqual(t, "no-op update", c.ok("PUT", "/contacts/"+id, map[string]any{"name": "Ann"}, 200), want)

	mustEqual(t, "state", s.State().Contacts, []Contact{{
		ID: id, Role: "user", ExternalID: "u1", Email: "ann@example.com", Phone: "+100",
		Name: "Ann", OwnerID: 7, SignedUpAt: 1600000000, LastSeenAt: 1700000000,
		CustomAttributes: map[string]any{"plan": "team", "seats": 3.0},
		CreatedAt:        t0.Unix(), UpdatedAt: t0.Unix() + 5,
	}})

	mustEqual(t, "DELETE", c.ok("DELETE", "/contacts/"+id, nil, 200), map[string]any{
		"id": id, "external_id": "u1", "type": "contact", "object": "contact", "deleted": true,
	})
	c.fail("GET", "/contacts/"+id, nil, 404, "not_found", "User Not Found")
	c.fail("PUT", "/contacts/"+id, map[string]any{"name": "x"}, 404, "not_found", "User Not Found")
	c.fail("DELETE", "/contacts/"+id, nil, 404, "not_found", "User Not Found")
	mustEqual(t, "contacts after delete", len(s.State().Contacts), 0)
}

func TestCreateContactValidation(t *testing.T) {
	s, c, _ := start(t, Options{})
	for _, tc := range []struct {
		name    string
		body    any
		code    string
		message string
	}{
		{"unknown field", map[string]any{"email": "a@b.co", "nickname": "x"}, "parameter_invalid", "nickname is not a valid parameter"},
		{"bad role", map[string]any{"role": "admin", "email": "a@b.co"}, "parameter_invalid", "role must be one of: user, lead"},
		{"user without ids", map[string]any{"name": "x"}, "parameter_invalid", "Role user requires an email or external_id"},
		{"empty object", map[string]any{}, "parameter_invalid", "Role user requires an email or external_id"},
		{"lead with external_id", map[string]any{"role": "lead", "external_id": "x"}, "parameter_invalid", "external_id is not allowed for role lead"},
		{"nested custom attribute", map[string]any{"email": "a@b.co", "custom_attributes": map[string]any{"a": map[string]any{"b": 1}}},
			"parameter_invalid", "custom_attributes.a must be a string, number, boolean or null: nested objects and arrays are not allowed"},
		{"array custom attribute", map[string]any{"email": "a@b.co", "custom_attributes": map[string]any{"tags": []any{"x"}}},
			"parameter_invalid", "custom_attributes.tags must be a string, number, boolean or null: nested objects and arrays are not allowed"},
		{"custom_attributes not object", map[string]any{"email": "a@b.co", "custom_attributes": "x"}, "parameter_invalid", "custom_attributes must be an object"},
		{"timestamp as string", map[string]any{"email": "a@b.co", "signed_up_at": "2020-01-01T00:00:00Z"}, "parameter_invalid", "signed_up_at must be an integer"},
		{"fractional timestamp", map[string]any{"email": "a@b.co", "last_seen_at": 1.5}, "parameter_invalid", "last_seen_at must be an integer"},
		{"email not string", map[string]any{"email": 5}, "parameter_invalid", "email must be a string"},
		{"invalid email", map[string]any{"email": "not-an-email"}, "parameter_invalid", `email "not-an-email" is not a valid email address`},
		{"unsubscribed not bool", map[string]any{"email": "a@b.co", "unsubscribed_from_emails": "yes"}, "parameter_invalid", "unsubscribed_from_emails must be a boolean"},
		{"malformed JSON", `{"email":`, "bad_request", "Request body is not valid JSON"},
		{"not an object", `["email"]`, "bad_request", "Request body must be a JSON object"},
		{"empty body", "", "bad_request", "Request body is empty: a JSON object is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.fail("POST", "/contacts", tc.body, 400, tc.code, tc.message)
		})
	}
	mustEqual(t, "contacts", len(s.State().Contacts), 0)
}

func TestContactConflicts(t *testing.T) {
	s, c, _ := start(t, Options{})
	u1 := c.ok("POST", "/contacts", map[string]any{"external_id": "u1", "email": "ann@example.com"}, 200)["id"].(string)
	conflict := "A contact matching those details already exists with id=" + u1

	c.fail("POST", "/contacts", map[string]any{"external_id": "u1"}, 409, "conflict", conflict)
	c.fail("POST", "/contacts", map[string]any{"external_id": "u1", "email": "other@example.com"}, 409, "conflict", conflict)
	// A user with the email of an existing user conflicts (case-insensitively).
	c.fail("POST", "/contacts", map[string]any{"email": "ANN@example.com"}, 409, "conflict", conflict)
	c.fail("POST", "/contacts", map[string]any{"external_id": "u2", "email": "ann@example.com"}, 409, "conflict", conflict)

	// Leads may share an email with each other and with a user.
	l1 := c.ok("POST", "/contacts", map[string]any{"role": "lead", "email": "ann@example.com"}, 200)
	l2 := c.ok("POST", "/contacts", map[string]any{"role": "lead", "email": "ann@example.com"}, 200)
	if l1["id"] == l2["id"] || l1["role"] != "lead" || l1["external_id"] != nil {
		t.Fatalf("leads: %v %v", l1, l2)
	}
	// A lead needs no email at all.
	c.ok("POST", "/contacts", map[string]any{"role": "lead"}, 200)
	// A user may take a lead's email.
	c.ok("POST", "/contacts", map[string]any{"email": "bob@example.com"}, 200)
	c.ok("POST", "/contacts", map[string]any{"role": "lead", "email": "bob@example.com"}, 200)
	mustEqual(t, "contact count", len(s.State().Contacts), 6)
}

func TestUpdateContactRules(t *testing.T) {
	s, c, _ := start(t, Options{})
	u1 := c.ok("POST", "/contacts", map[string]any{"external_id": "u1", "email": "ann@example.com"}, 200)["id"].(string)
	u2 := c.ok("POST", "/contacts", map[string]any{"external_id": "u2"}, 200)["id"].(string)
	lead := c.ok("POST", "/contacts", map[string]any{"role": "lead", "email": "lee@example.com"}, 200)["id"].(string)

	c.fail("PUT", "/contacts/"+u2, map[string]any{"external_id": "u1"}, 409, "conflict",
		"A contact matching those details already exists with id="+u1)
	c.fail("PUT", "/contacts/"+u2, map[string]any{"email": "ann@example.com"}, 409, "conflict",
		"A contact matching those details already exists with id="+u1)
	c.fail("PUT", "/contacts/"+u1, map[string]any{"role": "lead"}, 400, "parameter_invalid",
		"role cannot be changed from user to lead")
	c.fail("PUT", "/contacts/"+u2, map[string]any{"external_id": nil}, 400, "parameter_invalid",
		"Role user requires an email or external_id")
	c.fail("PUT", "/contacts/"+lead, map[string]any{"external_id": "l1"}, 400, "parameter_invalid",
		"external_id is not allowed for role lead")
	c.fail("PUT", "/contacts/"+u2, map[string]any{"bogus": 1}, 400, "parameter_invalid",
		"bogus is not a valid parameter")

	// Lead → user with an external_id is allowed.
	got := c.ok("PUT", "/contacts/"+lead, map[string]any{"role": "user", "external_id": "u3"}, 200)
	if got["role"] != "user" || got["external_id"] != "u3" || got["email"] != "lee@example.com" {
		t.Fatalf("converted lead: %v", got)
	}
	// Updating a user to its own external_id and email is not a conflict.
	c.ok("PUT", "/contacts/"+u1, map[string]any{"external_id": "u1", "email": "ann@example.com"}, 200)
	st := s.State()
	mustEqual(t, "roles", []string{st.Contacts[0].Role, st.Contacts[1].Role, st.Contacts[2].Role}, []string{"user", "user", "user"})
	mustEqual(t, "u2 unchanged", st.Contacts[1].ExternalID+"|"+st.Contacts[1].Email, "u2|")
}

func TestMerge(t *testing.T) {
	s, c, _ := start(t, Options{})
	user := c.ok("POST", "/contacts", map[string]any{
		"external_id": "u1", "custom_attributes": map[string]any{"plan": "pro"},
	}, 200)["id"].(string)
	lead := c.ok("POST", "/contacts", map[string]any{
		"role": "lead", "email": "lee@example.com", "name": "Lee",
		"custom_attributes": map[string]any{"plan": "free", "source": "ad"},
	}, 200)["id"].(string)
	other := c.ok("POST", "/contacts", map[string]any{"external_id": "u2"}, 200)["id"].(string)
	co := c.ok("POST", "/companies", map[string]any{"company_id": "acme"}, 200)["id"].(string)
	c.ok("POST", "/contacts/"+lead+"/companies", map[string]any{"id": co}, 200)
	c.ok("POST", "/events", map[string]any{"event_name": "visited", "created_at": 1700000000, "id": lead}, 202)

	for _, tc := range []struct {
		body          map[string]any
		status        int
		code, message string
	}{
		{map[string]any{"from": user, "into": other}, 400, "parameter_invalid", "from must be a contact with role lead"},
		{map[string]any{"from": lead, "into": lead}, 400, "parameter_invalid", "into must be a contact with role user"},
		{map[string]any{"from": lead, "into": "65c000000000000000000999"}, 404, "not_found", "User Not Found"},
		{map[string]any{"from": "nope", "into": user}, 404, "not_found", "User Not Found"},
		{map[string]any{"into": user}, 400, "parameter_not_found", "from not specified"},
		{map[string]any{"from": lead}, 400, "parameter_not_found", "into not specified"},
	} {
		c.fail("POST", "/contacts/merge", tc.body, tc.status, tc.code, tc.message)
	}

	merged := c.ok("POST", "/contacts/merge", map[string]any{"from": lead, "into": user}, 200)
	if merged["id"] != user || merged["email"] != "lee@example.com" || merged["name"] != "Lee" ||
		merged["external_id"] != "u1" || merged["role"] != "user" {
		t.Fatalf("merged contact: %v", merged)
	}
	mustEqual(t, "merged custom attributes", merged["custom_attributes"], map[string]any{"plan": "pro", "source": "ad"})
	c.fail("GET", "/contacts/"+lead, nil, 410, "contact_merged", "This contact has been merged. See the 'Link' header for the canonical contact.")

	st := s.State()
	mustEqual(t, "contacts", len(st.Contacts), 2)
	mustEqual(t, "user companies", st.Contacts[0].CompanyIDs, []string{co})
	mustEqual(t, "events", st.Events, []Event{{ContactID: user, EventName: "visited", CreatedAt: 1700000000}})
	mustEqual(t, "user_count", st.Companies[0].UserCount, 1)
}

func TestCompanies(t *testing.T) {
	s, c, clk := start(t, Options{})
	first := c.offDescription("simulator-truncates-monthly-spend").ok("POST", "/companies", map[string]any{
		"company_id": "acme", "name": "Acme", "plan": "pro", "size": 50,
		"monthly_spend": 155.98, "remote_created_at": 1500000000,
		"custom_attributes": map[string]any{"tier": "gold"},
	}, 200)
	id := first["id"].(string)
	want := map[string]any{
		"type": "company", "id": id, "app_id": "sim", "company_id": "acme", "name": "Acme",
		"plan": map[string]any{"type": "plan", "name": "pro"}, "size": 50.0,
		"monthly_spend":     155.0,
		"remote_created_at": 1500000000.0, "created_at": float64(t0.Unix()),
		"updated_at": float64(t0.Unix()), "session_count": 0.0, "user_count": 0.0,
		"custom_attributes": map[string]any{"tier": "gold"},
	}
	mustEqual(t, "created company", first, want)

	clk.Advance(time.Minute)
	second := c.ok("POST", "/companies", map[string]any{
		"company_id": "acme", "website": "https://acme.test", "size": 60,
	}, 200)
	want["website"] = "https://acme.test"
	want["size"] = 60.0
	want["updated_at"] = float64(t0.Unix() + 60)
	mustEqual(t, "updated company (same id)", second, want)

	mustEqual(t, "GET by company_id", c.ok("GET", "/companies?company_id=acme", nil, 200), want)
	mustEqual(t, "GET by id", c.ok("GET", "/companies/"+id, nil, 200), want)
	c.fail("GET", "/companies?company_id=nope", nil, 404, "not_found", "Company Not Found")
	c.fail("GET", "/companies/65d000000000000000000999", nil, 404, "not_found", "Company Not Found")
	c.fail("POST", "/companies", map[string]any{"name": "x"}, 400, "parameter_not_found", "company_id not specified")
	c.fail("POST", "/companies", map[string]any{"company_id": 5}, 400, "parameter_invalid", "company_id must be a string")
	c.fail("POST", "/companies", map[string]any{"company_id": "b", "size": "big"}, 400, "parameter_invalid", "size must be an integer")
	c.fail("POST", "/companies", map[string]any{"company_id": "b", "employees": 3}, 400, "parameter_invalid", "employees is not a valid parameter")

	c.ok("POST", "/companies", map[string]any{"company_id": "beta"}, 200)
	list := c.ok("GET", "/companies?per_page=1&page=2", nil, 200)
	if list["total_count"] != 2.0 || len(list["data"].([]any)) != 1 ||
		list["data"].([]any)[0].(map[string]any)["company_id"] != "beta" {
		t.Fatalf("list: %v", list)
	}
	st := s.State()
	mustEqual(t, "companies", st.Companies, []Company{
		{ID: id, CompanyID: "acme", Name: "Acme", Plan: "pro", Size: 60, Website: "https://acme.test",
			MonthlySpend: 155, RemoteCreatedAt: 1500000000, CustomAttributes: map[string]any{"tier": "gold"},
			CreatedAt: t0.Unix(), UpdatedAt: t0.Unix() + 60},
		{ID: st.Companies[1].ID, CompanyID: "beta", CreatedAt: t0.Unix() + 60, UpdatedAt: t0.Unix() + 60},
	})
	if st.Companies[0].ID == st.Companies[1].ID || st.Companies[1].ID[:3] != "65d" {
		t.Fatalf("company ids %q %q", st.Companies[0].ID, st.Companies[1].ID)
	}
}

func TestContactCompanies(t *testing.T) {
	s, c, _ := start(t, Options{})
	u := c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
	acme := c.ok("POST", "/companies", map[string]any{"company_id": "acme", "name": "Acme"}, 200)["id"].(string)
	beta := c.ok("POST", "/companies", map[string]any{"company_id": "beta"}, 200)["id"].(string)

	got := c.ok("POST", "/contacts/"+u+"/companies", map[string]any{"id": acme}, 200)
	if got["type"] != "company" || got["id"] != acme || got["user_count"] != 1.0 {
		t.Fatalf("attach answer: %v", got)
	}
	c.ok("POST", "/contacts/"+u+"/companies", map[string]any{"id": acme}, 200) // idempotent
	c.ok("POST", "/contacts/"+u+"/companies", map[string]any{"id": beta}, 200)

	list := c.ok("GET", "/contacts/"+u+"/companies", nil, 200)
	mustEqual(t, "list ids", ids(t, list), []string{acme, beta})
	if list["type"] != "list" || list["total_count"] != 2.0 {
		t.Fatalf("list: %v", list)
	}
	contact := c.ok("GET", "/contacts/"+u, nil, 200)
	mustEqual(t, "contact.companies", contact["companies"], map[string]any{
		"type": "list", "url": "/contacts/" + u + "/companies", "total_count": 2.0, "has_more": false,
		"data": []any{
			map[string]any{"type": "company", "id": acme, "url": "/companies/" + acme},
			map[string]any{"type": "company", "id": beta, "url": "/companies/" + beta},
		},
	})

	c.fail("POST", "/contacts/"+u+"/companies", map[string]any{"id": "65d000000000000000000999"}, 404, "not_found", "Company Not Found")
	c.fail("POST", "/contacts/65c000000000000000000999/companies", map[string]any{"id": acme}, 404, "not_found", "User Not Found")
	c.fail("POST", "/contacts/"+u+"/companies", map[string]any{}, 400, "parameter_not_found", "id not specified")
	c.fail("GET", "/contacts/65c000000000000000000999/companies", nil, 404, "not_found", "User Not Found")

	detached := c.ok("DELETE", "/contacts/"+u+"/companies/"+acme, nil, 200)
	if detached["id"] != acme || detached["user_count"] != 0.0 {
		t.Fatalf("detach answer: %v", detached)
	}
	c.fail("DELETE", "/contacts/"+u+"/companies/"+acme, nil, 404, "not_found", "Company Not Found")
	mustEqual(t, "state company ids", s.State().Contacts[0].CompanyIDs, []string{beta})
	mustEqual(t, "user counts", []int{s.State().Companies[0].UserCount, s.State().Companies[1].UserCount}, []int{0, 1})
}

func TestEvents(t *testing.T) {
	s, c, _ := start(t, Options{})
	u := c.ok("POST", "/contacts", map[string]any{"external_id": "u1", "email": "ann@example.com"}, 200)["id"].(string)
	lead := c.ok("POST", "/contacts", map[string]any{"role": "lead", "email": "lee@example.com"}, 200)["id"].(string)

	for _, body := range []map[string]any{
		{"event_name": "by-user-id", "created_at": 1700000001, "user_id": "u1",
			"metadata": map[string]any{"plan": "pro", "n": 2, "ok": true,
				"price": map[string]any{"amount": 1999, "currency": "USD"},
				"link":  map[string]any{"url": "https://x.test", "value": "X"}}},
		{"event_name": "by-email", "created_at": 1700000002, "email": "ANN@example.com"},
		{"event_name": "by-id", "created_at": 1700000003, "id": lead},
	} {
		r := c.do("POST", "/events", body)
		if r.status != http.StatusAccepted || len(r.body) != 0 {
			t.Fatalf("POST /events %v: %d %q", body, r.status, r.body)
		}
	}
	c.fail("POST", "/events", map[string]any{"event_name": "x", "created_at": 1, "user_id": "nope"}, 404, "not_found", "User Not Found")
	c.fail("POST", "/events", map[string]any{"event_name": "x", "created_at": 1, "id": "nope"}, 404, "not_found", "User Not Found")
	// Leads are not matched by email.
	c.fail("POST", "/events", map[string]any{"event_name": "x", "created_at": 1, "email": "lee@example.com"}, 404, "not_found", "User Not Found")

	eleven := map[string]any{}
	for i := range 11 {
		eleven[string(rune('a'+i))] = i
	}
	c.fail("POST", "/events", map[string]any{"event_name": "x", "created_at": 1, "user_id": "u1", "metadata": eleven},
		400, "parameter_invalid", "metadata has 11 keys: at most 10 are allowed")
	c.fail("POST", "/events", map[string]any{"event_name": "x", "created_at": 1, "user_id": "u1", "metadata": map[string]any{"deep": map[string]any{"a": 1}}},
		400, "parameter_invalid", `metadata.deep must be a string, number, boolean, a rich link {"url","value"} or a monetary amount {"amount","currency"}`)
	c.fail("POST", "/events", map[string]any{"created_at": 1, "user_id": "u1"}, 400, "parameter_not_found", "event_name not specified")
	c.fail("POST", "/events", map[string]any{"event_name": "x", "user_id": "u1"}, 400, "parameter_not_found", "created_at not specified")
	c.fail("POST", "/events", map[string]any{"event_name": "x", "created_at": "2020-01-01", "user_id": "u1"}, 400, "parameter_invalid", "created_at must be an integer")
	c.fail("POST", "/events", map[string]any{"event_name": "x", "created_at": 1}, 400, "parameter_not_found", "id, user_id or email not specified")
	c.fail("POST", "/events", map[string]any{"event_name": "x", "created_at": 1, "user_id": "u1", "properties": map[string]any{}}, 400, "parameter_invalid", "properties is not a valid parameter")

	mustEqual(t, "events", s.State().Events, []Event{
		{ContactID: u, EventName: "by-user-id", CreatedAt: 1700000001, Metadata: map[string]any{
			"plan": "pro", "n": 2.0, "ok": true,
			"price": map[string]any{"amount": 1999.0, "currency": "USD"},
			"link":  map[string]any{"url": "https://x.test", "value": "X"},
		}},
		{ContactID: u, EventName: "by-email", CreatedAt: 1700000002},
		{ContactID: lead, EventName: "by-id", CreatedAt: 1700000003},
	})

	// Deleting a contact deletes its events.
	c.ok("DELETE", "/contacts/"+u, nil, 200)
	mustEqual(t, "events after delete", s.State().Events, []Event{{ContactID: lead, EventName: "by-id", CreatedAt: 1700000003}})
}

func TestRoutingErrors(t *testing.T) {
	_, c, _ := start(t, Options{})
	c.fail("GET", "/nope", nil, 404, "not_found", "Resource Not Found")
	c.fail("GET", "/contacts/", nil, 404, "not_found", "Resource Not Found")
	c.fail("GET", "/contacts/a/b/c/d", nil, 404, "not_found", "Resource Not Found")
	r := c.do("GET", "/contacts/search", nil)
	checkError(t, r, 405, "method_not_allowed", "Method Not Allowed")
	mustEqual(t, "Allow", r.header.Get("Allow"), "POST")
	r = c.do("PATCH", "/contacts/x", nil)
	checkError(t, r, 405, "method_not_allowed", "Method Not Allowed")
	mustEqual(t, "Allow", r.header.Get("Allow"), "DELETE, GET, PUT")
}

func TestNewHandlerWithoutListener(t *testing.T) {
	s := NewHandler(Options{})
	defer s.Close()
	if s.URL() != "" {
		t.Fatalf("URL() = %q for an unstarted handler", s.URL())
	}
	var h http.Handler = s
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest("POST", "/contacts", strings.NewReader(`{"email":"a@b.co"}`))
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["email"] != "a@b.co" {
		t.Fatalf("body %s (%v)", rec.Body, err)
	}
	mustEqual(t, "limit header", rec.Header().Get("X-RateLimit-Limit"), "1000000")
}

func TestDataAttributes(t *testing.T) {
	s, c, _ := start(t, Options{DataAttributes: []string{"plan"}})
	checkError(t, c.do("POST", "/contacts", map[string]any{"external_id": "u1", "custom_attributes": map[string]any{"plan": "pro", "tier": 2}}),
		400, "parameter_invalid", "Custom attribute 'tier' does not exist")
	checkError(t, c.do("POST", "/companies", map[string]any{"company_id": "acme", "custom_attributes": map[string]any{"seats": 3}}),
		400, "parameter_invalid", "Custom attribute 'seats' does not exist")
	if r := c.do("POST", "/contacts", map[string]any{"external_id": "u1", "custom_attributes": map[string]any{"plan": "pro"}}); r.status != 200 {
		t.Fatalf("a defined attribute: status %d, %s", r.status, r.body)
	}
	if st := s.State(); len(st.Contacts) != 1 || len(st.Companies) != 0 {
		t.Errorf("state after the refusals: %d contacts, %d companies", len(st.Contacts), len(st.Companies))
	}
}

// TestEventDeduplication: as Intercom's description of POST /events says,
// an event of the same contact, name (ignoring case) and created_at as a
// stored one is a duplicate, whatever its metadata: it is answered 202 like
// any other and not stored, however the contact is named. Another second,
// name or contact makes a new event.
func TestEventDeduplication(t *testing.T) {
	s, c, _ := start(t, Options{})
	u := c.ok("POST", "/contacts", map[string]any{"external_id": "u1", "email": "ann@example.com"}, 200)["id"].(string)
	other := c.ok("POST", "/contacts", map[string]any{"external_id": "u9"}, 200)["id"].(string)
	send := func(body map[string]any) {
		t.Helper()
		if r := c.do("POST", "/events", body); r.status != http.StatusAccepted || len(r.body) != 0 {
			t.Fatalf("POST /events %v: %d %q", body, r.status, r.body)
		}
	}
	meta := map[string]any{"plan": "pro", "n": 2}
	send(map[string]any{"event_name": "Signed-Up", "created_at": 1700000001, "user_id": "u1", "metadata": meta})
	send(map[string]any{"event_name": "Signed-Up", "created_at": 1700000001, "user_id": "u1", "metadata": meta})
	send(map[string]any{"event_name": "signed-up", "created_at": 1700000001, "id": u, "metadata": map[string]any{"n": 2.0, "plan": "pro"}})
	send(map[string]any{"event_name": "Signed-Up", "created_at": 1700000001, "email": "ann@example.com", "metadata": meta})
	send(map[string]any{"event_name": "Signed-Up", "created_at": 1700000002, "user_id": "u1", "metadata": meta})                                   // another time
	send(map[string]any{"event_name": "Signed-Up", "created_at": 1700000001, "user_id": "u1"})                                                     // no metadata: a duplicate
	send(map[string]any{"event_name": "Signed-Up", "created_at": 1700000001, "user_id": "u1", "metadata": map[string]any{"plan": "team", "n": 3}}) // other metadata: a duplicate
	send(map[string]any{"event_name": "Upgraded", "created_at": 1700000001, "user_id": "u1", "metadata": meta})                                    // another name
	send(map[string]any{"event_name": "Signed-Up", "created_at": 1700000001, "user_id": "u9", "metadata": meta})                                   // another contact
	mustEqual(t, "events", s.State().Events, []Event{
		{ContactID: u, EventName: "Signed-Up", CreatedAt: 1700000001, Metadata: map[string]any{"plan": "pro", "n": 2.0}},
		{ContactID: u, EventName: "Signed-Up", CreatedAt: 1700000002, Metadata: map[string]any{"plan": "pro", "n": 2.0}},
		{ContactID: u, EventName: "Upgraded", CreatedAt: 1700000001, Metadata: map[string]any{"plan": "pro", "n": 2.0}},
		{ContactID: other, EventName: "Signed-Up", CreatedAt: 1700000001, Metadata: map[string]any{"plan": "pro", "n": 2.0}},
	})
	mustEqual(t, "duplicates", s.DuplicateEvents(), 5)
	mustEqual(t, "requests", len(s.Requests()), 11)

	// A contact deleted and made again is another contact: its events are new.
	c.ok("DELETE", "/contacts/"+u, nil, 200)
	c.ok("DELETE", "/contacts/"+other, nil, 200)
	u2 := c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
	send(map[string]any{"event_name": "Signed-Up", "created_at": 1700000001, "user_id": "u1", "metadata": meta})
	send(map[string]any{"event_name": "Signed-Up", "created_at": 1700000001, "user_id": "u1", "metadata": meta})
	mustEqual(t, "events after delete", s.State().Events, []Event{
		{ContactID: u2, EventName: "Signed-Up", CreatedAt: 1700000001, Metadata: map[string]any{"plan": "pro", "n": 2.0}},
	})
}
