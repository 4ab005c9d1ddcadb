package action

import (
	"context"
	"errors"
	"fmt"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// ConvertLead is a planned convert_lead: turn a lead into the user with
// ExternalID.
type ConvertLead struct {
	ExternalID string
	LeadEmail  string // finds the lead
	LeadID     string // or Intercom's id of the lead
	Email      string // the user's email, set when the lead becomes the user
}

var convertLead = Register(Spec[ConvertLead]{
	Name:  "convert_lead",
	Title: "Convert Lead",
	Doc:   "Turn a lead into a user: merge it into the user with this external_id if one exists, else make the lead that user.",
	Calls: "find the lead (lead_id, else search role=lead by email) → find the user by external_id (`GET /contacts/find_by_external_id/{id}` from 2.13, search before) → `POST /contacts/merge`, or `PUT /contacts/{lead}` with role user",
	Fields: []FieldOf[ConvertLead]{
		StringField("external_id", func(a *ConvertLead) *string { return &a.ExternalID }).Required().Default("userId").
			Doc("the user the lead becomes"),
		StringField("lead_email", func(a *ConvertLead) *string { return &a.LeadEmail }).Lookup().Default("traits.email").Doc("finds the lead"),
		StringField("lead_id", func(a *ConvertLead) *string { return &a.LeadID }).Lookup().Doc("Intercom's id of the lead; skips the search"),
		StringField("email", func(a *ConvertLead) *string { return &a.Email }).Default("traits.email").
			Doc("the user's email, set when the lead becomes the user"),
	},
	Finish: func(a *ConvertLead, _ func(string)) error {
		if a.LeadID == "" && a.LeadEmail == "" {
			return errors.New("needs lead_id or lead_email to find the lead, and both are missing")
		}
		return nil
	},
	// Routed by the user it becomes; it waits for the lead's identify.
	Contact: func(a *ConvertLead) Contact {
		email := a.LeadEmail
		if email == "" {
			email = a.Email
		}
		return Contact{ExternalID: a.ExternalID, Email: email, ID: a.LeadID}
	},
	Identifies: true,
	Run:        runConvertLead,
})

// runConvertLead turns a lead into the user with the action's external_id:
// merged into that user if one exists, else made that user.
func runConvertLead(ctx context.Context, c *Call, a *ConvertLead) error {
	ext := a.ExternalID
	if ext == "" {
		return errors.New("needs the external_id of the user the lead becomes")
	}
	leadID, leadSrc, err := c.findLead(ctx, a.LeadID, a.LeadEmail)
	if err != nil {
		return err
	}
	userID, userSrc := "", fromSearch
	if e, ok := c.cached(intercom.ExternalIDKey(ext)); ok {
		userID, userSrc = e.ID, fromCache
	}
	if userID == "" {
		if userID, err = c.findUserByExternalID(ctx, ext); err != nil {
			return err
		}
	}
	if userID == leadID {
		userID = "" // the lead was already made this user (an earlier attempt)
	}
	if userID != "" {
		return merge(ctx, c, leadID, leadSrc, userID, userSrc)
	}

	ct, err := c.API.UpdateContact(ctx, leadID, intercom.ContactBody{Role: "user", ExternalID: ext, Email: a.Email})
	if cid := intercom.ConflictID(err); cid != "" && cid != leadID {
		// The user exists but search did not show it yet: merge into it if it
		// is the user with this external_id.
		u, gerr := c.API.GetContact(ctx, cid)
		if gerr != nil {
			return fmt.Errorf("promote lead %s: %w; read contact %s: %w", leadID, err, cid, gerr)
		}
		if u.Role != "user" || u.ExternalID != ext {
			return fmt.Errorf("promote lead %s: %w", leadID, err)
		}
		return merge(ctx, c, leadID, leadSrc, cid, fromSearch)
	}
	if err != nil {
		err = fmt.Errorf("promote lead %s: %w", leadID, err)
		switch {
		case intercom.StatusOf(err) != intercom.StatusNotFound:
			return err
		case leadSrc == fromCache:
			return stale(err, leadSrc, leadID)
		}
		return fmt.Errorf("%w: %w", notFound("", "lead_id", a.LeadID, "lead_email", a.LeadEmail), err)
	}
	c.Result.ContactID = ct.ID
	return nil
}

func merge(ctx context.Context, c *Call, leadID string, leadSrc source, userID string, userSrc source) error {
	ct, err := c.API.MergeContacts(ctx, leadID, userID)
	if err != nil {
		err = fmt.Errorf("merge lead %s into user %s: %w", leadID, userID, err)
		if intercom.StatusOf(err) == intercom.StatusNotFound {
			switch {
			case leadSrc == fromCache:
				return stale(err, leadSrc, leadID)
			case userSrc == fromCache:
				return stale(err, userSrc, userID)
			}
			return fmt.Errorf("%w: %w", notFound("", "lead_id", leadID, "user", userID), err)
		}
		return err
	}
	c.Result.ContactID = ct.ID
	return nil
}
