package action

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// IdentifyContact is a planned identify_contact: create or update a user
// or a lead.
type IdentifyContact struct {
	Role                   string // "user" or "lead"
	ExternalID             string
	Email                  string
	Phone                  string
	Name                   string
	Avatar                 string
	SignedUpAt             *int64 // Unix seconds
	LastSeenAt             *int64 // Unix seconds
	OwnerID                *int64
	EmailVerified          *bool // 2.16 on, with an email
	UnsubscribedFromEmails *bool
	CustomAttributes       intercom.Object
}

var identifyContact = Register(Spec[IdentifyContact]{
	Name:    "identify_contact",
	Title:   "Identify Contact",
	Trigger: `type == "identify"`,
	Doc:     "Create or update a contact: a user, or a lead (a visitor who gave an email).",
	Calls:   "users: a cached id → `PUT /contacts/{id}`; else `POST /contacts` first (1 call for a new user; an existing one answers 409 with its id → `PUT`, after a `GET` that checks its external_id when the identify has both an external_id and an email; an archived one answers 409 too → `POST /contacts/{id}/unarchive`, then as an existing one, unless `--archived-contacts dead-letter`). Leads: cached id, else one search by email among leads → `PUT`, or `POST`. A cached id that answers 404 is looked up again; from 2.16 a `GET /contacts/{id}` first tells a merged contact (410 with the contact it went into: that one is updated)",
	Fields: []FieldOf[IdentifyContact]{
		EnumField("role", func(a *IdentifyContact) *string { return &a.Role }, "user", "lead").Required().
			Doc("`user`, or `lead` for contacts who are not signed up; set it with `{value: user}`"),
		StringField("external_id", func(a *IdentifyContact) *string { return &a.ExternalID }).Default("userId").
			Doc("your user id; users only (dropped with a warning for leads)"),
		StringField("email", func(a *IdentifyContact) *string { return &a.Email }).Default("traits.email").
			Doc("a user needs an email or an external_id"),
		StringField("phone", func(a *IdentifyContact) *string { return &a.Phone }).Default("traits.phone"),
		StringField("name", func(a *IdentifyContact) *string { return &a.Name }).Default("traits.name"),
		StringField("avatar", func(a *IdentifyContact) *string { return &a.Avatar }).Default("traits.avatar").Doc("image URL"),
		DatetimeField("signed_up_at", func(a *IdentifyContact) **int64 { return &a.SignedUpAt }).Doc("when the user signed up"),
		DatetimeField("last_seen_at", func(a *IdentifyContact) **int64 { return &a.LastSeenAt }).Default("timestamp"),
		IntegerField("owner_id", func(a *IdentifyContact) **int64 { return &a.OwnerID }).
			Doc("id of the admin who owns the contact; sent as a string from Intercom-Version 2.16, a number before"),
		BooleanField("email_verified", func(a *IdentifyContact) **bool { return &a.EmailVerified }).
			Doc("you verified the contact owns the email (Intercom-Version 2.16 on; left out with a warning before, and without an email)"),
		BooleanField("unsubscribed_from_emails", func(a *IdentifyContact) **bool { return &a.UnsubscribedFromEmails }),
		AttributesField("custom_attributes", func(a *IdentifyContact) *intercom.Object { return &a.CustomAttributes }).
			Doc("flat object; Intercom refuses the whole call for one the workspace lacks, unless `send --custom-attributes create` (or `existing`)"),
	},
	Finish:     finishIdentifyContact,
	Contact:    func(a *IdentifyContact) Contact { return Contact{ExternalID: a.ExternalID, Email: a.Email} },
	Identifies: true,
	Run:        runIdentifyContact,
})

func finishIdentifyContact(a *IdentifyContact, warn func(string)) error {
	if a.EmailVerified != nil && a.Email == "" {
		warn("email_verified: left out: Intercom takes it only with an email in the same request")
		a.EmailVerified = nil
	}
	if a.Role == "lead" {
		if a.ExternalID != "" {
			warn(fmt.Sprintf("external_id: left out: leads cannot have one (was %q)", a.ExternalID))
			a.ExternalID = ""
		}
		return nil
	}
	if a.ExternalID == "" && a.Email == "" {
		return errors.New("a user needs an external_id or an email, and both are missing")
	}
	return nil
}

// body is the contact's request body as version v takes it: owner_id a
// string from 2.16, a number before; email_verified only from 2.16 (before,
// it is left out with a warning through warn).
func (a *IdentifyContact) body(v intercom.Version, warn func(string)) intercom.ContactBody {
	b := intercom.ContactBody{
		Role: a.Role, ExternalID: a.ExternalID, Email: a.Email, Phone: a.Phone, Name: a.Name,
		Avatar: a.Avatar, SignedUpAt: a.SignedUpAt, LastSeenAt: a.LastSeenAt,
		UnsubscribedFromEmails: a.UnsubscribedFromEmails, CustomAttributes: a.CustomAttributes,
	}
	if a.OwnerID != nil {
		b.OwnerID = &intercom.AdminID{ID: *a.OwnerID, AsString: v.OwnerIDString()}
	}
	if a.EmailVerified != nil {
		if v.EmailVerified() {
			b.EmailVerified = a.EmailVerified
		} else {
			warn(fmt.Sprintf("email_verified: left out: Intercom-Version %s does not take it (2.16 does)", v))
		}
	}
	return b
}

// runIdentifyContact creates or updates a user or a lead.
//
// A user the cache knows is updated (PUT). Any other user is created
// first (POST): a new user, the common case, costs one call. When the user
// exists, Intercom's 409 names it and it is updated instead. Users are
// only ever matched among users, so a lead that shares the email is never
// turned into a user by identify (convert_lead does that on purpose).
func runIdentifyContact(ctx context.Context, c *Call, a *IdentifyContact) error {
	body := a.body(c.API.Version(), c.warner(ctx))
	if body.Role == "" {
		body.Role = "user"
	}
	var err error
	if body.CustomAttributes, err = c.customAttributes(ctx, "contact", body.CustomAttributes); err != nil {
		return err
	}
	switch body.Role {
	case "lead":
		body.ExternalID = "" // leads cannot have one
		return upsertLead(ctx, c, body)
	case "user":
	default:
		return fmt.Errorf("role %q: want user or lead", body.Role)
	}
	ext, email := a.ExternalID, a.Email
	if ext == "" && email == "" {
		return errors.New("a user needs an external_id or an email")
	}
	if id, src := c.cachedUser(ext, email); id != "" {
		if done, err := c.updateFound(ctx, id, src, body); done {
			return err
		}
	}
	ct, err := c.API.CreateContact(ctx, body)
	if aid := intercom.ArchivedConflictID(err); aid != "" {
		if err := c.unarchive(ctx, aid, err); err != nil {
			return err
		}
		return resolveConflict(ctx, c, aid, ext, email, body, err)
	}
	if cid := intercom.ConflictID(err); cid != "" {
		return resolveConflict(ctx, c, cid, ext, email, body, err)
	}
	if intercom.StatusOf(err) == intercom.StatusConflict {
		return awaitConflict(ctx, c, ext, email, body, err)
	}
	if err != nil {
		return fmt.Errorf("create contact: %w", err)
	}
	c.Result.ContactID = ct.ID
	return nil
}

// awaitConflict handles a 409 on create that names no contact: the user
// exists, but Intercom's search index does not show it yet. It searches
// again after waiting (c.indexWait, doubling, c.indexTries times) and
// updates the user once search shows it, instead of failing at once.
func awaitConflict(ctx context.Context, c *Call, ext, email string, body intercom.ContactBody, conflict error) error {
	wait, waited := c.indexWait, time.Duration(0)
	for range c.indexTries {
		c.log.DebugContext(ctx, "intercom: conflict names no contact; waiting for the search index", "wait", wait)
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("create contact: %w; waiting for the search index: %w", conflict, err)
		}
		waited += wait
		wait *= 2
		found, err := c.searchUser(ctx, ext, email)
		if err != nil {
			return fmt.Errorf("create contact: %w; then %w", conflict, err)
		}
		if found != nil {
			ct, err := c.API.UpdateContact(ctx, found.ID, body)
			if err != nil {
				return fmt.Errorf("update contact %s after a conflict: %w", found.ID, err)
			}
			c.Result.ContactID = ct.ID
			return nil
		}
	}
	return fmt.Errorf("create contact: %w (and search did not show the contact within %s)", conflict, waited)
}

// resolveConflict handles a 409 on create: the user exists (an earlier
// attempt of the create succeeded before its answer was lost, another
// process created it, or it simply is an existing user), so it is updated
// instead. With both an external_id and an email, the user the 409 names
// may be the one with the email and another external_id: it is read first,
// and only updated if it has no external_id or the same one (updating it
// would re-key another user). With one of them, the 409 can only name the
// user that has it.
func resolveConflict(ctx context.Context, c *Call, id, ext, email string, body intercom.ContactBody, conflict error) error {
	if ext != "" && email != "" {
		ct, err := c.API.GetContact(ctx, id)
		if err != nil {
			return fmt.Errorf("create contact: %w; read contact %s: %w", conflict, id, err)
		}
		if ct.ExternalID != "" && ct.ExternalID != ext {
			return fmt.Errorf("create contact: %w (it is the user with this email and external_id %q, not %q)", conflict, ct.ExternalID, ext)
		}
	}
	c.log.DebugContext(ctx, "intercom: contact exists; updating it", "contact", id)
	ct, err := c.API.UpdateContact(ctx, id, body)
	if err != nil {
		return fmt.Errorf("update contact %s after a conflict: %w", id, err)
	}
	c.Result.ContactID = ct.ID
	return nil
}

// upsertLead creates or updates a lead, found by email among leads (the
// oldest when several share it). A lead without an email is always created.
func upsertLead(ctx context.Context, c *Call, body intercom.ContactBody) error {
	email := body.Email
	id, src := "", fromSearch
	if email != "" {
		if e, ok := c.cached(intercom.LeadEmailKey(email)); ok {
			id, src = e.ID, fromCache
		}
	}
	if email != "" && id == "" {
		ans, err := c.API.SearchContacts(ctx, intercom.And(intercom.Eq("email", email), intercom.Eq("role", "lead")), searchPerPage)
		if err != nil {
			return fmt.Errorf("search contacts: %w", err)
		}
		if len(ans.Data) > 0 {
			id = ans.Data[0].ID
			if ans.TotalCount > 1 {
				c.log.DebugContext(ctx, "intercom: several leads share an email; updating the first", "contact", id, "count", ans.TotalCount)
			}
		}
	}
	if id != "" {
		if done, err := c.updateFound(ctx, id, src, body); done {
			return err
		}
	}
	ct, err := c.API.CreateContact(ctx, body)
	if err != nil {
		return fmt.Errorf("create contact: %w", err)
	}
	c.Result.ContactID = ct.ID
	return nil
}
