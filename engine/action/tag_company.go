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
	Calls: "per tag `POST /tags {name, companies: [{company_id}]}` (Intercom finds the company by your company_id: no lookup); an untag names Intercom's id too, as Intercom requires (`{id, company_id, untag: true}`: the id cached, else `GET /companies?company_id=` once)",
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
	target := intercom.TagTarget{CompanyID: a.CompanyID, Untag: untag}
	idSrc := fromAction
	if untag {
		id, src, err := c.companyIntercomID(ctx, a.CompanyID)
		if err != nil {
			return err
		}
		target.ID, idSrc = id, src
	}
	for _, name := range a.Tags {
		body := intercom.TagBody{Name: name, Companies: []intercom.TagTarget{target}}
		if _, err := c.API.Tag(ctx, body); err != nil {
			verb := "tag"
			if untag {
				verb = "untag"
			}
			err = fmt.Errorf("%s company with %q: %w", verb, name, err)
			if intercom.StatusOf(err) == intercom.StatusNotFound {
				if idSrc == fromCache {
					return staleCompany(err, idSrc, target.ID) // the cached company may be gone: find it again
				}
				return fmt.Errorf("%w (company_id %q): %w", ErrCompanyNotFound, a.CompanyID, err)
			}
			return err
		}
	}
	return nil
}

// companyIntercomID returns Intercom's id of the company with your
// company_id, and where it came from: cached from an earlier answer, else
// read with GET /companies?company_id= (which caches it). A company
// Intercom does not have is ErrCompanyNotFound.
func (c *Call) companyIntercomID(ctx context.Context, companyID string) (string, source, error) {
	if e, ok := c.cached(intercom.CompanyKey(companyID)); ok && e.ID != "" {
		return e.ID, fromCache, nil
	}
	co, err := c.API.FindCompany(ctx, companyID)
	switch {
	case intercom.StatusOf(err) == intercom.StatusNotFound:
		return "", fromSearch, fmt.Errorf("%w (company_id %q): %w", ErrCompanyNotFound, companyID, err)
	case err != nil:
		return "", fromSearch, fmt.Errorf("find company: %w", err)
	}
	return co.ID, fromSearch, nil
}
