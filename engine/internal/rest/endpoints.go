package rest

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// The Client is the project's intercom.API.
var _ intercom.API = (*Client)(nil)

func contactPath(id string) string { return "/contacts/" + url.PathEscape(id) }

// CreateContact creates a contact (POST /contacts).
func (c *Client) CreateContact(ctx context.Context, body intercom.ContactBody) (*intercom.Contact, error) {
	return c.contact(ctx, call{http.MethodPost, "/contacts", epCreateContact, body, nil})
}

// GetContact retrieves a contact by its Intercom id (GET /contacts/{id}).
func (c *Client) GetContact(ctx context.Context, id string) (*intercom.Contact, error) {
	return c.contact(ctx, call{http.MethodGet, contactPath(id), epGetContact, nil, nil})
}

// UpdateContact updates the contact with Intercom id id (PUT /contacts/{id}).
func (c *Client) UpdateContact(ctx context.Context, id string, body intercom.ContactBody) (*intercom.Contact, error) {
	return c.contact(ctx, call{http.MethodPut, contactPath(id), epUpdateContact, body, nil})
}

// contact makes a call that answers a contact, and learns its keys.
func (c *Client) contact(ctx context.Context, cl call) (*intercom.Contact, error) {
	var ct intercom.Contact
	cl.out = &ct
	if _, err := c.follow(ctx, cl); err != nil {
		return nil, err
	}
	c.learn(&ct)
	return &ct, nil
}

// searchRequest is the body of POST /contacts/search.
type searchRequest struct {
	Pagination struct {
		PerPage int `json:"per_page"`
	} `json:"pagination"`
	Query intercom.Query `json:"query"`
}

// SearchContacts returns the first page (up to perPage, at most 150) of the
// contacts matching q (POST /contacts/search). Intercom's search index lags
// writes by a few seconds.
func (c *Client) SearchContacts(ctx context.Context, q intercom.Query, perPage int) (*intercom.ContactList, error) {
	body := searchRequest{Query: q}
	body.Pagination.PerPage = min(max(perPage, 1), maxPerPage)
	var ans intercom.ContactList
	if _, err := c.do(ctx, call{http.MethodPost, "/contacts/search", epSearchContacts, body, &ans}); err != nil {
		return nil, err
	}
	for i := range ans.Data {
		c.learn(&ans.Data[i])
	}
	return &ans, nil
}

// maxPerPage is Intercom's largest search page.
const maxPerPage = 150

// DeleteContact deletes the contact with Intercom id id (DELETE /contacts/{id}).
// A 404 on a retry counts as done: the first attempt deleted it.
func (c *Client) DeleteContact(ctx context.Context, id string) error {
	rep, err := c.do(ctx, call{http.MethodDelete, contactPath(id), epDeleteContact, nil, nil})
	if err != nil && !(rep.attempts > 1 && intercom.StatusOf(err) == http.StatusNotFound) {
		return err
	}
	c.Forget(id)
	return nil
}

// MergeContacts merges the lead leadID into the user userID
// (POST /contacts/merge) and returns the user. A 404 on a retry counts as
// done: an earlier attempt most likely merged the lead before its answer
// was lost.
func (c *Client) MergeContacts(ctx context.Context, leadID, userID string) (*intercom.Contact, error) {
	var ct intercom.Contact
	body := struct {
		From string `json:"from"`
		Into string `json:"into"`
	}{leadID, userID}
	rep, err := c.do(ctx, call{http.MethodPost, "/contacts/merge", epMergeContacts, body, &ct})
	switch {
	case err == nil:
		c.Forget(leadID)
		c.learn(&ct)
		return &ct, nil
	case rep.attempts > 1 && intercom.StatusOf(err) == http.StatusNotFound:
		c.Forget(leadID)
		c.log.DebugContext(ctx, "intercom: merge answered 404 on a retry; taking it as done", "lead", leadID, "user", userID)
		return &intercom.Contact{ID: userID, Role: "user"}, nil
	}
	return nil, err
}

// UpsertCompany creates or updates the company with body's company_id
// (POST /companies).
func (c *Client) UpsertCompany(ctx context.Context, body intercom.CompanyBody) (*intercom.Company, error) {
	co, err := c.company(ctx, call{http.MethodPost, "/companies", epUpsertCompany, body, nil})
	if err == nil {
		c.cache.put(intercom.CompanyKey(body.CompanyID), intercom.Cached{ID: co.ID})
	}
	return co, err
}

// FindCompany retrieves the company with your company_id
// (GET /companies?company_id=); a 404 if there is none.
func (c *Client) FindCompany(ctx context.Context, companyID string) (*intercom.Company, error) {
	path := "/companies?company_id=" + url.QueryEscape(companyID)
	return c.company(ctx, call{http.MethodGet, path, epFindCompany, nil, nil})
}

// company makes a call that answers a company, and learns its id.
func (c *Client) company(ctx context.Context, cl call) (*intercom.Company, error) {
	var co intercom.Company
	cl.out = &co
	if _, err := c.do(ctx, cl); err != nil {
		return nil, err
	}
	if co.ID == "" {
		return nil, errors.New("intercom: " + cl.endpoint + ": answer has no company id")
	}
	if co.CompanyID != "" {
		key := intercom.CompanyKey(co.CompanyID)
		if prev, ok := c.cache.get(key); !ok || prev.ID != co.ID {
			c.cache.put(key, intercom.Cached{ID: co.ID})
		}
	}
	return &co, nil
}

// AttachCompany attaches the company companyID (Intercom's id) to the
// contact contactID (POST /contacts/{id}/companies).
func (c *Client) AttachCompany(ctx context.Context, contactID, companyID string) error {
	body := struct {
		ID string `json:"id"`
	}{companyID}
	_, err := c.do(ctx, call{http.MethodPost, contactPath(contactID) + "/companies", epAttachCompany, body, nil})
	return err
}

// DetachCompany detaches the company companyID (Intercom's id) from the
// contact contactID (DELETE /contacts/{id}/companies/{company_id}).
func (c *Client) DetachCompany(ctx context.Context, contactID, companyID string) error {
	path := contactPath(contactID) + "/companies/" + url.PathEscape(companyID)
	_, err := c.do(ctx, call{http.MethodDelete, path, epDetachCompany, nil, nil})
	return err
}

// SubmitEvent records a data event (POST /events; Intercom answers 202).
func (c *Client) SubmitEvent(ctx context.Context, body intercom.EventBody) error {
	_, err := c.do(ctx, call{http.MethodPost, "/events", epSubmitEvent, body, nil})
	return err
}

// Tag creates the tag body.Name if needed and tags or untags the contacts
// and companies body lists (POST /tags).
func (c *Client) Tag(ctx context.Context, body intercom.TagBody) (*intercom.Tag, error) {
	var t intercom.Tag
	if _, err := c.do(ctx, call{http.MethodPost, "/tags", epTag, body, &t}); err != nil {
		return nil, err
	}
	return &t, nil
}

// TagContact tags the contact with the tag tagID (POST /contacts/{id}/tags).
func (c *Client) TagContact(ctx context.Context, contactID, tagID string) (*intercom.Tag, error) {
	var t intercom.Tag
	body := struct {
		ID string `json:"id"`
	}{tagID}
	if _, err := c.do(ctx, call{http.MethodPost, contactPath(contactID) + "/tags", epTagContact, body, &t}); err != nil {
		return nil, err
	}
	return &t, nil
}

// UntagContact removes the tag tagID from the contact
// (DELETE /contacts/{id}/tags/{tag_id}).
func (c *Client) UntagContact(ctx context.Context, contactID, tagID string) (*intercom.Tag, error) {
	var t intercom.Tag
	path := contactPath(contactID) + "/tags/" + url.PathEscape(tagID)
	if _, err := c.do(ctx, call{http.MethodDelete, path, epUntagContact, nil, &t}); err != nil {
		return nil, err
	}
	return &t, nil
}

// AddNote adds a note to the contact (POST /contacts/{id}/notes).
func (c *Client) AddNote(ctx context.Context, contactID string, body intercom.NoteBody) (*intercom.Note, error) {
	var n intercom.Note
	if _, err := c.do(ctx, call{http.MethodPost, contactPath(contactID) + "/notes", epAddNote, body, &n}); err != nil {
		return nil, err
	}
	return &n, nil
}

// ListDataAttributes lists the data attributes of model, "contact" or
// "company" (GET /data_attributes?model=).
func (c *Client) ListDataAttributes(ctx context.Context, model string) ([]intercom.DataAttribute, error) {
	var ans struct {
		Data []intercom.DataAttribute `json:"data"`
	}
	path := "/data_attributes?model=" + url.QueryEscape(model)
	if _, err := c.do(ctx, call{http.MethodGet, path, epListDataAttributes, nil, &ans}); err != nil {
		return nil, err
	}
	return ans.Data, nil
}

// CreateDataAttribute creates a custom data attribute (POST /data_attributes).
func (c *Client) CreateDataAttribute(ctx context.Context, body intercom.DataAttributeBody) (*intercom.DataAttribute, error) {
	var a intercom.DataAttribute
	if _, err := c.do(ctx, call{http.MethodPost, "/data_attributes", epCreateDataAttribute, body, &a}); err != nil {
		return nil, err
	}
	return &a, nil
}

// Me returns the admin and workspace the token belongs to (GET /me): a
// check of the token, with at most 2 retries, never held by the Pause (a
// refused token is an error wrapping intercom.ErrUnauthorized), and whose
// caller says itself when Intercom cannot be reached.
func (c *Client) Me(ctx context.Context) (*intercom.Me, error) {
	var me intercom.Me
	if _, err := c.do(ctx, call{http.MethodGet, "/me", epMe, nil, &me}); err != nil {
		return nil, err
	}
	return &me, nil
}

// Cached returns what earlier answers taught the client about key.
func (c *Client) Cached(key intercom.CacheKey) (intercom.Cached, bool) { return c.cache.get(key) }

// Forget drops every cache key that maps to the Intercom id.
func (c *Client) Forget(id string) { c.cache.forgetID(id) }

// learn caches the lookup keys of a contact from an answer.
func (c *Client) learn(ct *intercom.Contact) {
	if c.cache == nil || ct == nil || ct.ID == "" {
		return
	}
	switch ct.Role {
	case "lead":
		if ct.Email != "" {
			c.cache.put(intercom.LeadEmailKey(ct.Email), intercom.Cached{ID: ct.ID})
		}
	case "user":
		e := intercom.Cached{ID: ct.ID, ExternalID: ct.ExternalID}
		if ct.ExternalID != "" {
			c.cache.put(intercom.ExternalIDKey(ct.ExternalID), e)
		}
		if ct.Email != "" {
			c.cache.put(intercom.UserEmailKey(ct.Email), e)
			c.cache.forget(intercom.LeadEmailKey(ct.Email), ct.ID) // a lead that became a user
		}
	}
}
