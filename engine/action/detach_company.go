package action

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// DetachCompany is a planned detach_company: detach a contact from a
// company.
type DetachCompany struct {
	CompanyID string // your company_id

	ContactRef // the contact to detach, by Intercom id, external_id or email
}

var detachCompany = Register(Spec[DetachCompany]{
	Name:  "detach_company",
	Title: "Detach Company",
	Doc: "Detach a contact (user or lead) from a company, e.g. on an identify whose `traits.company` has `remove: true` " +
		"(RudderStack's convention). The company is kept; an unknown company is an error.",
	Calls: "find the company (cached id, else `GET /companies?company_id=`) → find the contact (contact_id, cached id, else search) → " +
		"`DELETE /contacts/{id}/companies/{company}` (a contact not attached to it is already detached)",
	Fields: append([]FieldOf[DetachCompany]{
		StringField("company_id", func(a *DetachCompany) *string { return &a.CompanyID }).Required().Default("traits.company.id").
			Doc("your company id"),
	}, ContactRefFields(func(a *DetachCompany) *ContactRef { return &a.ContactRef })...),
	Finish:  func(a *DetachCompany, _ func(string)) error { return a.ContactRef.Check() },
	Contact: func(a *DetachCompany) Contact { return a.ContactRef.Contact() },
	Run:     runDetachCompany,
})

// runDetachCompany finds the company and the contact and detaches them.
// Detaching a contact that is not attached (or no longer: an earlier
// attempt whose answer was lost) succeeds: it is what was asked for.
func runDetachCompany(ctx context.Context, c *Call, a *DetachCompany) error {
	companyID, companySrc, err := c.companyIntercomID(ctx, a.CompanyID)
	if err != nil {
		return err
	}
	c.Result.CompanyID = companyID
	id, src, err := c.find(ctx, a.ContactRef)
	if err != nil {
		return err
	}
	c.Result.ContactID = id
	err = c.API.DetachCompany(ctx, id, companyID)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("detach company %s from contact %s: %w", companyID, id, err)
	var ae *intercom.APIError
	if !errors.As(err, &ae) || ae.Status != intercom.StatusNotFound {
		return err
	}
	switch {
	case strings.Contains(ae.Message, "Company") && companySrc == fromCache:
		return staleCompany(err, companySrc, companyID) // the cached company may be gone: find it again
	case strings.Contains(ae.Message, "Company"):
		// The company exists (just found): the contact is not attached to it.
		c.log.DebugContext(ctx, "intercom: contact not attached to the company; nothing to detach", "contact", id, "company", companyID)
		return nil
	case src == fromCache:
		return stale(err, src, id)
	}
	return a.ContactRef.notFound(err)
}
