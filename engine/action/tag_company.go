package action

import (
	"context"
	"fmt"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// TagCompany is a planned tag_company: tag a company (or untag it) with
// one or more tags.
type TagCompany struct {
	CompanyID string   // your company_id
	Tags      []string // tag names, in order
	Untag     *bool    // true removes the tags instead
}

var tagCompany = Register(Spec[TagCompany]{
	Name:    "tag_company",
	Title:   "Tag Company",
	Trigger: `type == "group" && traits.tags != nil`,
	Doc: "Tag a company with each of the tags, creating the tags Intercom does not have yet; or, with `untag`, remove them " +
		"(RudderStack tags the company of a group call from `traits.tags`).",
	Calls: "per tag `POST /tags {name, companies: [{company_id, untag}]}` (Intercom finds the company by your company_id: no lookup)",
	Fields: []FieldOf[TagCompany]{
		StringField("company_id", func(a *TagCompany) *string { return &a.CompanyID }).Required().Default("groupId").
			Doc("your company id"),
		StringsField("tags", func(a *TagCompany) *[]string { return &a.Tags }).Required().Default("traits.tags").
			Doc("a tag name or a list of them; Intercom compares names ignoring case"),
		BooleanField("untag", func(a *TagCompany) **bool { return &a.Untag }).
			Doc("true removes the tags instead of adding them"),
	},
	// A company is no contact: the action is routed with the rest of its
	// event (after the identify_company that makes the company, when the
	// same group call has both).
	Contact: func(*TagCompany) Contact { return Contact{} },
	Run:     runTagCompany,
})

// runTagCompany tags (or untags) the company with each tag in turn;
// running it again changes nothing.
func runTagCompany(ctx context.Context, c *Call, a *TagCompany) error {
	untag := a.Untag != nil && *a.Untag
	for _, name := range a.Tags {
		body := intercom.TagBody{Name: name, Companies: []intercom.TagTarget{{CompanyID: a.CompanyID, Untag: untag}}}
		if _, err := c.API.Tag(ctx, body); err != nil {
			verb := "tag"
			if untag {
				verb = "untag"
			}
			err = fmt.Errorf("%s company with %q: %w", verb, name, err)
			if intercom.StatusOf(err) == intercom.StatusNotFound {
				return fmt.Errorf("%w (company_id %q): %w", ErrCompanyNotFound, a.CompanyID, err)
			}
			return err
		}
	}
	return nil
}
