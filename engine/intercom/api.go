package intercom

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// Contact is an Intercom contact (a user or a lead), with the fields this
// package uses.
type Contact struct {
	ID                     string         `json:"id"`
	WorkspaceID            string         `json:"workspace_id,omitempty"`
	ExternalID             string         `json:"external_id,omitempty"`
	Role                   string         `json:"role"` // "user" or "lead"
	Email                  string         `json:"email,omitempty"`
	Phone                  string         `json:"phone,omitempty"`
	Name                   string         `json:"name,omitempty"`
	Avatar                 string         `json:"avatar,omitempty"`
	OwnerID                int64          `json:"owner_id,omitempty"`
	SignedUpAt             int64          `json:"signed_up_at,omitempty"`
	LastSeenAt             int64          `json:"last_seen_at,omitempty"`
	CreatedAt              int64          `json:"created_at,omitempty"`
	UpdatedAt              int64          `json:"updated_at,omitempty"`
	UnsubscribedFromEmails bool           `json:"unsubscribed_from_emails"`
	CustomAttributes       map[string]any `json:"custom_attributes,omitempty"`
}

// Company is an Intercom company, with the fields this package uses.
type Company struct {
	ID               string         `json:"id"`         // Intercom's id
	CompanyID        string         `json:"company_id"` // yours
	Name             string         `json:"name,omitempty"`
	Website          string         `json:"website,omitempty"`
	Industry         string         `json:"industry,omitempty"`
	Size             int64          `json:"size,omitempty"`
	MonthlySpend     float64        `json:"monthly_spend,omitempty"`
	RemoteCreatedAt  int64          `json:"remote_created_at,omitempty"`
	UserCount        int            `json:"user_count,omitempty"`
	CreatedAt        int64          `json:"created_at,omitempty"`
	UpdatedAt        int64          `json:"updated_at,omitempty"`
	CustomAttributes map[string]any `json:"custom_attributes,omitempty"`
}

// Me is the admin a token belongs to and its workspace (GET /me).
type Me struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	App   App    `json:"app"`
}

// App is an Intercom workspace.
type App struct {
	IDCode string `json:"id_code"` // the workspace id
	Name   string `json:"name"`
	Region string `json:"region,omitempty"`
}

// Query is a contact search query: a field filter ({Field, Operator, Value})
// or, with Operator "AND" or "OR", a group whose Value is a []Query.
type Query struct {
	Field    string `json:"field,omitempty"`
	Operator string `json:"operator"`
	Value    any    `json:"value"`
}

// Eq is the filter field = value.
func Eq(field string, value any) Query { return Query{Field: field, Operator: "=", Value: value} }

// And is the group of queries that must all match.
func And(q ...Query) Query { return Query{Operator: "AND", Value: q} }

// Or is the group of queries of which one must match.
func Or(q ...Query) Query { return Query{Operator: "OR", Value: q} }

// searchPerPage is the page size of the searches Execute makes: it only
// needs to know whether exactly one contact matches.
const searchPerPage = 2

// maxPerPage is Intercom's largest search page, used by SearchContacts.
const maxPerPage = 150

// searchAnswer is the answer of POST /contacts/search.
type searchAnswer struct {
	Data       []Contact `json:"data"`
	TotalCount int       `json:"total_count"`
}

func contactPath(id string) string { return "/contacts/" + url.PathEscape(id) }

// CreateContact creates a contact (POST /contacts).
func (c *Client) CreateContact(ctx context.Context, body map[string]any) (*Contact, error) {
	return c.createContact(ctx, nil, body)
}

func (c *Client) createContact(ctx context.Context, tally *int, body map[string]any) (*Contact, error) {
	var ct Contact
	if _, err := c.do(ctx, call{http.MethodPost, "/contacts", epCreateContact, body, &ct, tally}); err != nil {
		return nil, err
	}
	c.learn(&ct)
	return &ct, nil
}

// GetContact retrieves a contact by its Intercom id (GET /contacts/{id}).
func (c *Client) GetContact(ctx context.Context, id string) (*Contact, error) {
	return c.getContact(ctx, nil, id)
}

func (c *Client) getContact(ctx context.Context, tally *int, id string) (*Contact, error) {
	var ct Contact
	if _, err := c.do(ctx, call{http.MethodGet, contactPath(id), epGetContact, nil, &ct, tally}); err != nil {
		return nil, err
	}
	c.learn(&ct)
	return &ct, nil
}

// UpdateContact updates the contact with Intercom id id (PUT /contacts/{id}).
func (c *Client) UpdateContact(ctx context.Context, id string, body map[string]any) (*Contact, error) {
	return c.updateContact(ctx, nil, id, body)
}

func (c *Client) updateContact(ctx context.Context, tally *int, id string, body map[string]any) (*Contact, error) {
	var ct Contact
	if _, err := c.do(ctx, call{http.MethodPut, contactPath(id), epUpdateContact, body, &ct, tally}); err != nil {
		return nil, err
	}
	c.learn(&ct)
	return &ct, nil
}

// SearchContacts returns the first page (up to 150) of the contacts
// matching query (POST /contacts/search). Intercom's search index lags
// writes by a few seconds.
func (c *Client) SearchContacts(ctx context.Context, query Query) ([]Contact, error) {
	ans, err := c.search(ctx, nil, query, maxPerPage)
	if err != nil {
		return nil, err
	}
	return ans.Data, nil
}

func (c *Client) search(ctx context.Context, tally *int, query Query, perPage int) (*searchAnswer, error) {
	body := map[string]any{"query": query, "pagination": map[string]any{"per_page": perPage}}
	var ans searchAnswer
	if _, err := c.do(ctx, call{http.MethodPost, "/contacts/search", epSearchContacts, body, &ans, tally}); err != nil {
		return nil, err
	}
	for i := range ans.Data {
		c.learn(&ans.Data[i])
	}
	return &ans, nil
}

// DeleteContact deletes the contact with Intercom id id (DELETE /contacts/{id}).
func (c *Client) DeleteContact(ctx context.Context, id string) error {
	return c.deleteContact(ctx, nil, id)
}

func (c *Client) deleteContact(ctx context.Context, tally *int, id string) error {
	rep, err := c.do(ctx, call{http.MethodDelete, contactPath(id), epDeleteContact, nil, nil, tally})
	if err != nil && !(rep.attempts > 1 && statusOf(err) == http.StatusNotFound) {
		return err
	}
	// A 404 after a retry: the first attempt deleted it.
	c.forgetID(id)
	return nil
}

// MergeContacts merges the lead leadID into the user userID
// (POST /contacts/merge) and returns the user.
func (c *Client) MergeContacts(ctx context.Context, leadID, userID string) (*Contact, error) {
	return c.mergeContacts(ctx, nil, leadID, userID)
}

func (c *Client) mergeContacts(ctx context.Context, tally *int, leadID, userID string) (*Contact, error) {
	var ct Contact
	body := map[string]any{"from": leadID, "into": userID}
	rep, err := c.do(ctx, call{http.MethodPost, "/contacts/merge", epMergeContacts, body, &ct, tally})
	switch {
	case err == nil:
		c.forgetID(leadID)
		c.learn(&ct)
		return &ct, nil
	case rep.attempts > 1 && statusOf(err) == http.StatusNotFound:
		// The lead is gone: an earlier attempt most likely merged it before
		// its answer was lost.
		c.forgetID(leadID)
		c.log.DebugContext(ctx, "intercom: merge answered 404 on a retry; taking it as done", "lead", leadID, "user", userID)
		return &Contact{ID: userID, Role: "user"}, nil
	}
	return nil, err
}

// UpsertCompany creates or updates the company with body's company_id
// (POST /companies).
func (c *Client) UpsertCompany(ctx context.Context, body map[string]any) (*Company, error) {
	return c.upsertCompany(ctx, nil, body)
}

func (c *Client) upsertCompany(ctx context.Context, tally *int, body map[string]any) (*Company, error) {
	var co Company
	if _, err := c.do(ctx, call{http.MethodPost, "/companies", epUpsertCompany, body, &co, tally}); err != nil {
		return nil, err
	}
	if co.ID == "" {
		return nil, errors.New("intercom: POST /companies: answer has no company id")
	}
	if co.CompanyID != "" {
		c.cache.put(companyKey(co.CompanyID), cacheEntry{id: co.ID})
	}
	return &co, nil
}

// AttachCompany attaches the company companyID (Intercom's id) to the
// contact contactID (POST /contacts/{id}/companies).
func (c *Client) AttachCompany(ctx context.Context, contactID, companyID string) error {
	return c.attachCompany(ctx, nil, contactID, companyID)
}

func (c *Client) attachCompany(ctx context.Context, tally *int, contactID, companyID string) error {
	body := map[string]any{"id": companyID}
	_, err := c.do(ctx, call{http.MethodPost, contactPath(contactID) + "/companies", epAttachCompany, body, nil, tally})
	return err
}

// SubmitEvent records a data event (POST /events; Intercom answers 202).
func (c *Client) SubmitEvent(ctx context.Context, body map[string]any) error {
	return c.submitEvent(ctx, nil, body)
}

func (c *Client) submitEvent(ctx context.Context, tally *int, body map[string]any) error {
	_, err := c.do(ctx, call{http.MethodPost, "/events", epSubmitEvent, body, nil, tally})
	return err
}

// Me returns the admin and workspace the token belongs to (GET /me).
func (c *Client) Me(ctx context.Context) (*Me, error) {
	var me Me
	if _, err := c.do(ctx, call{http.MethodGet, "/me", epMe, nil, &me, nil}); err != nil {
		return nil, err
	}
	return &me, nil
}

// learn caches the lookup keys of a contact from an answer.
func (c *Client) learn(ct *Contact) {
	if c.cache == nil || ct == nil || ct.ID == "" {
		return
	}
	switch ct.Role {
	case "lead":
		if ct.Email != "" {
			c.cache.put(leadKey(ct.Email), cacheEntry{id: ct.ID})
		}
	case "user":
		e := cacheEntry{id: ct.ID, ext: ct.ExternalID}
		if ct.ExternalID != "" {
			c.cache.put(extKey(ct.ExternalID), e)
		}
		if ct.Email != "" {
			c.cache.put(emailKey(ct.Email), e)
			c.cache.forget(leadKey(ct.Email), ct.ID) // a lead that became a user
		}
	}
}

// forgetID removes every cache key that maps to id.
func (c *Client) forgetID(id string) { c.cache.forgetID(id) }
