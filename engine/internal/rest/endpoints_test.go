package rest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// TestCompanyLookupAndDetach: a company is found by your company_id (and
// cached), a contact is detached from it, and an unknown company is a 404.
func TestCompanyLookupAndDetach(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	ctx := context.Background()
	ct, err := c.CreateContact(ctx, user("u-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpsertCompany(ctx, intercom.CompanyBody{CompanyID: "co-1", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if err := c.AttachCompany(ctx, ct.ID, companyID(1)); err != nil {
		t.Fatal(err)
	}
	s.ResetRequests()

	co, err := c.FindCompany(ctx, "co-1")
	if err != nil || co.ID != companyID(1) || co.CompanyID != "co-1" || co.Name != "Acme" {
		t.Fatalf("FindCompany = %+v, %v", co, err)
	}
	if got, ok := c.Cached(intercom.CompanyKey("co-1")); !ok || got.ID != companyID(1) {
		t.Errorf("cache after FindCompany: %+v, %v", got, ok)
	}
	if err := c.DetachCompany(ctx, ct.ID, co.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.FindCompany(ctx, "co-404")
	if intercom.StatusOf(err) != 404 {
		t.Errorf("unknown company: err = %v, want a 404", err)
	}
	wantTranscript(t, s,
		`GET /companies?company_id=co-1 [200]`,
		`DELETE /contacts/`+ct.ID+`/companies/`+companyID(1)+` [200]`,
		`GET /companies?company_id=co-404 [404]`,
	)
	if st := s.State(); len(st.Contacts[0].CompanyIDs) != 0 || st.Companies[0].UserCount != 0 {
		t.Errorf("after detach: contact companies %v, user count %d", st.Contacts[0].CompanyIDs, st.Companies[0].UserCount)
	}
}

// TestTags tags and untags a contact and a company, in bulk and one by one.
func TestTags(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	ctx := context.Background()
	ct, err := c.CreateContact(ctx, user("u-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpsertCompany(ctx, intercom.CompanyBody{CompanyID: "co-1"}); err != nil {
		t.Fatal(err)
	}
	s.ResetRequests()

	vip, err := c.Tag(ctx, intercom.TagBody{Name: "VIP", Users: []intercom.TagTarget{{ID: ct.ID}}})
	if err != nil || vip.Name != "VIP" || vip.ID == "" {
		t.Fatalf("Tag = %+v, %v", vip, err)
	}
	if _, err := c.Tag(ctx, intercom.TagBody{Name: "Enterprise", Companies: []intercom.TagTarget{{CompanyID: "co-1"}}}); err != nil {
		t.Fatal(err)
	}
	beta, err := c.Tag(ctx, intercom.TagBody{Name: "Beta"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.TagContact(ctx, ct.ID, beta.ID); err != nil || *got != *beta {
		t.Fatalf("TagContact = %+v, %v", got, err)
	}
	st := s.State()
	if !reflect.DeepEqual(st.Contacts[0].Tags, []string{"Beta", "VIP"}) || !reflect.DeepEqual(st.Companies[0].Tags, []string{"Enterprise"}) {
		t.Errorf("tagged: contact %v, company %v", st.Contacts[0].Tags, st.Companies[0].Tags)
	}
	if _, err := c.UntagContact(ctx, ct.ID, beta.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tag(ctx, intercom.TagBody{Name: "VIP", Users: []intercom.TagTarget{{ID: ct.ID, Untag: true}}}); err != nil {
		t.Fatal(err)
	}
	if tags := s.State().Contacts[0].Tags; len(tags) != 0 {
		t.Errorf("after untagging: %v", tags)
	}
	wantTranscript(t, s,
		`POST /tags {"name":"VIP","users":[{"id":"`+ct.ID+`"}]} [200]`,
		`POST /tags {"companies":[{"company_id":"co-1"}],"name":"Enterprise"} [200]`,
		`POST /tags {"name":"Beta"} [200]`,
		`POST /contacts/`+ct.ID+`/tags {"id":"`+beta.ID+`"} [200]`,
		`DELETE /contacts/`+ct.ID+`/tags/`+beta.ID+` [200]`,
		`POST /tags {"name":"VIP","users":[{"id":"`+ct.ID+`","untag":true}]} [200]`,
	)
	_, err = c.TagContact(ctx, "nobody", beta.ID)
	var ae *intercom.APIError
	if !errors.As(err, &ae) || ae.Status != 404 {
		t.Errorf("tag an unknown contact: err = %v, want a 404", err)
	}
}

// TestNotes adds a note to a contact.
func TestNotes(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	ctx := context.Background()
	ct, err := c.CreateContact(ctx, user("u-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	s.ResetRequests()
	n, err := c.AddNote(ctx, ct.ID, intercom.NoteBody{Body: "Upgraded to Pro", AdminID: "1"})
	if err != nil || n.ID == "" || n.Body != "<p>Upgraded to Pro</p>" {
		t.Fatalf("AddNote = %+v, %v", n, err)
	}
	wantTranscript(t, s, `POST /contacts/`+ct.ID+`/notes {"admin_id":"1","body":"Upgraded to Pro"} [200]`)
	if notes := s.State().Contacts[0].Notes; len(notes) != 1 || notes[0].Body != "<p>Upgraded to Pro</p>" || notes[0].AuthorID != "1" {
		t.Errorf("notes: %+v", notes)
	}
	if _, err := c.AddNote(ctx, ct.ID, intercom.NoteBody{}); intercom.StatusOf(err) != 400 {
		t.Errorf("empty note: err = %v, want a 400", err)
	}
}

// TestDataAttributes lists a model's attributes and creates a custom one.
func TestDataAttributes(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	ctx := context.Background()
	created, err := c.CreateDataAttribute(ctx, intercom.DataAttributeBody{Name: "plan", Model: "contact", DataType: "string"})
	if err != nil {
		t.Fatal(err)
	}
	want := intercom.DataAttribute{Name: "plan", FullName: "custom_attributes.plan", Model: "contact", DataType: "string", Custom: true}
	if *created != want {
		t.Errorf("created %+v, want %+v", *created, want)
	}
	list, err := c.ListDataAttributes(ctx, "contact")
	if err != nil {
		t.Fatal(err)
	}
	var custom []intercom.DataAttribute
	for _, a := range list {
		if a.Custom {
			custom = append(custom, a)
		}
	}
	if !reflect.DeepEqual(custom, []intercom.DataAttribute{want}) || len(list) < 2 {
		t.Errorf("listed %+v; custom %+v", list, custom)
	}
	_, err = c.CreateDataAttribute(ctx, intercom.DataAttributeBody{Name: "plan", Model: "contact", DataType: "string"})
	if intercom.StatusOf(err) != 400 {
		t.Errorf("a second plan: err = %v, want a 400", err)
	}
	wantTranscript(t, s,
		`POST /data_attributes {"data_type":"string","model":"contact","name":"plan"} [200]`,
		`GET /data_attributes?model=contact [200]`,
		`POST /data_attributes {"data_type":"string","model":"contact","name":"plan"} [400]`,
	)
}
