package action

import (
	"errors"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

func note(who Contact, body, admin string) Action {
	return Action{Rule: "Note", Kind: addNote, Fields: &AddNote{
		Body: body, AdminID: admin, ContactRef: ContactRef{ContactID: who.ID, ExternalID: who.ExternalID, Email: who.Email},
	}}
}

// TestAddNote adds notes to a cached user and, by email, to a lead; an
// admin Intercom does not know is an error of its own, not a missing
// contact.
func TestAddNote(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	exec(t, c, identifyUser("u-1", "ann@example.com"))
	exec(t, c, identifyLead("lee@example.com"))
	s.ResetRequests()

	res := exec(t, c, note(Contact{ExternalID: "u-1"}, "Cancelled: too expensive", ""))
	if res.Calls != 1 || res.ContactID != contactID(1) {
		t.Errorf("note: %+v", res)
	}
	exec(t, newClient(t, s), note(Contact{Email: "lee@example.com"}, "<p>Asked for a demo</p>", "1"))
	wantTranscript(t, s,
		`POST /contacts/`+contactID(1)+`/notes {"body":"Cancelled: too expensive"} [200]`,
		`POST /contacts/search {"query":{"field":"email","operator":"=","value":"lee@example.com"},"pagination":{"per_page":2}} [200]`,
		`POST /contacts/`+contactID(2)+`/notes {"admin_id":"1","body":"<p>Asked for a demo</p>"} [200]`,
	)
	st := s.State()
	if n := st.Contacts[0].Notes; len(n) != 1 || n[0].Body != "<p>Cancelled: too expensive</p>" || n[0].AuthorID != "1" {
		t.Errorf("user's notes: %+v", n)
	}
	if n := st.Contacts[1].Notes; len(n) != 1 || n[0].Body != "<p>Asked for a demo</p>" {
		t.Errorf("lead's notes: %+v", n)
	}

	_, err := execute(c, note(Contact{ExternalID: "u-1"}, "x", "999"))
	const want = "add_note: add note to contact " + "65c000000000000000000001" + ": intercom: 404 not_found: Resource Not Found (request sim-000000000007)"
	if err == nil || errors.Is(err, ErrContactNotFound) || err.Error() != want {
		t.Errorf("unknown admin: err = %v\nwant %s", err, want)
	}
	_, err = execute(c, note(Contact{ExternalID: "u-9"}, "x", ""))
	if !errors.Is(err, ErrContactNotFound) || err.Error() != `add_note: contact not found (external_id "u-9")` {
		t.Errorf("unknown contact: err = %v", err)
	}
	// A contact_id Intercom does not know: the note's own 404 says so.
	_, err = execute(c, note(Contact{ID: contactID(9)}, "x", ""))
	const wantGone = `add_note: contact not found (contact_id "65c000000000000000000009"): add note: intercom: 404 not_found: User Not Found (request sim-000000000009)`
	if !errors.Is(err, ErrContactNotFound) || err.Error() != wantGone {
		t.Errorf("unknown contact_id: err = %v\nwant %s", err, wantGone)
	}
}
