package suppress

import (
	"context"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// API is an intercom.API whose calls that would change nothing are not
// sent: each is counted in the context's Tally (AddSaved) by reason and
// answered from the Memory. Every other call goes to the API it wraps.
type API struct {
	intercom.API
	m *Memory
}

// Wrap returns api with m in front of it; a nil m returns api itself.
func Wrap(api intercom.API, m *Memory) intercom.API {
	if m == nil {
		return api
	}
	return &API{API: api, m: m}
}

// saved counts a call not sent for reason.
func saved(ctx context.Context, reason string) {
	if t := intercom.TallyFrom(ctx); t != nil {
		t.AddSaved(reason)
	}
}

// CreateContact creates the contact and remembers its body.
func (a *API) CreateContact(ctx context.Context, body intercom.ContactBody) (*intercom.Contact, error) {
	ct, err := a.API.CreateContact(ctx, body)
	if err == nil && ct.ID != "" {
		a.m.rememberContact(ct.ID, body, contactSum(body))
	}
	return ct, err
}

// GetContact reads the contact, and remembers the attachments its answer
// shows (attachments seen). An answer of another contact (the REST client
// followed a 410: id was merged into it) forgets id.
func (a *API) GetContact(ctx context.Context, id string) (*intercom.Contact, error) {
	ct, err := a.API.GetContact(ctx, id)
	a.seen(id, ct, err)
	return ct, err
}

// FindContactByExternalID reads the user, and remembers the attachments
// its answer shows.
func (a *API) FindContactByExternalID(ctx context.Context, externalID string) (*intercom.Contact, error) {
	ct, err := a.API.FindContactByExternalID(ctx, externalID)
	a.seen("", ct, err)
	return ct, err
}

// seen remembers the attachments a contact's answer shows, as made now:
// a repeat attach of one of them is not sent. asked is the contact id
// the call named ("" for none): when the answer is another contact's,
// asked was merged into it, and is forgotten.
func (a *API) seen(asked string, ct *intercom.Contact, err error) {
	if err != nil || ct == nil || ct.ID == "" {
		return
	}
	if asked != "" && asked != ct.ID {
		a.m.forgetID(asked)
	}
	if ct.Companies == nil {
		return
	}
	for _, co := range ct.Companies.Data {
		if co.ID != "" {
			a.m.put(attachKey(ct.ID, co.ID), entry{at: a.m.now()})
		}
	}
}

// UpdateContact is not sent when the contact holds body already (its
// last_seen_at within the resolution); else it is, and its body is
// remembered once Intercom took it, as the answer's contact's (the one id
// was merged into, if the REST client followed a 410).
func (a *API) UpdateContact(ctx context.Context, id string, body intercom.ContactBody) (*intercom.Contact, error) {
	sum := contactSum(body)
	if a.m.unchangedContact(id, sum) {
		saved(ctx, UnchangedContact)
		return &intercom.Contact{ID: id, Role: body.Role, ExternalID: body.ExternalID, Email: body.Email}, nil
	}
	ct, err := a.API.UpdateContact(ctx, id, body)
	if err != nil {
		a.m.forgetID(id) // Intercom may hold it or not
		return ct, err
	}
	a.seen(id, ct, nil)
	if ct != nil && ct.ID != "" {
		id = ct.ID
	}
	a.m.rememberContact(id, body, sum)
	return ct, nil
}

// UpsertCompany is not sent when the company holds body already.
func (a *API) UpsertCompany(ctx context.Context, body intercom.CompanyBody) (*intercom.Company, error) {
	sum := digest(body)
	if id, ok := a.m.unchangedCompany(body.CompanyID, sum); ok {
		saved(ctx, UnchangedCompany)
		return &intercom.Company{ID: id, CompanyID: body.CompanyID}, nil
	}
	co, err := a.API.UpsertCompany(ctx, body)
	if err != nil {
		a.m.forget(makeKey(kindCompany, body.CompanyID))
		return co, err
	}
	a.m.rememberCompany(co.ID, body.CompanyID, sum)
	return co, nil
}

// AttachCompany is not sent when the attachment was made within the TTL.
func (a *API) AttachCompany(ctx context.Context, contactID, companyID string) error {
	k := attachKey(contactID, companyID)
	if _, ok := a.m.fresh(k); ok {
		saved(ctx, Attached)
		return nil
	}
	if err := a.API.AttachCompany(ctx, contactID, companyID); err != nil {
		a.m.forget(k)
		return err
	}
	a.m.put(k, entry{at: a.m.now()})
	return nil
}

// DetachCompany forgets the attachment, then detaches.
func (a *API) DetachCompany(ctx context.Context, contactID, companyID string) error {
	a.m.forget(attachKey(contactID, companyID))
	return a.API.DetachCompany(ctx, contactID, companyID)
}

// DeleteContact forgets the contact, then deletes it.
func (a *API) DeleteContact(ctx context.Context, id string) error {
	a.m.forgetID(id)
	return a.API.DeleteContact(ctx, id)
}

// MergeContacts forgets both contacts (the user takes the lead's
// attributes), then merges.
func (a *API) MergeContacts(ctx context.Context, leadID, userID string) (*intercom.Contact, error) {
	a.m.forgetID(leadID)
	a.m.forgetID(userID)
	return a.API.MergeContacts(ctx, leadID, userID)
}

// Cached is the wrapped API's entry for key, else, for a user's
// external_id, the Intercom id the Memory holds (kept across restarts,
// where the wrapped API's cache is not).
func (a *API) Cached(key intercom.CacheKey) (intercom.Cached, bool) {
	if c, ok := a.API.Cached(key); ok {
		return c, true
	}
	return a.m.cachedUser(key)
}

// Forget forgets the contact or company with Intercom's id, here and in
// the wrapped API.
func (a *API) Forget(id string) {
	a.m.forgetID(id)
	a.API.Forget(id)
}
