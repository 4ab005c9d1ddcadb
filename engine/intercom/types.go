package intercom

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Request bodies list their fields in alphabetical order of the JSON
// names, so a body's bytes depend only on what is set: golden transcripts
// and the digests of bodies sent (engine/internal/suppress) compare bodies
// byte for byte.

// ContactBody is the body of POST /contacts and PUT /contacts/{id}. Empty
// fields are left out; nil pointers too.
type ContactBody struct {
	Avatar                 string   `json:"avatar,omitempty"`
	CustomAttributes       Object   `json:"custom_attributes,omitempty"`
	Email                  string   `json:"email,omitempty"`
	EmailVerified          *bool    `json:"email_verified,omitempty"` // 2.16 on, with an email
	ExternalID             string   `json:"external_id,omitempty"`
	LastSeenAt             *int64   `json:"last_seen_at,omitempty"`
	Name                   string   `json:"name,omitempty"`
	OwnerID                *AdminID `json:"owner_id,omitempty"`
	Phone                  string   `json:"phone,omitempty"`
	Role                   string   `json:"role,omitempty"` // "user" or "lead"
	SignedUpAt             *int64   `json:"signed_up_at,omitempty"`
	UnsubscribedFromEmails *bool    `json:"unsubscribed_from_emails,omitempty"`
}

// AdminID is an admin's id in a request body, such as a contact's
// owner_id: a JSON string from 2.16 on (AsString), an integer before
// (see Version.OwnerIDString).
type AdminID struct {
	ID       int64
	AsString bool
}

// MarshalJSON writes the id as a string or a number, as AsString says.
func (a AdminID) MarshalJSON() ([]byte, error) {
	n := strconv.FormatInt(a.ID, 10)
	if a.AsString {
		return []byte(strconv.Quote(n)), nil
	}
	return []byte(n), nil
}

// FlexID is an id Intercom answers as a JSON string (2.16 on) or as a
// number (before); it decodes from either, to its decimal text.
type FlexID string

// UnmarshalJSON takes a string, a number or null.
func (f *FlexID) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*f = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want an id as a string or a number, not %s", b)
	}
	*f = FlexID(n)
	return nil
}

// CompanyBody is the body of POST /companies.
type CompanyBody struct {
	CompanyID        string      `json:"company_id"`
	CustomAttributes Object      `json:"custom_attributes,omitempty"`
	Industry         string      `json:"industry,omitempty"`
	MonthlySpend     json.Number `json:"monthly_spend,omitempty"`
	Name             string      `json:"name,omitempty"`
	Plan             string      `json:"plan,omitempty"`
	RemoteCreatedAt  *int64      `json:"remote_created_at,omitempty"`
	Size             *int64      `json:"size,omitempty"`
	Website          string      `json:"website,omitempty"`
}

// Merge sets in b every field src sets, as two upserts of the company one
// after the other leave it: src's values win field by field, custom
// attributes key by key. b's custom attributes are copied, not changed in
// place, so a body b was copied from keeps its own.
func (b *CompanyBody) Merge(src CompanyBody) {
	set := func(d *string, s string) {
		if s != "" {
			*d = s
		}
	}
	set(&b.Name, src.Name)
	set(&b.Plan, src.Plan)
	set(&b.Website, src.Website)
	set(&b.Industry, src.Industry)
	if src.MonthlySpend != "" {
		b.MonthlySpend = src.MonthlySpend
	}
	if src.RemoteCreatedAt != nil {
		b.RemoteCreatedAt = src.RemoteCreatedAt
	}
	if src.Size != nil {
		b.Size = src.Size
	}
	if len(src.CustomAttributes) > 0 {
		merged := make(Object, len(b.CustomAttributes), len(b.CustomAttributes)+len(src.CustomAttributes))
		copy(merged, b.CustomAttributes)
		for _, m := range src.CustomAttributes {
			merged.Set(m.Key, m.Raw)
		}
		b.CustomAttributes = merged
	}
}

// EventBody is the body of POST /events: the contact is named by ID,
// UserID or Email.
type EventBody struct {
	CreatedAt int64  `json:"created_at"`
	Email     string `json:"email,omitempty"`
	EventName string `json:"event_name"`
	ID        string `json:"id,omitempty"`
	Metadata  Object `json:"metadata,omitempty"`
	UserID    string `json:"user_id,omitempty"`
}

// TagBody is the body of POST /tags: the tag's name and what to tag or
// untag with it.
type TagBody struct {
	Companies []TagTarget `json:"companies,omitempty"`
	Name      string      `json:"name"`
	Users     []TagTarget `json:"users,omitempty"`
}

// TagTarget is one contact or company in a TagBody.
type TagTarget struct {
	CompanyID string `json:"company_id,omitempty"` // companies: your company_id, instead of ID
	ID        string `json:"id,omitempty"`         // Intercom's id
	Untag     bool   `json:"untag,omitempty"`      // remove the tag instead
}

// NoteBody is the body of POST /contacts/{id}/notes.
type NoteBody struct {
	AdminID string `json:"admin_id,omitempty"` // the author; Intercom's admin id
	Body    string `json:"body"`               // the note's text (HTML allowed)
}

// DataAttributeBody is the body of POST /data_attributes.
type DataAttributeBody struct {
	DataType string `json:"data_type"` // string, integer, float, boolean, date or datetime
	Model    string `json:"model"`     // contact or company
	Name     string `json:"name"`
}

// Contact is an Intercom contact (a user or a lead), with the fields this
// project uses.
type Contact struct {
	ID                     string         `json:"id"`
	WorkspaceID            string         `json:"workspace_id,omitempty"`
	ExternalID             string         `json:"external_id,omitempty"`
	Role                   string         `json:"role"` // "user" or "lead"
	Email                  string         `json:"email,omitempty"`
	Phone                  string         `json:"phone,omitempty"`
	Name                   string         `json:"name,omitempty"`
	Avatar                 string         `json:"avatar,omitempty"`
	OwnerID                FlexID         `json:"owner_id,omitempty"` // a string from 2.16, a number before
	SignedUpAt             int64          `json:"signed_up_at,omitempty"`
	LastSeenAt             int64          `json:"last_seen_at,omitempty"`
	CreatedAt              int64          `json:"created_at,omitempty"`
	UpdatedAt              int64          `json:"updated_at,omitempty"`
	UnsubscribedFromEmails bool           `json:"unsubscribed_from_emails"`
	CustomAttributes       map[string]any `json:"custom_attributes,omitempty"`
	// Companies lists (the first of) the companies the contact is
	// attached to, by Intercom id.
	Companies *CompanyRefs `json:"companies,omitempty"`
}

// CompanyRefs is the list of a contact's companies in its answer.
type CompanyRefs struct {
	Data []struct {
		ID string `json:"id"`
	} `json:"data"`
}

// ContactList is a page of a contact search.
type ContactList struct {
	Data       []Contact `json:"data"`
	TotalCount int       `json:"total_count"`
}

// Company is an Intercom company, with the fields this project uses.
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

// Tag is an Intercom tag.
type Tag struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Note is a note on a contact.
type Note struct {
	ID        string `json:"id"`
	Body      string `json:"body"`
	CreatedAt int64  `json:"created_at,omitempty"`
}

// DataAttribute is one attribute of contacts or companies.
type DataAttribute struct {
	Name     string `json:"name"`
	FullName string `json:"full_name,omitempty"` // e.g. custom_attributes.plan
	Model    string `json:"model"`
	DataType string `json:"data_type"`
	Custom   bool   `json:"custom"`
	Archived bool   `json:"archived,omitempty"`
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
