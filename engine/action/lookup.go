package action

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// searchPerPage is the page size of the searches call sequences make: they
// only need to know whether exactly one contact matches.
const searchPerPage = 2

// findContact finds a user or lead: by contact id as given, else (cache,
// then search) by external_id, then by email. A search must find exactly one
// contact; of several sharing an email, the user is taken if one is seen.
func (c *Call) findContact(ctx context.Context, contactID, ext, email string) (string, source, error) {
	if contactID != "" {
		return contactID, fromAction, nil
	}
	if ext != "" {
		if e, ok := c.cached(intercom.ExternalIDKey(ext)); ok {
			return e.ID, fromCache, nil
		}
	}
	if email != "" {
		if e, ok := c.cached(intercom.UserEmailKey(email)); ok && (ext == "" || e.ExternalID == "" || e.ExternalID == ext) {
			return e.ID, fromCache, nil
		}
		if e, ok := c.cached(intercom.LeadEmailKey(email)); ok {
			return e.ID, fromCache, nil
		}
	}
	if ext != "" {
		id, err := c.findUserByExternalID(ctx, ext)
		if err != nil {
			return "", fromSearch, err
		}
		if id != "" {
			return id, fromSearch, nil
		}
	}
	var detail string
	if email != "" {
		ans, err := c.API.SearchContacts(ctx, intercom.Eq("email", email), searchPerPage)
		if err != nil {
			return "", fromSearch, fmt.Errorf("search contacts: %w", err)
		}
		if len(ans.Data) == 1 && ans.TotalCount == 1 {
			return ans.Data[0].ID, fromSearch, nil
		}
		if ans.TotalCount > 1 {
			for _, ct := range ans.Data {
				if ct.Role == "user" && (ext == "" || ct.ExternalID == "" || ct.ExternalID == ext) {
					return ct.ID, fromSearch, nil
				}
			}
			detail = fmt.Sprintf("%d contacts match the email", ans.TotalCount)
		}
	}
	err := notFound(detail, "external_id", ext, "email", email)
	if email != "" || !c.API.Version().FindByExternalID() {
		err = searchMissed{err} // a search found none
	}
	return "", fromSearch, err
}

// cachedUser finds a user in the cache by external_id, then by email (a
// user cached by email with another external_id is not it).
func (c *Call) cachedUser(ext, email string) (string, source) {
	if ext != "" {
		if e, ok := c.cached(intercom.ExternalIDKey(ext)); ok {
			return e.ID, fromCache
		}
	}
	if email != "" {
		if e, ok := c.cached(intercom.UserEmailKey(email)); ok && (ext == "" || e.ExternalID == "" || e.ExternalID == ext) {
			return e.ID, fromCache
		}
	}
	return "", fromSearch
}

// searchUser finds a user by external_id or email with one search; nil when
// there is none (or search does not show it yet). A user found by email that has another external_id is an
// error: updating it would re-key another user.
func (c *Call) searchUser(ctx context.Context, ext, email string) (*intercom.Contact, error) {
	byEmail := intercom.And(intercom.Eq("email", email), intercom.Eq("role", "user"))
	var q intercom.Query
	switch {
	case ext != "" && email != "":
		q = intercom.Or(intercom.Eq("external_id", ext), byEmail)
	case ext != "":
		q = intercom.Eq("external_id", ext)
	default:
		q = byEmail
	}
	ans, err := c.API.SearchContacts(ctx, q, searchPerPage)
	if err != nil {
		return nil, fmt.Errorf("search contacts: %w", err)
	}
	if ext != "" {
		for i, ct := range ans.Data {
			if ct.ExternalID == ext {
				return &ans.Data[i], nil
			}
		}
	}
	if email != "" {
		for i, ct := range ans.Data {
			if ct.Role != "user" || !strings.EqualFold(ct.Email, email) {
				continue
			}
			if ext != "" && ct.ExternalID != "" {
				return nil, fmt.Errorf("user %s has this email and another external_id: not updating it", ct.ID)
			}
			return &ans.Data[i], nil
		}
	}
	return nil, nil
}

// findLead finds a lead by id as given, else (cache, then search) by email
// among leads; exactly one must match.
func (c *Call) findLead(ctx context.Context, leadID, email string) (string, source, error) {
	if leadID != "" {
		return leadID, fromAction, nil
	}
	if email == "" {
		return "", fromSearch, fmt.Errorf("needs lead_id or lead_email to find the lead")
	}
	if e, ok := c.cached(intercom.LeadEmailKey(email)); ok {
		return e.ID, fromCache, nil
	}
	ans, err := c.API.SearchContacts(ctx, intercom.And(intercom.Eq("email", email), intercom.Eq("role", "lead")), searchPerPage)
	if err != nil {
		return "", fromSearch, fmt.Errorf("search contacts: %w", err)
	}
	switch {
	case len(ans.Data) == 1 && ans.TotalCount == 1:
		return ans.Data[0].ID, fromSearch, nil
	case ans.TotalCount > 1:
		return "", fromSearch, notFound(fmt.Sprintf("%d leads match", ans.TotalCount), "lead_email", email)
	}
	return "", fromSearch, searchMissed{notFound("", "lead_email", email)}
}

// updateFound sends body to the contact id that src found. done is false
// when search still shows a contact that is gone (a 404): the caller
// creates it anew.
func (c *Call) updateFound(ctx context.Context, id string, src source, body intercom.ContactBody) (done bool, err error) {
	ct, err := c.API.UpdateContact(ctx, id, body)
	switch {
	case err == nil:
		c.Result.ContactID = ct.ID
		return true, nil
	case src == fromCache:
		return true, stale(fmt.Errorf("update contact %s: %w", id, err), src, id)
	case intercom.StatusOf(err) != intercom.StatusNotFound:
		return true, fmt.Errorf("update contact %s: %w", id, err)
	}
	return false, nil
}

// ContactRef names the existing contact an action acts on: Intercom's id,
// else your external_id, else an email (how leads are found). Embed it in
// an action's struct and declare its fields with ContactRefFields.
type ContactRef struct {
	ContactID  string
	ExternalID string
	Email      string
}

// ContactRefFields declares the lookup fields of the ContactRef at:
// contact_id, external_id (Segment's userId) and email (traits.email).
func ContactRefFields[T any](at func(*T) *ContactRef) []FieldOf[T] {
	return []FieldOf[T]{
		StringField("contact_id", func(a *T) *string { return &at(a).ContactID }).Lookup().
			Doc("Intercom's id of the contact; skips the search"),
		StringField("external_id", func(a *T) *string { return &at(a).ExternalID }).Lookup().Default("userId").
			Doc("finds the user"),
		StringField("email", func(a *T) *string { return &at(a).Email }).Lookup().Default("traits.email").
			Doc("finds the contact (how leads are found)"),
	}
}

// Check reports a ContactRef that names no contact: the action cannot run.
func (r ContactRef) Check() error {
	if r.ContactID == "" && r.ExternalID == "" && r.Email == "" {
		return errors.New("needs contact_id, external_id or email to find the contact, and all are missing")
	}
	return nil
}

// Contact is the contact r names, as the dispatcher routes by it.
func (r ContactRef) Contact() Contact {
	return Contact{ExternalID: r.ExternalID, Email: r.Email, ID: r.ContactID}
}

// find finds the contact r names (see findContact).
func (c *Call) find(ctx context.Context, r ContactRef) (string, source, error) {
	return c.findContact(ctx, r.ContactID, r.ExternalID, r.Email)
}

// notFound wraps err, a 404 for the contact r names, as ErrContactNotFound
// with r's keys.
func (r ContactRef) notFound(err error) error {
	return fmt.Errorf("%w: %w", notFound("", "contact_id", r.ContactID, "external_id", r.ExternalID, "email", r.Email), err)
}
