package action

import (
	"errors"
	"reflect"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

func tagUser(who Contact, untag bool, tags ...string) Action {
	a := &TagContact{Tags: tags, ContactRef: ContactRef{ContactID: who.ID, ExternalID: who.ExternalID, Email: who.Email}}
	if untag {
		a.Untag = &untag
	}
	return Action{Rule: "Tag", Kind: tagContact, Fields: a}
}

// TestTagContact tags a user (cached) and a lead (cold: found by email)
// with each tag, then untags one: the tag's id comes from POST /tags.
func TestTagContact(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	exec(t, c, identifyUser("u-1", "ann@example.com"))
	exec(t, c, identifyLead("lee@example.com"))
	s.ResetRequests()

	res := exec(t, c, tagUser(Contact{ExternalID: "u-1"}, false, "VIP", "Beta"))
	if res.Calls != 2 || res.ContactID != contactID(1) {
		t.Errorf("tag user: %+v", res)
	}
	wantTranscript(t, s,
		`POST /tags {"name":"VIP","users":[{"id":"`+contactID(1)+`"}]} [200]`,
		`POST /tags {"name":"Beta","users":[{"id":"`+contactID(1)+`"}]} [200]`,
	)

	exec(t, newClient(t, s), tagUser(Contact{Email: "lee@example.com"}, false, "vip"))
	wantTranscript(t, s,
		`POST /contacts/search {"query":{"field":"email","operator":"=","value":"lee@example.com"},"pagination":{"per_page":2}} [200]`,
		`POST /tags {"name":"vip","users":[{"id":"`+contactID(2)+`"}]} [200]`,
	)

	res = exec(t, c, tagUser(Contact{ExternalID: "u-1"}, true, "Beta"))
	if res.Calls != 2 {
		t.Errorf("untag: %+v", res)
	}
	wantTranscript(t, s,
		`POST /tags {"name":"Beta"} [200]`,
		`DELETE /contacts/`+contactID(1)+`/tags/2 [200]`,
	)

	st := s.State()
	if got := [][]string{st.Contacts[0].Tags, st.Contacts[1].Tags}; !reflect.DeepEqual(got, [][]string{{"VIP"}, {"VIP"}}) {
		t.Errorf("tags: %v", got)
	}
	if len(st.Tags) != 2 {
		t.Errorf("workspace tags: %+v", st.Tags)
	}
}

// TestTagContactNotFound: a contact that does not exist is
// ErrContactNotFound (a dispatcher waits for its identify).
func TestTagContactNotFound(t *testing.T) {
	s := newSim(t, simulator.Options{})
	_, err := execute(newClient(t, s), tagUser(Contact{ExternalID: "u-9"}, false, "VIP"))
	if !errors.Is(err, ErrContactNotFound) || err.Error() != `tag_contact: contact not found (external_id "u-9")` {
		t.Errorf("err = %v", err)
	}
	if st := s.State(); len(st.Tags) != 0 {
		t.Errorf("a tag was made: %+v", st.Tags)
	}
}
