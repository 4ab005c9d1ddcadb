package action

import (
	"context"
	"fmt"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// TagContact is a planned tag_contact: tag a contact (or untag it) with
// one or more tags.
type TagContact struct {
	Tags  []string // tag names, in order
	Untag *bool    // true removes the tags instead

	ContactRef // the contact, by Intercom id, external_id or email
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
	Fields: append([]FieldOf[TagContact]{
		StringsField("tags", func(a *TagContact) *[]string { return &a.Tags }).Required().Default("traits.tags").
			Doc("a tag name or a list of them; Intercom compares names ignoring case"),
		BooleanField("untag", func(a *TagContact) **bool { return &a.Untag }).
			Doc("true removes the tags instead of adding them"),
	}, ContactRefFields(func(a *TagContact) *ContactRef { return &a.ContactRef })...),
	Finish:  func(a *TagContact, _ func(string)) error { return a.ContactRef.Check() },
	Contact: func(a *TagContact) Contact { return a.ContactRef.Contact() },
	Run:     runTagContact,
})

// runTagContact finds the contact and tags (or untags) it with each tag in
// turn. Running it again is harmless: tagging a tagged contact, or
// untagging an untagged one, changes nothing.
func runTagContact(ctx context.Context, c *Call, a *TagContact) error {
	id, src, err := c.find(ctx, a.ContactRef)
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
		case intercom.StatusOf(err) != intercom.StatusNotFound:
			return err
		case src == fromCache:
			return stale(err, src, id)
		default:
			return a.ContactRef.notFound(err)
		}
	}
	return nil
}
