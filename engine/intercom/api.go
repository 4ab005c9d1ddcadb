// Package intercom is the Intercom REST API as this project uses it: the
// typed request and answer bodies, the API interface that actions' call
// sequences are written against, the id-cache keys, and the error types.
//
// It is pure: it declares the API and does no I/O. The REST client that
// implements API over HTTP is engine/intercom/rest; the simulator is
// engine/intercom/simulator.
package intercom

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
)

// API is the Intercom REST API: one method per endpoint, plus the id cache
// a client keeps from its answers. Implementations retry and rate-limit on
// their own; a method's error is an *APIError for an error answer.
//
// Every answer that shows a contact or company teaches the cache its keys,
// so a contact created a moment ago (not yet in Intercom's search index)
// is still found by Cached.
type API interface {
	// CreateContact creates a user or lead (POST /contacts).
	CreateContact(ctx context.Context, body ContactBody) (*Contact, error)
	// GetContact reads a contact by Intercom id (GET /contacts/{id}). From
	// 2.16 a merged contact's old id answers 410 with the contact it was
	// merged into, which implementations follow: the answer is then that
	// contact, and the cache maps the old id's keys to it.
	GetContact(ctx context.Context, id string) (*Contact, error)
	// FindContactByExternalID reads a user by external_id
	// (GET /contacts/find_by_external_id/{id}, 2.13 on: see
	// Version.FindByExternalID); unlike search it does not lag writes. A 404
	// when there is none.
	FindContactByExternalID(ctx context.Context, externalID string) (*Contact, error)
	// UnarchiveContact restores an archived contact
	// (POST /contacts/{id}/unarchive).
	UnarchiveContact(ctx context.Context, id string) error
	// UpdateContact updates a contact by Intercom id (PUT /contacts/{id}).
	UpdateContact(ctx context.Context, id string, body ContactBody) (*Contact, error)
	// SearchContacts returns the first page of contacts matching q
	// (POST /contacts/search); Intercom's index lags writes by seconds.
	SearchContacts(ctx context.Context, q Query, perPage int) (*ContactList, error)
	// MergeContacts merges a lead into a user (POST /contacts/merge) and
	// returns the user.
	MergeContacts(ctx context.Context, leadID, userID string) (*Contact, error)
	// DeleteContact deletes a contact (DELETE /contacts/{id}).
	DeleteContact(ctx context.Context, id string) error

	// UpsertCompany creates or updates the company with body.CompanyID
	// (POST /companies).
	UpsertCompany(ctx context.Context, body CompanyBody) (*Company, error)
	// FindCompany reads a company by your company_id
	// (GET /companies?company_id=).
	FindCompany(ctx context.Context, companyID string) (*Company, error)
	// AttachCompany attaches a company (Intercom's id) to a contact
	// (POST /contacts/{id}/companies).
	AttachCompany(ctx context.Context, contactID, companyID string) error
	// DetachCompany detaches a company (Intercom's id) from a contact
	// (DELETE /contacts/{id}/companies/{company_id}).
	DetachCompany(ctx context.Context, contactID, companyID string) error

	// SubmitEvent records a data event (POST /events).
	SubmitEvent(ctx context.Context, body EventBody) error

	// Tag creates the tag body.Name if needed and tags or untags the
	// contacts and companies listed (POST /tags).
	Tag(ctx context.Context, body TagBody) (*Tag, error)
	// TagContact tags one contact (POST /contacts/{id}/tags).
	TagContact(ctx context.Context, contactID, tagID string) (*Tag, error)
	// UntagContact removes a tag from a contact
	// (DELETE /contacts/{id}/tags/{tag_id}).
	UntagContact(ctx context.Context, contactID, tagID string) (*Tag, error)

	// AddNote adds a note to a contact (POST /contacts/{id}/notes).
	AddNote(ctx context.Context, contactID string, body NoteBody) (*Note, error)

	// ListDataAttributes lists the attributes of a model, "contact" or
	// "company" (GET /data_attributes?model=).
	ListDataAttributes(ctx context.Context, model string) ([]DataAttribute, error)
	// CreateDataAttribute creates a custom attribute (POST /data_attributes).
	CreateDataAttribute(ctx context.Context, body DataAttributeBody) (*DataAttribute, error)

	// Version is the API version the implementation speaks: call
	// sequences write their bodies for it.
	Version() Version

	// Cached returns what earlier answers taught about key.
	Cached(key CacheKey) (Cached, bool)
	// Forget drops every key that maps to the Intercom id (a contact or
	// company found gone).
	Forget(id string)
}

// CacheKey is how the id cache finds a contact or company.
type CacheKey string

// ExternalIDKey finds a user by external_id.
func ExternalIDKey(externalID string) CacheKey { return CacheKey("ext:" + externalID) }

// UserEmailKey finds a user by email (Intercom compares emails without case).
func UserEmailKey(email string) CacheKey { return CacheKey("email:" + lower(email)) }

// LeadEmailKey finds a lead by email; leads may share one, and the last
// learned wins.
func LeadEmailKey(email string) CacheKey { return CacheKey("lead:" + lower(email)) }

// CompanyKey finds a company by your company_id.
func CompanyKey(companyID string) CacheKey { return CacheKey("company:" + companyID) }

// Cached is what the id cache holds for a key.
type Cached struct {
	ID         string // Intercom's id
	ExternalID string // contacts: the external_id when learned, so a user found by email is not taken for another
}

// Tally counts the HTTP requests sent on behalf of one caller, retries
// included. Put one in a context with WithTally; API implementations add to
// it.
type Tally struct {
	n, undelivered atomic.Int64

	mu    sync.Mutex
	saved map[string]int
}

// Add counts n more requests.
func (t *Tally) Add(n int) { t.n.Add(int64(n)) }

// Calls returns the requests counted.
func (t *Tally) Calls() int { return int(t.n.Load()) }

// AddUndelivered counts n of the requests as never delivered: they failed
// before reaching the server (see Unreachable), so they cannot have
// changed anything.
func (t *Tally) AddUndelivered(n int) { t.undelivered.Add(int64(n)) }

// Undelivered returns the requests counted by AddUndelivered.
func (t *Tally) Undelivered() int { return int(t.undelivered.Load()) }

// AddSaved counts one call not sent because Intercom already holds what
// it would send, for reason (e.g. "unchanged_contact").
func (t *Tally) AddSaved(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.saved == nil {
		t.saved = map[string]int{}
	}
	t.saved[reason]++
}

// Saved returns the calls counted by AddSaved, by reason; nil for none.
func (t *Tally) Saved() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.saved)
}

type tallyKey struct{}

// WithTally returns a context whose requests are counted in t.
func WithTally(ctx context.Context, t *Tally) context.Context {
	return context.WithValue(ctx, tallyKey{}, t)
}

// TallyFrom returns the context's Tally, or nil.
func TallyFrom(ctx context.Context) *Tally {
	t, _ := ctx.Value(tallyKey{}).(*Tally)
	return t
}
