package contract

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

func yamlValue(t *testing.T, src string) any {
	t.Helper()
	v, err := decodeYAML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFernMerge: overrides merge as Fern merges them (lodash mergeWith with
// Fern's customizer, then null values removed).
func TestFernMerge(t *testing.T) {
	for _, tc := range []struct{ name, doc, over, want string }{
		{"maps merge key by key", `{a: {b: 1, c: 2}}`, `{a: {c: 3, d: 4}}`, `{a: {b: 1, c: 3, d: 4}}`},
		{"null deletes", `{a: {b: 1, c: 2}}`, `{a: {b: null}}`, `{a: {c: 2}}`},
		{"nulls of the description go too", `{a: {example: null, b: 1}}`, `{}`, `{a: {b: 1}}`},
		{"lists of objects merge item by item", `{p: [{n: x, in: header}, {n: y, d: false}]}`, `{p: [{}, {n: page}]}`,
			`{p: [{n: x, in: header}, {n: page, d: false}]}`},
		{"a longer list of objects adds items", `{p: [{n: x}]}`, `{p: [{}, {n: y}]}`, `{p: [{n: x}, {n: y}]}`},
		{"lists of scalars are replaced", `{required: [a, b, c]}`, `{required: [d]}`, `{required: [d]}`},
		{"a scalar list replaces a list of objects", `{e: [{a: 1}]}`, `{e: [x]}`, `{e: [x]}`},
		{"an object replaces a scalar", `{a: 1}`, `{a: {b: 2}}`, `{a: {b: 2}}`},
		{"a scalar replaces an object", `{a: {b: 2}}`, `{a: 1}`, `{a: 1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := applyOverrides(yamlValue(t, tc.doc), yamlValue(t, tc.over))
			if want := yamlValue(t, tc.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// TestDuplicateKeysLastWins: a key given twice in one mapping keeps its
// last value, as js-yaml's JSON mode (which Fern reads overrides with)
// does; Intercom's overrides repeat admin, company and article_list_item.
func TestDuplicateKeysLastWins(t *testing.T) {
	got := yamlValue(t, "admin:\n  required: [a, b]\nadmin:\n  required: [c]\n")
	want := map[string]any{"admin": map[string]any{"required": []any{"c"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	var strict map[string]any
	if err := yaml.Unmarshal([]byte("a: 1\na: 2\n"), &strict); err == nil {
		t.Error("yaml.v3 takes duplicate keys itself now: decodeYAML may be simpler")
	}
}

// TestOverridesApplied: Intercom's own corrections are in the loaded
// description (the company's required fields, GET /companies answering one
// company or a list).
func TestOverridesApplied(t *testing.T) {
	c := load(t)
	company := c.doc.Components.Schemas["company"].Value
	if !slices.Contains(company.Required, "session_count") || slices.Contains(company.Required, "website") {
		t.Errorf("company.required = %v: the overrides' list was not applied", company.Required)
	}
	ok := c.doc.Paths.Value("/companies").Get.Responses.Status(200).Value.Content.Get("application/json").Schema.Value
	if len(ok.OneOf) != 2 {
		t.Errorf("GET /companies 200 has %d alternatives, want the overrides' 2 (company, company_list)", len(ok.OneOf))
	}
}

func load(t *testing.T) *checker {
	t.Helper()
	c, err := loadVendored()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// exchange is an Exchange from literals.
func exchange(method, path, version, reqBody string, status int, answer string) simulator.Exchange {
	h := http.Header{}
	if version != "" {
		h.Set("Intercom-Version", version)
	}
	ex := simulator.Exchange{Request: simulator.Request{Method: method, Path: path, Header: h}, Status: status,
		Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}}
	if reqBody != "" {
		ex.Request.Body = json.RawMessage(reqBody)
		ex.Request.Header.Set("Content-Type", "application/json")
	}
	if answer != "" {
		ex.Body = []byte(answer)
	}
	return ex
}

func messages(vs []violation) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.String())
	}
	slices.Sort(out)
	return out
}

// TestBrokenExchanges: deliberately broken requests and answers are
// caught, with messages that say where; valid ones and requests the
// simulator refused pass.
func TestBrokenExchanges(t *testing.T) {
	c := load(t)
	company := `{"type":"company","id":"65d1","app_id":"sim","company_id":"acme","name":"Acme","created_at":1,"updated_at":1,"monthly_spend":0,"session_count":0,"user_count":0,"custom_attributes":{}}`
	for _, tc := range []struct {
		name string
		ex   simulator.Exchange
		want []string
	}{
		{"a valid event", exchange("POST", "/events", "2.16", `{"event_name":"x","created_at":1700000000,"user_id":"u1"}`, 202, ""), []string{}},
		{"an event name that is a number",
			exchange("POST", "/events", "2.16", `{"event_name":5,"created_at":1700000000,"user_id":"u1"}`, 202, ""),
			[]string{`POST /events → 202: request body /: doesn't match any schema from "anyOf" (/event_name: value must be a string; /id: property "id" is missing; /email: property "email" is missing)`}},
		{"the same body refused by the simulator", exchange("POST", "/events", "2.16", `{"event_name":5,"created_at":1700000000,"user_id":"u1"}`, 400,
			`{"type":"error.list","request_id":"r","errors":[{"code":"parameter_invalid","message":"event_name must be a string"}]}`), []string{}},
		{"a 2.16 owner_id as an integer",
			exchange("PUT", "/contacts/65c1", "2.16", `{"owner_id":7}`, 404, `{"type":"error.list","request_id":"r","errors":[{"code":"not_found","message":"User Not Found"}]}`),
			[]string{`PUT /contacts/{contact_id} → 404: request body /: value doesn't match any schema from "oneOf" (/owner_id: value must be a string)`}},
		{"a valid company", exchange("GET", "/companies/65d1", "", "", 200, company), []string{}},
		{"a company with null website, fractional monthly_spend and no session_count",
			exchange("GET", "/companies/65d1", "", "", 200, strings.Replace(strings.Replace(company, `"session_count":0,`, `"website":null,`, 1), `"monthly_spend":0`, `"monthly_spend":1.5`, 1)),
			[]string{
				"GET /companies/{company_id} → 200: response body /monthly_spend: value must be an integer",
				`GET /companies/{company_id} → 200: response body /session_count: property "session_count" is missing`,
				"GET /companies/{company_id} → 200: response body /website: Value is not nullable",
			}},
		{"a status the operation does not list", exchange("POST", "/events", "", `{"event_name":"x","created_at":1,"user_id":"u1"}`, 200, `{}`),
			[]string{"POST /events → 200: response status 200 is not one the description lists (202, 401)"}},
		{"an error answer that is not an error.list", exchange("POST", "/events", "", `{"event_name":"x","created_at":1,"user_id":"u1"}`, 503, `{"message":"down"}`),
			[]string{`POST /events → 503: response body /errors: property "errors" is missing`, `POST /events → 503: response body /type: property "type" is missing`}},
		{"a version other than the description's", exchange("GET", "/me", "2.9", "", 0, ""),
			[]string{"GET /me → (dropped): request Intercom-Version 2.9: the description is of 2.16"}},
		{"a path the description lacks", exchange("GET", "/contacts/65c1/merge_status", "", "", 200, `{}`),
			[]string{"GET /contacts/65c1/merge_status → 200: request path and method are not in the description"}},
		{"the same path answered 404", exchange("GET", "/contacts/65c1/merge_status", "", "", 404, `{}`), []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, vs, _ := c.check(tc.ex)
			if got := messages(vs); !slices.Equal(got, tc.want) {
				t.Errorf("violations:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestRecorderWithSimulator: a simulator observed by a recorder reports a
// request it took that the description does not allow, unless the request
// names the tagged waiver for it; a request naming no waiver is reported.
func TestRecorderWithSimulator(t *testing.T) {
	rec := newRecorder()
	sim := simulator.NewServer(simulator.Options{Observe: rec.Observe})
	defer sim.Close()
	send := func(method, path, body, waiver string) {
		t.Helper()
		req, _ := http.NewRequest(method, sim.URL()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Intercom-Version", "2.16")
		if waiver != "" {
			req.Header.Set(WaiverHeader, waiver)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	send("POST", "/contacts", `{"external_id":"u1"}`, "")
	send("POST", "/tags", `{"name":"VIP"}`, "")
	id := sim.State().Contacts[0].ID
	send("POST", "/contacts/"+id+"/tags", `{"id":"1"}`, "")
	send("POST", "/contacts/"+id+"/tags", `{"id":1}`, "")
	send("POST", "/contacts/"+id+"/tags", `{"id":1}`, "simulator-takes-integer-ids")
	send("POST", "/contacts/"+id+"/tags", `{"id":"1"}`, "no-such-waiver")
	want := []string{
		"POST /contacts/{contact_id}/tags → 200: request body /id: value must be a string",
		`POST /contacts/` + id + `/tags: request X-Contract-Waiver names "no-such-waiver", which is not a tagged waiver of waivers.yaml`,
	}
	if got := rec.Violations(); !slices.Equal(got, want) {
		t.Errorf("violations:\n got %q\nwant %q", got, want)
	}
	var out bytes.Buffer
	if !rec.Report(&out) || !strings.Contains(out.String(), "- POST /contacts/{contact_id}/tags → 200: request body /id: value must be a string (1×)\n    request: {\"id\":1}\n") {
		t.Errorf("report:\n%s", out.String())
	}
	if got, want := rec.Summary(), "contract: 6 exchanges of 3 operations checked against Intercom's 2.16 description; waiver simulator-takes-integer-ids: 1\n"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

// TestWaiverErrors: a waiver without a reason, or whose patch names a
// schema the description lacks, is refused with a message that says so.
func TestWaiverErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"no reason", "waivers:\n  - name: x\n    match: {messages: [a]}\n", `line 2: waiver "x" gives no reason`},
		{"neither match nor patch", "waivers:\n  - name: x\n    reason: r\n", `line 2: waiver "x" needs either match or patch`},
		{"given twice", "waivers:\n  - name: x\n    reason: r\n    match: {messages: [a]}\n  - name: x\n    reason: r\n    match: {messages: [b]}\n",
			`line 5: waiver "x" given twice`},
		{"an empty message", "waivers:\n  - name: x\n    reason: r\n    match: {messages: ['']}\n", `line 2: waiver "x" matches no message`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseWaivers([]byte(tc.src))
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	ws, err := parseWaivers([]byte("waivers:\n  - name: typo\n    reason: r\n    patch: {components: {schemas: {compnay: {required: [id]}}}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	doc := yamlValue(t, "{openapi: 3.0.1, components: {schemas: {company: {type: object}}}}")
	if _, err := compile(doc, map[string]any{}, ws); err == nil || err.Error() != `waiver "typo": /components/schemas/compnay is not in the description` {
		t.Errorf("error %v", err)
	}
}
