package action

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// TagContact is a planned tag_contact: tag a contact (or untag it) with
// one or more tags.
type TagContact struct {
	Tags  []string // tag names, in order
	Untag *bool    // true removes the tags instead

	// The contact, by Intercom id, external_id or email.
	ContactID  string
	ExternalID string
	Email      string
}

var tagContact = Register(Spec[TagContact]{
	Name:    "tag_contact",
	Title:   "Tag Contact",
	Trigger: `type == "identify" && traits.tags != nil`,
	Doc: "Tag a contact (user or lead) with each of the tags, creating the tags Intercom does not have yet; " +
		"or, with `untag`, remove them.",
	Calls: "find the contact (contact_id, cached id, else search) → per tag `POST /tags {name, users: [{id}]}`; " +
		"untag: per tag `POST /tags {name}` for its id (which makes the tag if there is none of that name) → " +
		"`DELETE /contacts/{id}/tags/{tag}`",
	Fields: []FieldOf[TagContact]{
		StringsField("tags", func(a *TagContact) *[]string { return &a.Tags }).Required().Default("traits.tags").
			Doc("a tag name or a list of them; Intercom compares names ignoring case"),
		BooleanField("untag", func(a *TagContact) **bool { return &a.Untag }).
			Doc("true removes the tags instead of adding them"),
		StringField("contact_id", func(a *TagContact) *string { return &a.ContactID }).Lookup().
			Doc("Intercom's id of the contact; skips the search"),
		StringField("external_id", func(a *TagContact) *string { return &a.ExternalID }).Lookup().Default("userId").
			Doc("finds the user"),
		StringField("email", func(a *TagContact) *string { return &a.Email }).Lookup().Default("traits.email").
			Doc("finds the contact (how leads are found)"),
	},
	Finish: func(a *TagContact, _ func(string)) error {
		if a.ContactID == "" && a.ExternalID == "" && a.Email == "" {
			return errors.New("needs contact_id, external_id or email to find the contact, and all are missing")
		}
		return nil
	},
	Contact: func(a *TagContact) Contact {
		return Contact{ExternalID: a.ExternalID, Email: a.Email, ID: a.ContactID}
	},
	Run: runTagContact,
})

// runTagContact finds the contact and tags (or untags) it with each tag in
// turn. Running it again is harmless: tagging a tagged contact, or
// untagging an untagged one, changes nothing.
func runTagContact(ctx context.Context, c *Call, a *TagContact) error {
	id, src, err := c.findContact(ctx, a.ContactID, a.ExternalID, a.Email)
	if err != nil {
		return err
	}
	c.Result.ContactID = id
	untag := a.Untag != nil && *a.Untag
	for _, name := range a.Tags {
		if untag {
			var t *intercom.Tag
			if t, err = c.API.Tag(ctx, intercom.TagBody{Name: name}); err != nil {
				return fmt.Errorf("find tag %q: %w", name, err)
			}
			if _, err = c.API.UntagContact(ctx, id, t.ID); err != nil {
				err = fmt.Errorf("untag %q from contact %s: %w", name, id, err)
			}
		} else if _, err = c.API.Tag(ctx, intercom.TagBody{Name: name, Users: []intercom.TagTarget{{ID: id}}}); err != nil {
			err = fmt.Errorf("tag contact %s with %q: %w", id, name, err)
		}
		switch {
		case err == nil:
		case intercom.StatusOf(err) != http.StatusNotFound:
			return err
		case src == fromCache:
			return stale(err, src, id)
		default:
			return fmt.Errorf("%w: %w", notFound("", "contact_id", a.ContactID, "external_id", a.ExternalID, "email", a.Email), err)
		}
	}
	return nil
}
