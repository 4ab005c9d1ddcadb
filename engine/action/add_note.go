package action

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// AddNote is a planned add_note: a note on a contact.
type AddNote struct {
	Body    string // the note's text
	AdminID string // its author; "" for the token's admin

	ContactRef // the contact, by Intercom id, external_id or email
}

var addNote = Register(Spec[AddNote]{
	Name:  "add_note",
	Title: "Add Note",
	Doc: "Add a note to a contact (user or lead), e.g. on a chosen track event. " +
		"Intercom does not de-duplicate notes: a retry after a lost answer may add the note twice.",
	Calls: "find the contact (contact_id, cached id, else search) → `POST /contacts/{id}/notes`",
	Fields: append([]FieldOf[AddNote]{
		StringField("body", func(a *AddNote) *string { return &a.Body }).Required().
			Doc("the note's text, e.g. `{template: \"Cancelled: {{properties.reason}}\"}`; plain text becomes a paragraph, HTML is kept"),
		StringField("admin_id", func(a *AddNote) *string { return &a.AdminID }).
			Doc("Intercom's id of the admin who writes it (default: the token's admin)"),
	}, ContactRefFields(func(a *AddNote) *ContactRef { return &a.ContactRef })...),
	Finish:  func(a *AddNote, _ func(string)) error { return a.ContactRef.Check() },
	Contact: func(a *AddNote) Contact { return a.ContactRef.Contact() },
	Run:     runAddNote,
})

// runAddNote finds the contact and adds the note.
func runAddNote(ctx context.Context, c *Call, a *AddNote) error {
	id, src, err := c.find(ctx, a.ContactRef)
	if err != nil {
		return err
	}
	c.Result.ContactID = id
	_, err = c.API.AddNote(ctx, id, intercom.NoteBody{Body: a.Body, AdminID: a.AdminID})
	var ae *intercom.APIError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &ae) || ae.Status != intercom.StatusNotFound || !strings.Contains(ae.Message, "User"):
		// Not the contact that is missing: e.g. an admin_id Intercom does not know.
		return fmt.Errorf("add note to contact %s: %w", id, err)
	case src == fromCache:
		return stale(fmt.Errorf("add note to contact %s: %w", id, err), src, id)
	}
	return a.ContactRef.notFound(fmt.Errorf("add note: %w", err))
}
