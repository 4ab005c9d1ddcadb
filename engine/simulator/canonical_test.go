package simulator

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// sender sends a request until it gets an answer that is not a fault
// (transport error, 429 or 5xx) and requires the status want.
type sender func(method, path string, body any, want int) map[string]any

func retrying(t *testing.T, c *testClient) (sender, *int) {
	faults := 0
	return func(method, path string, body any, want int) map[string]any {
		t.Helper()
		for range 100 {
			r := c.try(context.Background(), method, path, body)
			if r.err != nil || r.status == 429 || r.status >= 500 {
				faults++
				continue
			}
			if r.status != want {
				t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
			}
			return decode(t, r.body)
		}
		t.Fatalf("%s %s: still failing after 100 attempts", method, path)
		return nil
	}, &faults
}

// scenario is a fixed sequence of API calls.
func scenario(send sender) {
	u1 := send("POST", "/contacts", map[string]any{"external_id": "u1", "email": "ann@x.test", "name": "Ann", "signed_up_at": 1600000000}, 200)["id"].(string)
	lead := send("POST", "/contacts", map[string]any{"role": "lead", "email": "lee@x.test", "custom_attributes": map[string]any{"source": "ad"}}, 200)["id"].(string)
	send("PUT", "/contacts/"+u1, map[string]any{"custom_attributes": map[string]any{"plan": "pro"}}, 200)
	acme := send("POST", "/companies", map[string]any{"company_id": "acme", "name": "Acme", "monthly_spend": 10}, 200)["id"].(string)
	send("POST", "/companies", map[string]any{"company_id": "acme", "plan": "pro"}, 200)
	beta := send("POST", "/companies", map[string]any{"company_id": "beta"}, 200)["id"].(string)
	send("POST", "/contacts/"+u1+"/companies", map[string]any{"id": beta}, 200)
	send("POST", "/contacts/"+u1+"/companies", map[string]any{"id": acme}, 200)
	send("POST", "/contacts/"+lead+"/companies", map[string]any{"id": acme}, 200)
	send("POST", "/events", map[string]any{"event_name": "signed-up", "created_at": 1600000000, "user_id": "u1"}, 202)
	send("POST", "/events", map[string]any{"event_name": "visited", "created_at": 1600000100, "id": lead,
		"metadata": map[string]any{"price": map[string]any{"amount": 500, "currency": "USD"}}}, 202)
	u2 := send("POST", "/contacts", map[string]any{"external_id": "u2"}, 200)["id"].(string)
	send("POST", "/contacts/merge", map[string]any{"from": lead, "into": u2}, 200)
	send("POST", "/events", map[string]any{"event_name": "login", "created_at": 1600000200, "email": "ann@x.test"}, 202)
}

func TestCanonicalCleanVersusFaultyRun(t *testing.T) {
	clean, cc, _ := start(t, Options{})
	send, _ := retrying(t, cc)
	scenario(send)

	faulty, fc, _ := start(t, Options{
		Seed:  7,
		Clock: func() time.Time { return time.Now() },
		Faults: Faults{ErrorRate: 0.25, DropRate: 0.2, SlowRate: 0.2,
			SlowDelay: time.Millisecond, Burst429: 2},
	})
	send, faults := retrying(t, fc)
	// Shift the ids: a contact created and deleted before the scenario.
	id := send("POST", "/contacts", map[string]any{"external_id": "tmp"}, 200)["id"].(string)
	send("DELETE", "/contacts/"+id, nil, 200)
	scenario(send)
	if *faults < 5 {
		t.Fatalf("only %d faults injected", *faults)
	}

	a, b := clean.State(), faulty.State()
	if reflect.DeepEqual(a, b) {
		t.Fatal("raw states are equal: ids and timestamps should differ")
	}
	mustEqual(t, "canonical states", b.Canonical(), a.Canonical())

	// What Canonical keeps, exactly.
	mustEqual(t, "canonical", a.Canonical(), State{
		Contacts: []Contact{
			{Role: "user", ExternalID: "u1", Email: "ann@x.test", Name: "Ann", SignedUpAt: 1600000000,
				CustomAttributes: map[string]any{"plan": "pro"}, CompanyIDs: []string{"acme", "beta"}},
			{Role: "user", ExternalID: "u2", Email: "lee@x.test",
				CustomAttributes: map[string]any{"source": "ad"}, CompanyIDs: []string{"acme"}},
		},
		Companies: []Company{
			{CompanyID: "acme", Name: "Acme", Plan: "pro", MonthlySpend: 10, UserCount: 2},
			{CompanyID: "beta", UserCount: 1},
		},
		Events: []Event{
			{ContactID: "external_id:u1", EventName: "signed-up", CreatedAt: 1600000000},
			{ContactID: "external_id:u1", EventName: "login", CreatedAt: 1600000200},
			{ContactID: "external_id:u2", EventName: "visited", CreatedAt: 1600000100,
				Metadata: map[string]any{"price": map[string]any{"amount": 500.0, "currency": "USD"}}},
		},
	})
	// Canonical does not modify its receiver.
	mustEqual(t, "receiver untouched", a, clean.State())
}
