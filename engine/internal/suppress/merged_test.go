package suppress

import (
	"context"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// putFollowsMerge is an intercom.API whose update of a merged contact's
// old id updates the contact it went into, as the REST client does should
// Intercom answer a PUT of that id with a 410 (it answers 404, and the 410
// to a GET, which the REST client follows).
type putFollowsMerge struct{ intercom.API }

func (p putFollowsMerge) UpdateContact(ctx context.Context, id string, body intercom.ContactBody) (*intercom.Contact, error) {
	ct, err := p.API.UpdateContact(ctx, id, body)
	if intercom.StatusOf(err) != intercom.StatusNotFound {
		return ct, err
	}
	if into, gerr := p.API.GetContact(ctx, id); gerr == nil && into.ID != id {
		return p.API.UpdateContact(ctx, into.ID, body)
	}
	return ct, err
}

// TestMergedContactIsForgotten: a lead the Memory holds is merged into a
// user by another process. Once a read of the lead's id follows the merge
// (the REST client follows the 410 to the user), the lead's id is
// forgotten: an update of it with the body it held is sent (and answers
// 404), not answered from the Memory for a contact that is gone. An update
// that followed a merge is remembered as the user's, and the lead's id is
// forgotten: the same update of the user is not sent, one of the old id is.
func TestMergedContactIsForgotten(t *testing.T) {
	f := newFixture(t, Config{}, 0)
	ctx := context.Background()
	other := restClient(t, f.sim, 0)
	u, err := other.CreateContact(ctx, user("Ann", nil))
	if err != nil {
		t.Fatal(err)
	}
	body := intercom.ContactBody{Name: "Lee"}
	lead := f.create(intercom.ContactBody{Role: "lead", Email: "lee@example.com"})
	f.update(lead, body)
	if _, err := other.MergeContacts(ctx, lead, u.ID); err != nil {
		t.Fatal(err)
	}
	if ct, err := f.api.GetContact(ctx, lead); err != nil || ct.ID != u.ID {
		t.Fatalf("read of the merged lead: %+v, %v", ct, err)
	}
	f.sim.ResetRequests()
	if _, err := f.api.UpdateContact(ctx, lead, body); intercom.StatusOf(err) != intercom.StatusNotFound {
		t.Errorf("update of the old id after a read followed the merge: %v, want a 404", err)
	}
	if err := f.sim.ExpectTranscript(`PUT /contacts/` + lead + ` {"name":"Lee"} [404]`); err != nil {
		t.Error(err)
	}

	f.api = Wrap(putFollowsMerge{f.api.(*API).API}, f.m)
	lead = f.create(intercom.ContactBody{Role: "lead", Email: "lou@example.com"})
	f.update(lead, body)
	if _, err := other.MergeContacts(ctx, lead, u.ID); err != nil {
		t.Fatal(err)
	}
	f.sim.ResetRequests()
	body.Name = "Lou"
	f.update(lead, body)
	put := func(id, status string) string { return `PUT /contacts/` + id + ` {"name":"Lou"} [` + status + `]` }
	if err := f.sim.ExpectTranscript(put(lead, "404"), `GET /contacts/`+lead+` [410]`, `GET /contacts/`+u.ID+` [200]`, put(u.ID, "200")); err != nil {
		t.Error(err)
	}
	if saved := f.update(u.ID, body); saved[UnchangedContact] != 1 {
		t.Errorf("the same update of the user: saved %v, sent %q", saved, f.sent())
	}
	f.update(lead, body)
	if err := f.sim.ExpectTranscript(put(lead, "404"), `GET /contacts/`+lead+` [410]`, `GET /contacts/`+u.ID+` [200]`, put(u.ID, "200")); err != nil {
		t.Errorf("the same update of the old id: %v", err)
	}
}
