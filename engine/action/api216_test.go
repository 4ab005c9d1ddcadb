package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// simPost sends POST path to the simulator, as another tool of the
// workspace would (archiving a contact, say).
func simPost(t *testing.T, s *simulator.Server, path string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
}

// TestMergedLeadCachedIDIsFollowed: a client cached a lead's id; another
// process then converted the lead (merged it into a user). The client's
// event for the lead's email goes to the cached id (404: it is gone);
// from 2.16 a GET of that id answers 410 with a Link to the user it was
// merged into, which the client follows: the cache now maps the lead's
// email to the user, and the event goes to the user, without a search
// (which would lag the merge by minutes).
func TestMergedLeadCachedIDIsFollowed(t *testing.T) {
	s := newSim(t, simulator.Options{})
	a := newClient(t, s)
	exec(t, a, identifyUser("u-1", "ann@example.com")) // contact 1
	exec(t, a, identifyLead("lee@example.com"))        // contact 2, cached by a
	exec(t, newClient(t, s), convert("u-1", "lee@example.com", ""))
	s.ResetRequests()

	res := exec(t, a, track(Contact{Email: "lee@example.com"}))
	if res.ContactID != contactID(1) || res.Calls != 4 {
		t.Errorf("result %+v, want the user %s in 4 calls", res, contactID(1))
	}
	event := `{"event_name":"order-completed","created_at":1700000100,"metadata":{"price":{"amount":1999,"currency":"USD"},"sku":"A1"},"id":"%s"}`
	wantTranscript(t, s,
		`POST /events `+sprintf(event, contactID(2))+` [404]`,
		`GET /contacts/`+contactID(2)+` [410]`,
		`GET /contacts/`+contactID(1)+` [200]`,
		`POST /events `+sprintf(event, contactID(1))+` [202]`,
	)
	if ev := s.State().Events; len(ev) != 1 || ev[0].ContactID != contactID(1) {
		t.Errorf("events: %+v", ev)
	}
	// The next one goes straight to the user.
	res = exec(t, a, track(Contact{Email: "lee@example.com"}))
	if res.Calls != 1 || res.ContactID != contactID(1) {
		t.Errorf("second event: %+v", res)
	}

	// Before 2.16 the old id answers 404 alone: the cached id is dropped,
	// and search, which shows no lead by that email any more, finds none.
	s2 := newSim(t, simulator.Options{})
	old := newClient(t, s2, func(c *rest.Config) { c.Version = "2.15" })
	exec(t, old, identifyUser("u-1", "ann@example.com"))
	exec(t, old, identifyLead("lee@example.com"))
	exec(t, newClient(t, s2), convert("u-1", "lee@example.com", ""))
	if _, err := execute(old, track(Contact{Email: "lee@example.com"})); !errors.Is(err, ErrContactNotFound) {
		t.Errorf("2.15: err = %v, want ErrContactNotFound", err)
	}
}

// TestArchivedContactIsUnarchivedAndUpdated: a user archived in Intercom
// comes back in an identify. Intercom refuses the create with a 409 that
// names the archived contact; it is unarchived and updated, as Intercom
// does when such a contact comes back through the Messenger. With
// KeepArchived it stays archived and the identify fails with ErrArchived.
func TestArchivedContactIsUnarchivedAndUpdated(t *testing.T) {
	s := newSim(t, simulator.Options{})
	exec(t, newClient(t, s), identifyUser("u-1", "ann@example.com"))
	simPost(t, s, "/contacts/"+contactID(1)+"/archive")
	s.ResetRequests()

	a := identifyUser("u-1", "ann@example.com")
	a.Fields.(*IdentifyContact).Name = "Ann Again"
	_, err := Executor{API: newClient(t, s), KeepArchived: true}.Execute(context.Background(), a)
	want := "identify_contact: the contact is archived in Intercom (id " + contactID(1) + "), and archived contacts are not unarchived (--archived-contacts dead-letter): " +
		"intercom: 409 conflict: An archived contact matching those details already exists with id=" + contactID(1) + " (request sim-000000000003)"
	if !errors.Is(err, ErrArchived) || err.Error() != want {
		t.Errorf("kept archived: err = %v\nwant %s", err, want)
	}
	if c := s.State().Contacts; len(c) != 1 || !c[0].Archived {
		t.Errorf("contacts: %+v", c)
	}
	s.ResetRequests()

	res := exec(t, newClient(t, s), a)
	if res.ContactID != contactID(1) || res.Calls != 4 {
		t.Errorf("result %+v", res)
	}
	body := `{"role":"user","external_id":"u-1","email":"ann@example.com","name":"Ann Again","last_seen_at":1700000000}`
	wantTranscript(t, s,
		`POST /contacts `+body+` [409]`,
		`POST /contacts/`+contactID(1)+`/unarchive [200]`,
		`GET /contacts/`+contactID(1)+` [200]`,
		`PUT /contacts/`+contactID(1)+` `+body+` [200]`,
	)
	c := s.State().Contacts
	if len(c) != 1 || c[0].Archived || c[0].Name != "Ann Again" {
		t.Errorf("contacts: %+v", c)
	}
}

// TestEventNameCap: past the workspace's cap on active event names,
// Intercom answers 422; the event fails at once, naming the cap, after
// one request (a 422 is not retried).
func TestEventNameCap(t *testing.T) {
	s := newSim(t, simulator.Options{MaxEventNames: 1})
	c := newClient(t, s)
	exec(t, c, identifyUser("u-1", ""))
	exec(t, c, track(Contact{ExternalID: "u-1"}))
	s.ResetRequests()

	a := track(Contact{ExternalID: "u-1"})
	a.Fields.(*TrackEvent).EventName = "plan-changed"
	_, err := execute(c, a)
	want := "track_event: submit event: the workspace has Intercom's most active event names (120); archive unused event names in Intercom's settings to track new ones: " +
		"intercom: 422 parameter_invalid: Your workspace has reached its limit of 1 active event names: archive event names to track new ones (request sim-000000000003)"
	if !errors.Is(err, ErrEventNameCap) || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("%d requests, want 1: %q", n, s.Transcript())
	}
}

// TestMonthlySpendWhole: monthly_spend is rounded to a whole number and
// bounded to Intercom's 32-bit range, each with a warning.
func TestMonthlySpendWhole(t *testing.T) {
	for in, want := range map[string][]string{
		"1200":        {"1200"},
		"1200.5":      {"1201", "monthly_spend: 1200.5 rounded to 1201: Intercom takes whole numbers (and would truncate it)"},
		"155.98":      {"156", "monthly_spend: 155.98 rounded to 156: Intercom takes whole numbers (and would truncate it)"},
		"3000000000":  {"2147483647", "monthly_spend: 3000000000 bounded to 2147483647, Intercom's largest"},
		"-3000000000": {"-2147483648", "monthly_spend: -3000000000 bounded to -2147483648, Intercom's smallest"},
	} {
		var warnings []string
		got := []string{string(wholeSpend(json.Number(in), func(w string) { warnings = append(warnings, w) }))}
		if got = append(got, warnings...); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
