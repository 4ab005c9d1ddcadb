package action

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/internal/suppress"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

func TestIdentifyNewUserThenCached(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)

	res := exec(t, c, identifyUser("u-1", "ann@example.com"))
	if res.Calls != 1 || res.ContactID != contactID(1) {
		t.Errorf("new user: %+v, want 1 call and contact %s", res, contactID(1))
	}
	wantTranscript(t, s,
		`POST /contacts {"role":"user","external_id":"u-1","email":"ann@example.com","name":"Ann","last_seen_at":1700000000} [200]`,
	)

	a := identifyUser("u-1", "ann@example.com")
	a.Fields.(*IdentifyContact).Name = "Ann B"
	res = exec(t, c, a)
	if res.Calls != 1 || res.ContactID != contactID(1) {
		t.Errorf("repeat identify: %+v, want 1 call", res)
	}
	wantTranscript(t, s,
		`PUT /contacts/`+contactID(1)+` {"role":"user","external_id":"u-1","email":"ann@example.com","name":"Ann B","last_seen_at":1700000000} [200]`,
	)

	// By email alone, the cache knows the user too.
	res = exec(t, c, identifyUser("", "ann@example.com"))
	if res.Calls != 1 || res.ContactID != contactID(1) {
		t.Errorf("identify by email: %+v, want 1 call", res)
	}
	wantTranscript(t, s,
		`PUT /contacts/`+contactID(1)+` {"role":"user","email":"ann@example.com","name":"Ann","last_seen_at":1700000000} [200]`,
	)

	st := s.State()
	if len(st.Contacts) != 1 || st.Contacts[0].ExternalID != "u-1" || st.Contacts[0].Name != "Ann" {
		t.Errorf("state: %+v", st.Contacts)
	}
	want := map[string]int64{"POST /contacts": 1, "PUT /contacts/{id}": 2}
	if got := c.Stats(); !reflect.DeepEqual(got.Endpoints, want) || got.Calls != 3 || got.Retries != 0 {
		t.Errorf("stats: %v, want endpoints %v", got, want)
	}
}

func TestIdentifyExistingUserColdCache(t *testing.T) {
	s := newSim(t, simulator.Options{})
	exec(t, newClient(t, s), identifyUser("u-1", ""))
	s.ResetRequests()

	c := newClient(t, s) // another process: its cache is empty
	res := exec(t, c, identifyUser("u-1", "ann@example.com"))
	if res.Calls != 3 {
		t.Errorf("calls = %d, want 3", res.Calls)
	}
	body := `{"role":"user","external_id":"u-1","email":"ann@example.com","name":"Ann","last_seen_at":1700000000}`
	wantTranscript(t, s,
		`POST /contacts `+body+` [409]`,
		`GET /contacts/`+contactID(1)+` [200]`, // the 409 might name the user with the email and another external_id
		`PUT /contacts/`+contactID(1)+` `+body+` [200]`,
	)
	// With the external_id alone, the 409 can only name that user: no GET.
	c = newClient(t, s)
	if res := exec(t, c, identifyUser("u-1", "")); res.Calls != 2 {
		t.Errorf("by external_id alone: %d calls, want 2", res.Calls)
	}
	wantTranscript(t, s,
		`POST /contacts {"role":"user","external_id":"u-1","name":"Ann","last_seen_at":1700000000} [409]`,
		`PUT /contacts/`+contactID(1)+` {"role":"user","external_id":"u-1","name":"Ann","last_seen_at":1700000000} [200]`,
	)

	// A user known by email only is given the external_id.
	exec(t, c, identifyUser("", "bob@example.com"))
	s.ResetRequests()
	c = newClient(t, s)
	exec(t, c, identifyUser("u-2", "bob@example.com"))
	wantTranscript(t, s,
		`POST /contacts {"role":"user","external_id":"u-2","email":"bob@example.com","name":"Ann","last_seen_at":1700000000} [409]`,
		`GET /contacts/`+contactID(2)+` [200]`,
		`PUT /contacts/`+contactID(2)+` {"role":"user","external_id":"u-2","email":"bob@example.com","name":"Ann","last_seen_at":1700000000} [200]`,
	)
}

func TestIdentifyDoesNotRekeyAnotherUser(t *testing.T) {
	s := newSim(t, simulator.Options{})
	exec(t, newClient(t, s), identifyUser("u-1", "ann@example.com"))
	s.ResetRequests()

	c := newClient(t, s)
	_, err := execute(c, identifyUser("u-2", "ann@example.com"))
	if err == nil {
		t.Fatal("identify of another external_id with the same email succeeded")
	}
	if got := s.State().Contacts[0].ExternalID; got != "u-1" {
		t.Errorf("external_id changed to %q", got)
	}
	wantTranscript(t, s,
		`POST /contacts {"role":"user","external_id":"u-2","email":"ann@example.com","name":"Ann","last_seen_at":1700000000} [409]`,
		`GET /contacts/`+contactID(1)+` [200]`,
	)
	const want = `identify_contact: create contact: intercom: 409 conflict: A contact matching those details already exists with id=` +
		`65c000000000000000000001 (request sim-000000000002) (it is the user with this email and external_id "u-1", not "u-2")`
	if err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
}

func TestIdentifyLead(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	exec(t, c, identifyUser("u-1", "lee@example.com")) // a user with the same email
	s.ResetRequests()

	res := exec(t, c, identifyLead("lee@example.com"))
	if res.Calls != 2 || res.ContactID != contactID(2) {
		t.Errorf("new lead: %+v", res)
	}
	wantTranscript(t, s,
		`POST /contacts/search {"query":{"operator":"AND","value":[{"field":"email","operator":"=","value":"lee@example.com"},{"field":"role","operator":"=","value":"lead"}]},"pagination":{"per_page":2}} [200]`,
		`POST /contacts {"role":"lead","email":"lee@example.com","name":"Lee"} [200]`,
	)
	res = exec(t, c, identifyLead("lee@example.com"))
	if res.Calls != 1 {
		t.Errorf("repeat lead: %+v", res)
	}
	wantTranscript(t, s,
		`PUT /contacts/`+contactID(2)+` {"role":"lead","email":"lee@example.com","name":"Lee"} [200]`,
	)
	// Cold cache: found by search among leads only.
	c2 := newClient(t, s)
	exec(t, c2, identifyLead("lee@example.com"))
	wantTranscript(t, s,
		`POST /contacts/search {"query":{"operator":"AND","value":[{"field":"email","operator":"=","value":"lee@example.com"},{"field":"role","operator":"=","value":"lead"}]},"pagination":{"per_page":2}} [200]`,
		`PUT /contacts/`+contactID(2)+` {"role":"lead","email":"lee@example.com","name":"Lee"} [200]`,
	)
	st := s.State()
	if len(st.Contacts) != 2 || st.Contacts[0].Role != "user" || st.Contacts[1].Role != "lead" {
		t.Errorf("contacts: %+v", st.Contacts)
	}
}

func TestIdentifyCompany(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	exec(t, c, identifyUser("u-1", "ann@example.com"))
	exec(t, c, identifyLead("lee@example.com"))
	s.ResetRequests()

	companyBody := `{"company_id":"co-1","name":"Acme","plan":"pro","size":12,"monthly_spend":99,"custom_attributes":{"tier":"gold"}}`

	// Cached user: upsert and attach.
	res := exec(t, c, group("co-1", Contact{ExternalID: "u-1", Email: "ann@example.com"}))
	if res.Calls != 2 || res.CompanyID != companyID(1) || res.ContactID != contactID(1) {
		t.Errorf("group: %+v", res)
	}
	wantTranscript(t, s,
		`POST /companies `+companyBody+` [200]`,
		`POST /contacts/`+contactID(1)+`/companies {"id":"`+companyID(1)+`"} [200]`,
	)

	// Cold cache: search by external_id.
	c2 := newClient(t, s)
	res = exec(t, c2, group("co-1", Contact{ExternalID: "u-1"}))
	if res.Calls != 3 {
		t.Errorf("cold group: %+v", res)
	}
	wantTranscript(t, s,
		`POST /companies `+companyBody+` [200]`,
		`GET /contacts/find_by_external_id/u-1 [200]`,
		`POST /contacts/`+contactID(1)+`/companies {"id":"`+companyID(1)+`"} [200]`,
	)

	// A lead, by email (cold cache: search by email).
	c3 := newClient(t, s)
	exec(t, c3, group("co-1", Contact{Email: "lee@example.com"}))
	wantTranscript(t, s,
		`POST /companies `+companyBody+` [200]`,
		`POST /contacts/search {"query":{"field":"email","operator":"=","value":"lee@example.com"},"pagination":{"per_page":2}} [200]`,
		`POST /contacts/`+contactID(2)+`/companies {"id":"`+companyID(1)+`"} [200]`,
	)

	// By contact_id: no search.
	exec(t, newClient(t, s), group("co-2", Contact{ID: contactID(2)}))
	wantTranscript(t, s,
		`POST /companies {"company_id":"co-2","name":"Acme","plan":"pro","size":12,"monthly_spend":99,"custom_attributes":{"tier":"gold"}} [200]`,
		`POST /contacts/`+contactID(2)+`/companies {"id":"`+companyID(2)+`"} [200]`,
	)

	// Company only.
	res = exec(t, c, group("co-3", Contact{}))
	if res.Calls != 1 || res.ContactID != "" {
		t.Errorf("company only: %+v", res)
	}
	wantTranscript(t, s, `POST /companies {"company_id":"co-3","name":"Acme","plan":"pro","size":12,"monthly_spend":99,"custom_attributes":{"tier":"gold"}} [200]`)

	st := s.State().Canonical()
	if got := st.Contacts; len(got) != 2 || !reflect.DeepEqual(got[0].CompanyIDs, []string{"co-1", "co-2"}) ||
		!reflect.DeepEqual(got[1].CompanyIDs, []string{"co-1"}) {
		t.Errorf("attached: %+v", got)
	}
	if len(st.Companies) != 3 || st.Companies[0].MonthlySpend != 99 || st.Companies[0].UserCount != 2 {
		t.Errorf("companies: %+v", st.Companies)
	}
}

func TestIdentifyCompanyContactNotFound(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	res, err := execute(c, group("co-1", Contact{ExternalID: "u-9", Email: "nobody@example.com"}))
	if !errors.Is(err, ErrContactNotFound) {
		t.Fatalf("err = %v, want ErrContactNotFound", err)
	}
	const want = `identify_company: contact not found (external_id "u-9", email "nobody@example.com")`
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if res.Calls != 3 || res.CompanyID != companyID(1) {
		t.Errorf("result: %+v", res)
	}
	if len(s.State().Companies) != 1 {
		t.Errorf("the company was not saved")
	}
	// Once the user exists, running the action again succeeds.
	exec(t, c, identifyUser("u-9", ""))
	exec(t, c, group("co-1", Contact{ExternalID: "u-9", Email: "nobody@example.com"}))
	if st := s.State(); len(st.Companies) != 1 || st.Companies[0].UserCount != 1 {
		t.Errorf("state: %+v", st.Companies)
	}
}

func TestTrackEvent(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	exec(t, c, identifyUser("u-1", "ann@example.com"))
	exec(t, c, identifyLead("lee@example.com"))
	s.ResetRequests()
	meta := `"metadata":{"price":{"amount":1999,"currency":"USD"},"sku":"A1"}`

	res := exec(t, c, track(Contact{ExternalID: "u-1", Email: "ann@example.com"}))
	if res.Calls != 1 {
		t.Errorf("by user_id: %+v", res)
	}
	wantTranscript(t, s, `POST /events {"event_name":"order-completed","created_at":1700000100,"user_id":"u-1",`+meta+`} [202]`)

	// Only an email, cold cache: search, then by id. A lead is found so.
	c2 := newClient(t, s)
	res = exec(t, c2, track(Contact{Email: "lee@example.com"}))
	if res.Calls != 2 || res.ContactID != contactID(2) {
		t.Errorf("by email: %+v", res)
	}
	wantTranscript(t, s,
		`POST /contacts/search {"query":{"field":"email","operator":"=","value":"lee@example.com"},"pagination":{"per_page":2}} [200]`,
		`POST /events {"event_name":"order-completed","created_at":1700000100,"id":"`+contactID(2)+`",`+meta+`} [202]`,
	)
	// Again: cached.
	res = exec(t, c2, track(Contact{Email: "lee@example.com"}))
	if res.Calls != 1 {
		t.Errorf("by email, cached: %+v", res)
	}
	wantTranscript(t, s, `POST /events {"event_name":"order-completed","created_at":1700000100,"id":"`+contactID(2)+`",`+meta+`} [202]`)

	// By Intercom id.
	exec(t, c2, track(Contact{ID: contactID(1)}))
	wantTranscript(t, s, `POST /events {"event_name":"order-completed","created_at":1700000100,"id":"`+contactID(1)+`",`+meta+`} [202]`)

	// The same event sent again for a contact is stored once: Intercom
	// de-duplicates events (same contact, name and created_at).
	st := s.State().Canonical()
	if len(st.Events) != 2 || st.Events[0].ContactID != "email:lee@example.com" || st.Events[1].ContactID != "external_id:u-1" {
		t.Errorf("events: %+v", st.Events)
	}
}

func TestTrackEventContactNotFound(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)

	_, err := execute(c, track(Contact{ExternalID: "u-404"}))
	var ae *intercom.APIError
	if !errors.Is(err, ErrContactNotFound) || !errors.As(err, &ae) || ae.Status != 404 || ae.Message != "User Not Found" {
		t.Fatalf("by user_id: err = %v", err)
	}
	if rest.Retryable(err) {
		t.Error("a missing contact is retryable by the client")
	}
	_, err = execute(c, track(Contact{Email: "nobody@example.com"}))
	if !errors.Is(err, ErrContactNotFound) || err.Error() != `track_event: contact not found (email "nobody@example.com")` {
		t.Fatalf("by email: err = %v", err)
	}
}

func TestConvertLeadMerge(t *testing.T) {
	s := newSim(t, simulator.Options{})
	setup := newClient(t, s)
	exec(t, setup, identifyUser("u-1", "ann@example.com"))
	exec(t, setup, identifyLead("lee@example.com"))
	exec(t, setup, track(Contact{Email: "lee@example.com"}))
	s.ResetRequests()

	c := newClient(t, s)
	a := convert("u-1", "lee@example.com", "")
	res := exec(t, c, a)
	if res.Calls != 3 || res.ContactID != contactID(1) {
		t.Errorf("merge: %+v", res)
	}
	wantTranscript(t, s,
		`POST /contacts/search {"query":{"operator":"AND","value":[{"field":"email","operator":"=","value":"lee@example.com"},{"field":"role","operator":"=","value":"lead"}]},"pagination":{"per_page":2}} [200]`,
		`GET /contacts/find_by_external_id/u-1 [200]`,
		`POST /contacts/merge {"from":"`+contactID(2)+`","into":"`+contactID(1)+`"} [200]`,
	)
	st := s.State()
	if len(st.Contacts) != 1 || len(st.Events) != 1 || st.Events[0].ContactID != contactID(1) {
		t.Errorf("state: %+v", st)
	}

	// Both cached: the merge alone.
	exec(t, setup, identifyLead("lee2@example.com"))
	s.ResetRequests()
	a.Fields.(*ConvertLead).LeadEmail = "lee2@example.com"
	if res := exec(t, setup, a); res.Calls != 1 {
		t.Errorf("cached merge: %+v", res)
	}
	wantTranscript(t, s, `POST /contacts/merge {"from":"`+contactID(3)+`","into":"`+contactID(1)+`"} [200]`)

	// The lead is gone.
	_, err := execute(c, a)
	if !errors.Is(err, ErrContactNotFound) {
		t.Errorf("gone lead: err = %v", err)
	}
}

func TestConvertLeadPromote(t *testing.T) {
	s := newSim(t, simulator.Options{})
	exec(t, newClient(t, s), identifyLead("lee@example.com"))
	s.ResetRequests()

	c := newClient(t, s)
	a := convert("u-7", "lee@example.com", "lee@example.com")
	res := exec(t, c, a)
	if res.Calls != 3 || res.ContactID != contactID(1) {
		t.Errorf("promote: %+v", res)
	}
	wantTranscript(t, s,
		`POST /contacts/search {"query":{"operator":"AND","value":[{"field":"email","operator":"=","value":"lee@example.com"},{"field":"role","operator":"=","value":"lead"}]},"pagination":{"per_page":2}} [200]`,
		`GET /contacts/find_by_external_id/u-7 [404]`,
		`PUT /contacts/`+contactID(1)+` {"role":"user","external_id":"u-7","email":"lee@example.com"} [200]`,
	)
	if st := s.State(); len(st.Contacts) != 1 || st.Contacts[0].Role != "user" || st.Contacts[0].ExternalID != "u-7" {
		t.Errorf("state: %+v", st.Contacts)
	}
	// The promoted contact is now cached as the user.
	if res := exec(t, c, identifyUser("u-7", "")); res.Calls != 1 {
		t.Errorf("identify after promote: %+v", res)
	}
}

// TestIdentifyConflictAfterLostAnswer loses the answer of a POST /contacts
// the server handled: the retry meets a 409 naming the contact, which is
// then read and updated.
func TestIdentifyConflictAfterLostAnswer(t *testing.T) {
	s := newSim(t, simulator.Options{})
	lossy := &lossyTransport{
		base: http.DefaultTransport,
		lose: func(r *http.Request) bool { return r.Method == "POST" && r.URL.Path == "/contacts" },
	}
	c := newClient(t, s, func(cfg *rest.Config) { cfg.HTTPClient = &http.Client{Transport: lossy} })
	res := exec(t, c, identifyUser("u-1", "ann@example.com"))
	if res.Calls != 4 || res.ContactID != contactID(1) {
		t.Errorf("result: %+v", res)
	}
	body := `{"role":"user","external_id":"u-1","email":"ann@example.com","name":"Ann","last_seen_at":1700000000}`
	wantTranscript(t, s,
		`POST /contacts `+body+` [200]`,
		`POST /contacts `+body+` [409]`,
		`GET /contacts/`+contactID(1)+` [200]`,
		`PUT /contacts/`+contactID(1)+` `+body+` [200]`,
	)
	if st := c.Stats(); st.Retries != 1 || st.Calls != 4 {
		t.Errorf("stats: %v", st)
	}
	if n := len(s.State().Contacts); n != 1 {
		t.Errorf("%d contacts, want 1", n)
	}
}

// TestIdentifyConflictSearchLag: another process created the user moments
// ago, so search does not show it; the 409 on create names it.
func TestIdentifyConflictSearchLag(t *testing.T) {
	s := newSim(t, simulator.Options{SearchLag: time.Hour})
	exec(t, newClient(t, s), identifyUser("", "ann@example.com"))
	exec(t, newClient(t, s), identifyUser("u-2", "bob@example.com"))
	s.ResetRequests()

	// By email only: the conflicting contact is the one; update it at once.
	c := newClient(t, s)
	exec(t, c, identifyUser("", "ann@example.com"))
	wantTranscript(t, s,
		`POST /contacts {"role":"user","email":"ann@example.com","name":"Ann","last_seen_at":1700000000} [409]`,
		`PUT /contacts/`+contactID(1)+` {"role":"user","email":"ann@example.com","name":"Ann","last_seen_at":1700000000} [200]`,
	)

	// With another external_id: not updated; the 409 is the error.
	c = newClient(t, s)
	_, err := execute(c, identifyUser("u-3", "bob@example.com"))
	var ae *intercom.APIError
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "conflict" {
		t.Fatalf("err = %v, want a 409 APIError", err)
	}
	if got := s.State().Contacts[1].ExternalID; got != "u-2" {
		t.Errorf("external_id changed to %q", got)
	}
	if n := len(s.Requests()); n != 2 { // POST 409, GET
		t.Errorf("requests: %v", s.Transcript())
	}
}

// TestSearchLagNewUser: identify → track → group of a brand-new user work at
// once through the cache, though search does not show the user for an hour.
func TestSearchLagNewUser(t *testing.T) {
	s := newSim(t, simulator.Options{SearchLag: time.Hour})
	c := newClient(t, s)
	var calls []int
	for _, a := range []Action{
		identifyUser("u-1", "ann@example.com"),
		track(Contact{ExternalID: "u-1"}),
		track(Contact{Email: "ann@example.com"}),
		group("co-1", Contact{ExternalID: "u-1", Email: "ann@example.com"}),
		identifyUser("u-1", "ann@example.com"),
	} {
		calls = append(calls, exec(t, c, a).Calls)
	}
	if want := []int{1, 1, 1, 2, 1}; !reflect.DeepEqual(calls, want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}
	st := s.State().Canonical()
	// The two tracks are the same event (by user_id, then by the id found
	// by email): Intercom keeps one.
	if len(st.Contacts) != 1 || len(st.Events) != 1 || !reflect.DeepEqual(st.Contacts[0].CompanyIDs, []string{"co-1"}) {
		t.Errorf("state: %+v", st)
	}

	// Without the cache, before 2.13 the group fails as Segment's would:
	// search does not show the user yet.
	nc := newClient(t, s, func(cfg *rest.Config) { cfg.CacheSize, cfg.Version = -1, "2.12" })
	if _, err := execute(nc, group("co-2", Contact{ExternalID: "u-1"})); !errors.Is(err, ErrContactNotFound) || !SearchMissed(err) {
		t.Errorf("uncached group at 2.12: err = %v, want ErrContactNotFound from a search", err)
	}
	// From 2.13 find_by_external_id does not lag: the group attaches.
	nc = newClient(t, s, func(cfg *rest.Config) { cfg.CacheSize = -1 })
	s.ResetRequests()
	exec(t, nc, group("co-2", Contact{ExternalID: "u-1"}))
	wantTranscript(t, s,
		`POST /companies {"company_id":"co-2","custom_attributes":{"tier":"gold"},"monthly_spend":99,"name":"Acme","plan":"pro","size":12} [200]`,
		`GET /contacts/find_by_external_id/u-1 [200]`,
		`POST /contacts/`+contactID(1)+`/companies {"id":"`+companyID(2)+`"} [200]`,
	)
}

// TestStaleCacheEntry: a cached contact deleted meanwhile gives a 404; the
// entry is dropped and the action looks the contact up again.
func TestStaleCacheEntry(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	exec(t, c, identifyUser("u-1", "ann@example.com"))
	if err := newClient(t, s).DeleteContact(context.Background(), contactID(1)); err != nil {
		t.Fatal(err)
	}
	s.ResetRequests()

	res := exec(t, c, identifyUser("u-1", "ann@example.com"))
	if res.Calls != 3 || res.ContactID != contactID(2) {
		t.Errorf("result: %+v", res)
	}
	body := `{"role":"user","external_id":"u-1","email":"ann@example.com","name":"Ann","last_seen_at":1700000000}`
	wantTranscript(t, s,
		`PUT /contacts/`+contactID(1)+` `+body+` [404]`,
		`GET /contacts/`+contactID(1)+` [404]`, // 2.16: merged (410) or gone (404)?
		`POST /contacts `+body+` [200]`,
	)

	// Same for an event sent by a cached id.
	exec(t, c, identifyLead("lee@example.com"))
	if err := newClient(t, s).DeleteContact(context.Background(), contactID(3)); err != nil {
		t.Fatal(err)
	}
	_, err := execute(c, track(Contact{Email: "lee@example.com"}))
	if !errors.Is(err, ErrContactNotFound) {
		t.Errorf("event for a deleted lead: err = %v", err)
	}
}

func TestDeleteUser(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	exec(t, c, identifyUser("u-1", "ann@example.com"))
	s.ResetRequests()
	// From 2.13 the user is found by external_id without search's lag.
	for i, want := range []bool{true, false} {
		if deleted, err := DeleteUser(context.Background(), c, "u-1"); err != nil || deleted != want {
			t.Fatalf("DeleteUser #%d = %v, %v; want %v", i+1, deleted, err, want)
		}
	}
	wantTranscript(t, s,
		`GET /contacts/find_by_external_id/u-1 [200]`,
		`DELETE /contacts/`+contactID(1)+` [200]`,
		`GET /contacts/find_by_external_id/u-1 [404]`,
	)
	testDeleteUserBySearch(t)
}

// testDeleteUserBySearch: before 2.13, the user is searched for.
func testDeleteUserBySearch(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s, func(cfg *rest.Config) { cfg.Version = "2.12" })
	exec(t, c, identifyUser("u-1", "ann@example.com"))
	exec(t, c, track(Contact{ExternalID: "u-1"}))
	s.ResetRequests()

	if deleted, err := DeleteUser(context.Background(), c, "u-1"); err != nil || !deleted {
		t.Fatalf("DeleteUser = %v, %v", deleted, err)
	}
	wantTranscript(t, s,
		`POST /contacts/search {"query":{"field":"external_id","operator":"=","value":"u-1"},"pagination":{"per_page":2}} [200]`,
		`DELETE /contacts/`+contactID(1)+` [200]`,
	)
	if st := s.State(); len(st.Contacts) != 0 || len(st.Events) != 0 {
		t.Errorf("state: %+v", st)
	}

	// Again: the user is already absent, which is success (as Segment and
	// RudderStack treat it), not a failure.
	if deleted, err := DeleteUser(context.Background(), c, "u-1"); err != nil || deleted {
		t.Errorf("DeleteUser of an absent user = %v, %v; want false, nil", deleted, err)
	}
	wantTranscript(t, s,
		`POST /contacts/search {"query":{"field":"external_id","operator":"=","value":"u-1"},"pagination":{"per_page":2}} [200]`,
	)
	// The cache forgot the user: identify creates it anew.
	if res := exec(t, c, identifyUser("u-1", "ann@example.com")); res.Calls != 1 {
		t.Errorf("identify after delete: %+v", res)
	}

	// Deleted by someone else after this client cached it: search no
	// longer shows it, the cached id answers 404; absent all the same.
	if err := newClient(t, s).DeleteContact(context.Background(), contactID(2)); err != nil {
		t.Fatal(err)
	}
	s.ResetRequests()
	if deleted, err := DeleteUser(context.Background(), c, "u-1"); err != nil || deleted {
		t.Errorf("DeleteUser of a user deleted meanwhile = %v, %v; want false, nil", deleted, err)
	}
	wantTranscript(t, s,
		`POST /contacts/search {"query":{"field":"external_id","operator":"=","value":"u-1"},"pagination":{"per_page":2}} [200]`,
		`DELETE /contacts/`+contactID(2)+` [404]`,
	)
}

func TestExecuteWithoutKind(t *testing.T) {
	s := newSim(t, simulator.Options{})
	_, err := execute(newClient(t, s), Action{Rule: "R"})
	if err == nil || err.Error() != "action has no kind" {
		t.Errorf("err = %v", err)
	}
}

// TestIdentifyCompanySkipsIdenticalUpsert: behind the memory of calls
// sent (engine/internal/suppress, as every face has it), a repeat group
// call sends nothing, and a changed company is upserted (the attach made
// is not repeated).
func TestIdentifyCompanySkipsIdenticalUpsert(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := suppress.Wrap(newClient(t, s), suppress.New(suppress.Config{}))
	exec(t, c, identifyUser("u-1", "ann@example.com"))
	exec(t, c, group("co-1", Contact{ExternalID: "u-1"}))
	s.ResetRequests()

	// The same group again: the company is unchanged and attached: nothing is sent.
	res := exec(t, c, group("co-1", Contact{ExternalID: "u-1"}))
	want := map[string]int{suppress.UnchangedCompany: 1, suppress.Attached: 1}
	if res.Calls != 0 || res.CompanyID != companyID(1) || !reflect.DeepEqual(res.Saved, want) {
		t.Errorf("repeat group: %+v", res)
	}
	wantTranscript(t, s)

	// A changed company is upserted again.
	changed := group("co-1", Contact{ExternalID: "u-1"})
	changed.Fields.(*IdentifyCompany).Plan = "enterprise"
	if res := exec(t, c, changed); res.Calls != 1 {
		t.Errorf("changed group: %+v", res)
	}
	wantTranscript(t, s,
		`POST /companies {"company_id":"co-1","name":"Acme","plan":"enterprise","size":12,"monthly_spend":99,"custom_attributes":{"tier":"gold"}} [200]`,
	)
}

// TestConcurrentExecute runs many actions at once (for the race detector)
// against a simulator that faults now and then, with a cache too small to
// hold every user.
func TestConcurrentExecute(t *testing.T) {
	s := newSim(t, simulator.Options{Seed: 3, Faults: simulator.Faults{ErrorRate: 0.05, DropRate: 0.02}})
	c := newClient(t, s, func(cfg *rest.Config) { cfg.CacheSize = 50 })
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				ext := fmt.Sprintf("u-%d-%d", w, i)
				for _, a := range []Action{
					identifyUser(ext, ext+"@example.com"),
					track(Contact{Email: ext + "@example.com"}),
					group(fmt.Sprintf("co-%d", i%3), Contact{ExternalID: ext}),
				} {
					if _, err := execute(c, a); err != nil {
						t.Errorf("%s %s: %v", a.Kind, ext, err)
						failed.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	s.SetFaults(simulator.Faults{})
	st := s.State()
	if failed.Load() == 0 && (len(st.Contacts) != 200 || len(st.Events) != 200 || len(st.Companies) != 3) {
		t.Errorf("state: %d contacts, %d events, %d companies", len(st.Contacts), len(st.Events), len(st.Companies))
	}
	t.Logf("stats: %v", c.Stats())
}
