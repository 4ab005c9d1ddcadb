package simulator

import (
	"fmt"
	"testing"
	"time"
)

// stdAttr is a standard attribute as GET /data_attributes answers it.
func stdAttr(model, name, fullName, label, description, dataType string, apiWritable bool) any {
	return map[string]any{
		"type": "data_attribute", "name": name, "full_name": fullName, "label": label,
		"description": description, "data_type": dataType, "api_writable": apiWritable,
		"ui_writable": false, "messenger_writable": true, "custom": false, "archived": false,
		"model": model,
	}
}

var (
	contactStandard = []any{
		stdAttr("contact", "external_id", "external_id", "External ID", "Your own identifier for the contact", "string", true),
		stdAttr("contact", "email", "email", "Email", "The contact's email address", "string", true),
		stdAttr("contact", "phone", "phone", "Phone", "The contact's phone number", "string", true),
		stdAttr("contact", "name", "name", "Name", "The contact's name", "string", true),
		stdAttr("contact", "owner_id", "owner_id", "Owner", "The admin who owns the contact", "integer", true),
		stdAttr("contact", "signed_up_at", "signed_up_at", "Signed up", "When the contact signed up", "date", true),
		stdAttr("contact", "last_seen_at", "last_seen_at", "Last seen", "When the contact was last seen", "date", true),
		stdAttr("contact", "unsubscribed_from_emails", "unsubscribed_from_emails", "Unsubscribed from emails", "Whether the contact has unsubscribed from emails", "boolean", true),
	}
	companyStandard = []any{
		stdAttr("company", "company_id", "company_id", "Company ID", "Your own identifier for the company", "string", false),
		stdAttr("company", "name", "name", "Company name", "The company's name", "string", true),
		stdAttr("company", "name", "plan.name", "Plan", "The plan the company is on", "string", false),
		stdAttr("company", "size", "size", "Company size", "The number of people the company employs", "integer", true),
		stdAttr("company", "website", "website", "Company website", "The company's website", "string", true),
		stdAttr("company", "industry", "industry", "Company industry", "The company's industry", "string", true),
		stdAttr("company", "monthly_spend", "monthly_spend", "Monthly Spend", "The monthly revenue from the company", "float", true),
		stdAttr("company", "remote_created_at", "remote_created_at", "Company created at", "When the company was created in your system", "date", true),
		stdAttr("company", "user_count", "user_count", "People", "The number of contacts in the company", "integer", false),
	}
)

// predefinedAttr is a name of Options.DataAttributes as GET
// /data_attributes answers it.
func predefinedAttr(id int, model, name string) any {
	return map[string]any{
		"id": float64(id), "type": "data_attribute", "name": name, "full_name": "custom_attributes." + name,
		"label": name, "data_type": "string", "api_writable": true, "ui_writable": false,
		"messenger_writable": false, "custom": true, "archived": false, "model": model,
	}
}

// customAttr is an attribute created with POST /data_attributes as the API
// answers it; description "" is left out.
func customAttr(id int, model, name, dataType, description string, messenger bool, createdAt int64) map[string]any {
	out := map[string]any{
		"id": float64(id), "type": "data_attribute", "name": name, "full_name": "custom_attributes." + name,
		"label": name, "data_type": dataType, "api_writable": true, "ui_writable": false,
		"messenger_writable": messenger, "custom": true, "archived": false, "admin_id": "1",
		"created_at": float64(createdAt), "updated_at": float64(createdAt), "model": model,
	}
	if description != "" {
		out["description"] = description
	}
	return out
}

func attrList(items ...[]any) map[string]any {
	data := []any{}
	for _, it := range items {
		data = append(data, it...)
	}
	return map[string]any{"type": "list", "data": data}
}

func TestDataAttributeEndpoints(t *testing.T) {
	s, c, clk := start(t, Options{DataAttributes: []string{"plan", "tier", "plan"}})
	ts := t0.Unix()
	mustEqual(t, "GET contact attributes", c.ok("GET", "/data_attributes?model=contact", nil, 200),
		attrList(contactStandard, []any{predefinedAttr(1, "contact", "plan"), predefinedAttr(2, "contact", "tier")}))
	mustEqual(t, "GET company attributes", c.ok("GET", "/data_attributes?model=company&include_archived=true", nil, 200),
		attrList(companyStandard, []any{predefinedAttr(3, "company", "plan"), predefinedAttr(4, "company", "tier")}))

	mustEqual(t, "create seats", c.ok("POST", "/data_attributes",
		map[string]any{"name": "seats", "model": "company", "data_type": "integer", "description": "Paid seats"}, 200),
		customAttr(5, "company", "seats", "integer", "Paid seats", false, ts))
	clk.Advance(time.Second)
	ltv := customAttr(6, "contact", "Lifetime value", "float", "", true, ts+1)
	mustEqual(t, "create Lifetime value", c.ok("POST", "/data_attributes",
		map[string]any{"name": "Lifetime value", "model": "contact", "data_type": "float", "messenger_writable": true}, 200), ltv)
	mustEqual(t, "GET all", c.ok("GET", "/data_attributes", nil, 200), attrList(
		contactStandard, []any{predefinedAttr(1, "contact", "plan"), predefinedAttr(2, "contact", "tier"), ltv},
		companyStandard, []any{predefinedAttr(3, "company", "plan"), predefinedAttr(4, "company", "tier"),
			customAttr(5, "company", "seats", "integer", "Paid seats", false, ts)},
	))

	// A created attribute is accepted on its model only; the names of
	// Options.DataAttributes still on both.
	u := c.ok("POST", "/contacts", map[string]any{"external_id": "u1", "custom_attributes": map[string]any{"Lifetime value": 12.5, "plan": "pro"}}, 200)["id"].(string)
	c.fail("PUT", "/contacts/"+u, map[string]any{"custom_attributes": map[string]any{"seats": 3}}, 400, "parameter_invalid", "Custom attribute 'seats' does not exist")
	c.ok("POST", "/companies", map[string]any{"company_id": "acme", "custom_attributes": map[string]any{"seats": 3, "tier": "gold"}}, 200)
	c.fail("POST", "/companies", map[string]any{"company_id": "acme", "custom_attributes": map[string]any{"Lifetime value": 1}}, 400, "parameter_invalid", "Custom attribute 'Lifetime value' does not exist")
	c.fail("POST", "/contacts", map[string]any{"external_id": "u2", "custom_attributes": map[string]any{"other": 1}}, 400, "parameter_invalid", "Custom attribute 'other' does not exist")

	st := s.State()
	mustEqual(t, "state data attributes", st.DataAttributes, []DataAttribute{
		{ID: 5, Model: "company", Name: "seats", DataType: "integer", Description: "Paid seats", CreatedAt: ts},
		{ID: 6, Model: "contact", Name: "Lifetime value", DataType: "float", MessengerWritable: true, CreatedAt: ts + 1},
	})
	mustEqual(t, "canonical data attributes", st.Canonical().DataAttributes, []DataAttribute{
		{Model: "company", Name: "seats", DataType: "integer", Description: "Paid seats"},
		{Model: "contact", Name: "Lifetime value", DataType: "float", MessengerWritable: true},
	})
	mustEqual(t, "custom attributes kept", []any{st.Contacts[0].CustomAttributes, st.Companies[0].CustomAttributes},
		[]any{map[string]any{"Lifetime value": 12.5, "plan": "pro"}, map[string]any{"seats": 3.0, "tier": "gold"}})

	// Reset forgets the created attributes (not the predefined ones) and
	// restarts their ids.
	s.Reset()
	mustEqual(t, "GET after Reset", c.ok("GET", "/data_attributes?model=contact", nil, 200),
		attrList(contactStandard, []any{predefinedAttr(1, "contact", "plan"), predefinedAttr(2, "contact", "tier")}))
	c.fail("POST", "/contacts", map[string]any{"external_id": "u1", "custom_attributes": map[string]any{"Lifetime value": 1}}, 400, "parameter_invalid", "Custom attribute 'Lifetime value' does not exist")
	mustEqual(t, "create after Reset", c.ok("POST", "/data_attributes",
		map[string]any{"name": "Lifetime value", "model": "contact", "data_type": "float"}, 200),
		customAttr(5, "contact", "Lifetime value", "float", "", false, ts+1))
	if st := s.State(); st.DataAttributes[0].ID != 5 || len(st.Contacts) != 0 {
		t.Errorf("state after Reset: %+v", st)
	}
}

func TestDataAttributesWithoutTheOption(t *testing.T) {
	s, c, _ := start(t, Options{})
	ts := t0.Unix()
	mustEqual(t, "GET company attributes", c.ok("GET", "/data_attributes?model=company", nil, 200), attrList(companyStandard))
	for i, name := range []string{"Mithril Shirt", "plan_tier", "price-€", "Größe2"} {
		mustEqual(t, name, c.ok("POST", "/data_attributes", map[string]any{"name": name, "model": "contact", "data_type": "string"}, 200),
			customAttr(i+1, "contact", name, "string", "", false, ts))
	}
	// Without Options.DataAttributes any name is accepted, listed or not.
	c.ok("POST", "/contacts", map[string]any{"external_id": "u1", "custom_attributes": map[string]any{"anything": 1}}, 200)
	mustEqual(t, "created", len(s.State().DataAttributes), 4)
}

func TestDataAttributeErrors(t *testing.T) {
	s, c, _ := start(t, Options{DataAttributes: []string{"plan"}})
	c.ok("POST", "/data_attributes", map[string]any{"name": "seats", "model": "company", "data_type": "integer"}, 200)
	before := s.State()
	body := func(name, model, dataType string) map[string]any {
		return map[string]any{"name": name, "model": model, "data_type": dataType}
	}
	const badName = "Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens"
	for _, tc := range []struct {
		name      string
		body      any
		code, msg string
	}{
		{"no name", map[string]any{"model": "contact", "data_type": "string"}, "parameter_not_found", "name not specified"},
		{"no model", map[string]any{"name": "x", "data_type": "string"}, "parameter_not_found", "model not specified"},
		{"no data_type", map[string]any{"name": "x", "model": "contact"}, "parameter_not_found", "data_type not specified"},
		{"bad model", body("x", "conversation", "string"), "parameter_invalid", "The Data Attribute model field must be either contact or company"},
		{"bad data_type", body("x", "contact", "mithril"), "parameter_invalid", "Data Type isn't an option"},
		{"options data_type", body("x", "contact", "options"), "parameter_invalid", "Data Type isn't an option"},
		{"invalid name", body("!nv@l!d n@me", "company", "string"), "parameter_invalid", badName},
		{"dotted name", body("a.b", "company", "string"), "parameter_invalid", badName},
		{"blank name", body("  ", "company", "string"), "parameter_invalid", badName},
		{"same model", body("seats", "company", "string"), "parameter_invalid",
			"You already have 'seats' in your company data. To save this as new company data, use a different name."},
		{"other model", body("seats", "contact", "integer"), "parameter_invalid",
			"You already have 'seats' in your company data. To save this as new people data, use a different name."},
		{"predefined", body("plan", "contact", "string"), "parameter_invalid",
			"You already have 'plan' in your people data. To save this as new people data, use a different name."},
		{"options", map[string]any{"name": "x", "model": "contact", "data_type": "string", "options": []any{"a", "b"}},
			"parameter_invalid", "options is not supported by the simulator: it does not model list attributes"},
		{"unknown parameter", map[string]any{"name": "x", "model": "contact", "data_type": "string", "label": "X"},
			"parameter_invalid", "label is not a valid parameter"},
		{"name not a string", map[string]any{"name": 1, "model": "contact", "data_type": "string"}, "parameter_invalid", "name must be a string"},
		{"messenger_writable not a boolean", map[string]any{"name": "x", "model": "contact", "data_type": "string", "messenger_writable": "yes"},
			"parameter_invalid", "messenger_writable must be a boolean"},
		{"not an object", `["x"]`, "bad_request", "Request body must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.fail("POST", "/data_attributes", tc.body, 400, tc.code, tc.msg)
		})
	}
	c.fail("GET", "/data_attributes?model=conversation", nil, 400, "parameter_invalid", "model must be one of: contact, company")
	mustEqual(t, "state after the refusals", s.State(), before)
	r := c.do("PUT", "/data_attributes", nil)
	checkError(t, r, 405, "method_not_allowed", "Method Not Allowed")
	mustEqual(t, "Allow", r.header.Get("Allow"), "GET, POST")
}

func TestDataAttributeLimit(t *testing.T) {
	// 247 predefined names (a repeat counts once), so three more fit.
	names := []string{"a0"}
	for i := range 247 {
		names = append(names, fmt.Sprint("a", i))
	}
	s, c, _ := start(t, Options{DataAttributes: names})
	for i, model := range []string{"contact", "company", "contact"} {
		got := c.ok("POST", "/data_attributes", map[string]any{"name": fmt.Sprint("new", i), "model": model, "data_type": "boolean"}, 200)
		mustEqual(t, "id", got["id"], float64(2*247+i+1))
	}
	c.fail("POST", "/data_attributes", map[string]any{"name": "one too many", "model": "company", "data_type": "string"},
		400, "parameter_invalid", "You have reached the limit of 250 custom data attributes: archive unused ones to create more")
	mustEqual(t, "created", len(s.State().DataAttributes), 3)
	listed := c.ok("GET", "/data_attributes?model=contact", nil, 200)["data"].([]any)
	mustEqual(t, "listed contact attributes", len(listed), len(contactStandard)+247+2)
}
