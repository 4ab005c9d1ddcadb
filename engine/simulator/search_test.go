package simulator

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func TestSearch(t *testing.T) {
	_, c, clk := start(t, Options{})
	mk := func(body map[string]any) string {
		t.Helper()
		return c.ok("POST", "/contacts", body, 200)["id"].(string)
	}
	ann := mk(map[string]any{"external_id": "u1", "email": "ann@example.com", "name": "Ann Lee",
		"signed_up_at":      1577836800 + 3600, // 2020-01-01 01:00 UTC
		"custom_attributes": map[string]any{"plan": "pro", "seats": 5, "vip": true}})
	bob := mk(map[string]any{"external_id": "u2", "email": "bob@corp.test", "name": "Bob",
		"signed_up_at":      1577836800 + 86400 + 60, // 2020-01-02 00:01 UTC
		"custom_attributes": map[string]any{"plan": "free", "seats": 1}})
	clk.Advance(time.Second)
	lead := mk(map[string]any{"role": "lead", "email": "ann@example.com", "phone": "+15550100"})

	for _, tc := range []struct {
		name string
		q    any
		want []string
	}{
		{"external_id", eq("external_id", "u2"), []string{bob}},
		{"external_id none", eq("external_id", "u9"), []string{}},
		{"email matches user and lead, case-insensitively", eq("email", "ANN@example.com"), []string{ann, lead}},
		{"AND", map[string]any{"operator": "AND", "value": []any{eq("email", "ann@example.com"), eq("role", "user")}}, []string{ann}},
		{"OR", map[string]any{"operator": "OR", "value": []any{eq("external_id", "u2"), eq("role", "lead")}}, []string{bob, lead}},
		{"nested", map[string]any{"operator": "AND", "value": []any{
			map[string]any{"operator": "OR", "value": []any{eq("external_id", "u1"), eq("external_id", "u2")}},
			map[string]any{"field": "name", "operator": "^", "value": "bo"},
		}}, []string{bob}},
		{"IN", map[string]any{"field": "external_id", "operator": "IN", "value": []any{"u1", "u2", "u9"}}, []string{ann, bob}},
		{"NIN", map[string]any{"field": "external_id", "operator": "NIN", "value": []any{"u1"}}, []string{bob, lead}},
		{"!=", map[string]any{"field": "role", "operator": "!=", "value": "user"}, []string{lead}},
		{"= null", eq("external_id", nil), []string{lead}},
		{"contains", map[string]any{"field": "email", "operator": "~", "value": "EXAMPLE"}, []string{ann, lead}},
		{"not contains", map[string]any{"field": "email", "operator": "!~", "value": "example"}, []string{bob}},
		{"starts with", map[string]any{"field": "phone", "operator": "^", "value": "+1555"}, []string{lead}},
		{"ends with", map[string]any{"field": "email", "operator": "$", "value": ".test"}, []string{bob}},
		{"custom string", eq("custom_attributes.plan", "pro"), []string{ann}},
		{"custom number >", map[string]any{"field": "custom_attributes.seats", "operator": ">", "value": 2}, []string{ann}},
		{"custom number <", map[string]any{"field": "custom_attributes.seats", "operator": "<", "value": 2}, []string{bob}},
		{"custom bool", eq("custom_attributes.vip", true), []string{ann}},
		{"date = is by day", eq("signed_up_at", 1577836800), []string{ann}},
		{"date > is by day", map[string]any{"field": "signed_up_at", "operator": ">", "value": 1577836800 + 7200}, []string{bob}},
		{"date < as string", map[string]any{"field": "signed_up_at", "operator": "<", "value": "1577923200"}, []string{ann}},
		{"id", eq("id", bob), []string{bob}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.ok("POST", "/contacts/search", search(tc.q), 200)
			mustEqual(t, "ids", ids(t, got), tc.want)
			mustEqual(t, "total_count", got["total_count"], float64(len(tc.want)))
			if got["type"] != "list" {
				t.Fatalf("type %v", got["type"])
			}
		})
	}

	// A search hit is the full contact object.
	got := c.ok("POST", "/contacts/search", search(eq("external_id", "u1")), 200)
	mustEqual(t, "hit", got["data"].([]any)[0], c.ok("GET", "/contacts/"+ann, nil, 200))
	mustEqual(t, "pages", got["pages"], map[string]any{"type": "pages", "page": 1.0, "per_page": 50.0, "total_pages": 1.0})
}

func TestSearchPagination(t *testing.T) {
	_, c, _ := start(t, Options{})
	var all []string
	for i := range 5 {
		all = append(all, c.ok("POST", "/contacts", map[string]any{"email": string(rune('a'+i)) + "@x.test"}, 200)["id"].(string))
	}
	q := map[string]any{"field": "email", "operator": "$", "value": "@x.test"}
	var seen []string
	var cursor any
	for page := 1; ; page++ {
		body := map[string]any{"query": q, "pagination": map[string]any{"per_page": 2, "starting_after": cursor}}
		got := c.ok("POST", "/contacts/search", body, 200)
		seen = append(seen, ids(t, got)...)
		pages := got["pages"].(map[string]any)
		if got["total_count"] != 5.0 || pages["page"] != float64(page) || pages["total_pages"] != 3.0 || pages["per_page"] != 2.0 {
			t.Fatalf("page %d: %v", page, got)
		}
		next, ok := pages["next"].(map[string]any)
		if !ok {
			if page != 3 {
				t.Fatalf("no next on page %d", page)
			}
			break
		}
		mustEqual(t, "next.per_page", next["per_page"], 2.0)
		cursor = next["starting_after"]
	}
	mustEqual(t, "all pages", seen, all)
}

func TestSearchInvalid(t *testing.T) {
	_, c, _ := start(t, Options{})
	group := func(n int) map[string]any {
		v := []any{}
		for range n {
			v = append(v, eq("email", "a@b.co"))
		}
		return map[string]any{"operator": "OR", "value": v}
	}
	for _, tc := range []struct {
		name    string
		body    any
		message string
	}{
		{"missing query", map[string]any{}, "query is required"},
		{"unknown field", search(eq("nickname", "x")), "nickname is not a searchable field"},
		{"unknown operator", search(map[string]any{"field": "email", "operator": "LIKE", "value": "x"}), "LIKE is not a valid operator"},
		{"missing operator", search(map[string]any{"field": "email", "value": "x"}), "query operator must be a string"},
		{"missing value", search(map[string]any{"field": "email", "operator": "="}), "query value is required"},
		{"number for string field", search(eq("email", 5)), "value 5 is not valid for field email"},
		{"IN needs array", search(map[string]any{"field": "email", "operator": "IN", "value": "x"}), "operator IN needs a non-empty array as value"},
		{"> on string field", search(map[string]any{"field": "email", "operator": ">", "value": 1}), "operator > is not supported for field email"},
		{"~ on date", search(map[string]any{"field": "created_at", "operator": "~", "value": "1"}), "operator ~ is not supported for field created_at"},
		{"~ needs string", search(map[string]any{"field": "name", "operator": "~", "value": 1}), "operator ~ needs a string as value"},
		{"empty group", search(map[string]any{"operator": "AND", "value": []any{}}), "operator AND needs a non-empty array of queries as value"},
		{"group too big", search(group(16)), "an OR group may hold at most 15 filters"},
		{"nested too deep", search(map[string]any{"operator": "AND", "value": []any{
			map[string]any{"operator": "OR", "value": []any{group(1)}}}}), "queries may nest AND and OR groups at most 2 levels deep"},
		{"extra query key", search(map[string]any{"field": "email", "operator": "=", "value": "x", "sort": "y"}), "sort is not a valid parameter in a query"},
		{"per_page too big", map[string]any{"query": eq("email", "x"), "pagination": map[string]any{"per_page": 151}}, "per_page must be an integer between 1 and 150"},
		{"bad cursor", map[string]any{"query": eq("email", "x"), "pagination": map[string]any{"starting_after": "zzz"}}, "starting_after is not a valid cursor"},
		{"unknown body key", map[string]any{"query": eq("email", "x"), "sort": map[string]any{}}, "sort is not a valid parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.fail("POST", "/contacts/search", tc.body, 400, "parameter_invalid", tc.message)
		})
	}
	// Fifteen filters in a group are fine.
	c.ok("POST", "/contacts/search", search(group(15)), 200)
}

func TestSearchLag(t *testing.T) {
	const lag = 5 * time.Second
	_, c, clk := start(t, Options{SearchLag: lag})
	byExt := search(eq("external_id", "u1"))
	id := c.ok("POST", "/contacts", map[string]any{"external_id": "u1", "name": "Old"}, 200)["id"].(string)

	// Just created: invisible to search, but retrievable by id, and a second
	// create still conflicts.
	mustEqual(t, "search right after create", ids(t, c.ok("POST", "/contacts/search", byExt, 200)), []string{})
	c.ok("GET", "/contacts/"+id, nil, 200)
	c.fail("POST", "/contacts", map[string]any{"external_id": "u1"}, 409, "conflict",
		"A contact matching those details already exists with id="+id)
	clk.Advance(lag - time.Second)
	mustEqual(t, "search before the lag", ids(t, c.ok("POST", "/contacts/search", byExt, 200)), []string{})
	clk.Advance(time.Second)
	mustEqual(t, "search after the lag", ids(t, c.ok("POST", "/contacts/search", byExt, 200)), []string{id})

	// An update: search shows the old values until the lag has passed.
	c.ok("PUT", "/contacts/"+id, map[string]any{"name": "New"}, 200)
	hits := c.ok("POST", "/contacts/search", byExt, 200)["data"].([]any)
	mustEqual(t, "name during lag", hits[0].(map[string]any)["name"], "Old")
	mustEqual(t, "search by new name during lag", ids(t, c.ok("POST", "/contacts/search", search(eq("name", "New")), 200)), []string{})
	mustEqual(t, "search by old name during lag", ids(t, c.ok("POST", "/contacts/search", search(eq("name", "Old")), 200)), []string{id})
	clk.Advance(lag)
	mustEqual(t, "search by new name after lag", ids(t, c.ok("POST", "/contacts/search", search(eq("name", "New")), 200)), []string{id})
	mustEqual(t, "search by old name after lag", ids(t, c.ok("POST", "/contacts/search", search(eq("name", "Old")), 200)), []string{})

	// A delete: search still finds the contact until the lag has passed.
	c.ok("DELETE", "/contacts/"+id, nil, 200)
	mustEqual(t, "search after delete, during lag", ids(t, c.ok("POST", "/contacts/search", byExt, 200)), []string{id})
	clk.Advance(lag)
	mustEqual(t, "search after delete and lag", ids(t, c.ok("POST", "/contacts/search", byExt, 200)), []string{})
}

func TestSearchNoLagSeesWritesAtOnce(t *testing.T) {
	_, c, _ := start(t, Options{})
	id := c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
	mustEqual(t, "hit", ids(t, c.ok("POST", "/contacts/search", search(eq("external_id", "u1")), 200)), []string{id})
	c.ok("DELETE", "/contacts/"+id, nil, 200)
	mustEqual(t, "after delete", ids(t, c.ok("POST", "/contacts/search", search(eq("external_id", "u1")), 200)), []string{})
}

// TestSearchIndexAnswersAsAFullScan replays random creates, updates,
// merges and deletes, with search lag, on two simulators, one of which
// checks every contact on each search: every search answers the same.
func TestSearchIndexAnswersAsAFullScan(t *testing.T) {
	opts := Options{SearchLag: 5 * time.Second}
	indexed, ci, clkI := start(t, opts)
	scanned, cs, clkS := start(t, opts)
	scanned.scanAll = true
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(n int, f string) string { return fmt.Sprintf(f, rng.IntN(n)) }
	do := func(method, path string, body any) {
		a, b := ci.do(method, path, body), cs.do(method, path, body)
		if a.status != b.status || string(a.body) != string(b.body) {
			t.Fatalf("%s %s %v:\nindexed %d %s\nscanned %d %s", method, path, body, a.status, a.body, b.status, b.body)
		}
	}
	for i := 0; i < 1500; i++ {
		switch rng.IntN(10) {
		case 0, 1, 2:
			body := map[string]any{"email": pick(40, "U%d@Example.com")}
			if rng.IntN(2) == 0 {
				body["external_id"] = pick(40, "u%d")
			}
			if rng.IntN(4) == 0 {
				body = map[string]any{"role": "lead", "email": pick(40, "u%d@example.com")}
			}
			do("POST", "/contacts", body)
		case 3, 4:
			do("PUT", "/contacts/"+makeID(contactIDPrefix, uint64(1+rng.IntN(60))), map[string]any{"email": pick(40, "u%d@example.COM")})
		case 5:
			do("DELETE", "/contacts/"+makeID(contactIDPrefix, uint64(1+rng.IntN(60))), nil)
		case 6:
			d := time.Duration(rng.IntN(4000)) * time.Millisecond
			clkI.Advance(d)
			clkS.Advance(d)
		default:
			var q map[string]any
			switch rng.IntN(4) {
			case 0:
				q = map[string]any{"field": "email", "operator": "=", "value": pick(40, "u%d@EXAMPLE.com")}
			case 1:
				q = map[string]any{"field": "external_id", "operator": "IN", "value": []any{pick(40, "u%d"), pick(40, "u%d")}}
			case 2:
				q = map[string]any{"operator": "OR", "value": []any{
					map[string]any{"field": "external_id", "operator": "=", "value": pick(40, "u%d")},
					map[string]any{"operator": "AND", "value": []any{
						map[string]any{"field": "email", "operator": "=", "value": pick(40, "u%d@example.com")},
						map[string]any{"field": "role", "operator": "=", "value": "user"},
					}},
				}}
			default:
				q = map[string]any{"field": "role", "operator": "=", "value": "lead"} // not indexed: a full scan
			}
			do("POST", "/contacts/search", map[string]any{"query": q, "pagination": map[string]any{"per_page": 150}})
		}
	}
	if a, b := indexed.State(), scanned.State(); !reflect.DeepEqual(a, b) {
		t.Errorf("states differ")
	}
}
