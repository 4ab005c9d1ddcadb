package intercom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/rules"
)

// Result is what executing one action did.
type Result struct {
	Calls     int    // HTTP requests sent for the action, retries included
	ContactID string // Intercom id of the contact acted on, when known
	CompanyID string // Intercom id of the company (identify_company)
}

// The body fields of each action; the others are lookup fields.
var (
	contactFields = []string{
		"role", "external_id", "email", "phone", "name", "avatar", "signed_up_at",
		"last_seen_at", "owner_id", "unsubscribed_from_emails", "custom_attributes",
	}
	companyFields = []string{
		"company_id", "name", "remote_created_at", "monthly_spend", "plan", "size",
		"website", "industry", "custom_attributes",
	}
	eventFields = []string{"event_name", "created_at", "metadata"}
)

// source says where a contact id came from.
type source int

const (
	fromAction source = iota // given in the action
	fromCache
	fromSearch
)

// staleCache is a 404 for an id the cache gave: the contact is gone (deleted
// or merged), so the action is run again without the cache.
type staleCache struct {
	id  string
	err error
}

func (e *staleCache) Error() string { return e.err.Error() }
func (e *staleCache) Unwrap() error { return e.err }

// run is one execution of an action.
type run struct {
	c        *Client
	a        *engine.Action
	res      *Result
	useCache bool
}

// Execute runs one planned action as its sequence of Intercom calls:
//
//   - identify_contact: find the contact (cache by external_id, then email;
//     else one search) → PUT /contacts/{id}, or POST /contacts. A 409 on
//     create names the existing contact, which is then updated (after a GET
//     that checks it has no other external_id). Users are looked up among
//     users only and leads among leads, so identify never turns a lead into
//     a user by accident; convert_lead does that.
//   - identify_company: POST /companies → find the contact (contact_id, else
//     cache or search by external_id, then email) → POST /contacts/{id}/companies.
//   - track_event: POST /events by id or user_id as given; with only an
//     email, the contact is found first and the event sent with its id.
//   - convert_lead: find the lead and the user → POST /contacts/merge, or
//     PUT /contacts/{lead} with role user when there is no such user.
//
// Ids learned from every answer are cached, so a repeat identify costs one
// call and a contact created moments ago (not yet in Intercom's search
// index) is still found. A contact that must exist but is not found gives an
// error wrapping ErrContactNotFound; API errors are *APIError in the chain.
func (c *Client) Execute(ctx context.Context, a engine.Action) (Result, error) {
	var res Result
	r := &run{c: c, a: &a, res: &res, useCache: c.cache != nil}
	err := r.do(ctx)
	var stale *staleCache
	if errors.As(err, &stale) {
		c.log.DebugContext(ctx, "intercom: cached contact id is gone; looking it up again",
			"action", a.Action, "rule", a.Rule, "contact", stale.id)
		c.forgetID(stale.id)
		r.useCache = false
		res.ContactID, res.CompanyID = "", ""
		err = r.do(ctx)
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", a.Action, err)
	}
	return res, nil
}

func (r *run) do(ctx context.Context) error {
	switch r.a.Action {
	case rules.IdentifyContact:
		return r.identifyContact(ctx)
	case rules.IdentifyCompany:
		return r.identifyCompany(ctx)
	case rules.TrackEvent:
		return r.trackEvent(ctx)
	case rules.ConvertLead:
		return r.convertLead(ctx)
	}
	return fmt.Errorf("unknown action %q", r.a.Action)
}

// tally counts the calls of this action.
func (r *run) tally() *int { return &r.res.Calls }

// stale wraps a 404 for an id that came from the cache as *staleCache.
func (r *run) stale(err error, src source, id string) error {
	if src == fromCache && statusOf(err) == http.StatusNotFound {
		return &staleCache{id: id, err: err}
	}
	return err
}

// pick copies the fields of a that are in keys.
func pick(a *engine.Action, keys []string) map[string]any {
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		if v, ok := a.Fields[k]; ok && v != nil {
			out[k] = v
		}
	}
	return out
}

// identifyContact creates or updates a user or a lead.
//
// Users are found by external_id, then by email among users only: a lead that
// shares the email is never turned into a user by identify (convert_lead
// does that on purpose). A user found by email that has another external_id
// is not updated (that would re-key it): the action fails with a conflict.
func (r *run) identifyContact(ctx context.Context) error {
	body := pick(r.a, contactFields)
	role := r.a.Str("role")
	if role == "" {
		role = "user"
		body["role"] = role
	}
	ext, email := r.a.Str("external_id"), r.a.Str("email")
	switch role {
	case "lead":
		delete(body, "external_id") // leads cannot have one
		return r.identifyLead(ctx, body, email)
	case "user":
	default:
		return fmt.Errorf("role %q: want user or lead", role)
	}
	if ext == "" && email == "" {
		return errors.New("a user needs an external_id or an email")
	}

	id, src := r.cachedUser(ext, email)
	if id == "" {
		found, err := r.searchUser(ctx, ext, email)
		if err != nil {
			return err
		}
		if found != nil {
			id, src = found.ID, fromSearch
		}
	}
	if id != "" {
		if done, err := r.update(ctx, id, src, body); done {
			return err
		}
	}
	ct, err := r.c.createContact(ctx, r.tally(), body)
	if cid := conflictID(err); cid != "" {
		return r.resolveConflict(ctx, cid, ext, body, err)
	}
	if err != nil {
		return fmt.Errorf("create contact: %w", err)
	}
	r.res.ContactID = ct.ID
	return nil
}

// cachedUser finds a user in the cache by external_id, then by email.
// update sends body to the contact id that src found. done is false when
// search still shows a contact that is gone (a 404): the caller creates it
// anew.
func (r *run) update(ctx context.Context, id string, src source, body map[string]any) (done bool, err error) {
	ct, err := r.c.updateContact(ctx, r.tally(), id, body)
	switch {
	case err == nil:
		r.res.ContactID = ct.ID
		return true, nil
	case src == fromCache:
		return true, r.stale(fmt.Errorf("update contact %s: %w", id, err), src, id)
	case statusOf(err) != http.StatusNotFound:
		return true, fmt.Errorf("update contact %s: %w", id, err)
	}
	return false, nil
}

func (r *run) cachedUser(ext, email string) (string, source) {
	if !r.useCache {
		return "", fromSearch
	}
	if ext != "" {
		if e, ok := r.c.cache.get(extKey(ext)); ok {
			return e.id, fromCache
		}
	}
	if email != "" {
		if e, ok := r.c.cache.get(emailKey(email)); ok && (ext == "" || e.ext == "" || e.ext == ext) {
			return e.id, fromCache
		}
	}
	return "", fromSearch
}

// searchUser finds a user by external_id or email with one search; nil when
// there is none.
func (r *run) searchUser(ctx context.Context, ext, email string) (*Contact, error) {
	byEmail := And(Eq("email", email), Eq("role", "user"))
	var q Query
	switch {
	case ext != "" && email != "":
		q = Or(Eq("external_id", ext), byEmail)
	case ext != "":
		q = Eq("external_id", ext)
	default:
		q = byEmail
	}
	ans, err := r.c.search(ctx, r.tally(), q, searchPerPage)
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

// resolveConflict handles a 409 on create: the contact exists (an earlier
// attempt of the create succeeded before its answer was lost, or search has
// not caught up with a recent create), so it is updated instead. When the
// identify has an external_id the existing contact is read first, and only
// updated if it has no external_id or the same one.
func (r *run) resolveConflict(ctx context.Context, id, ext string, body map[string]any, conflict error) error {
	if ext != "" {
		ct, err := r.c.getContact(ctx, r.tally(), id)
		if err != nil {
			return fmt.Errorf("create contact: %w; read contact %s: %w", conflict, id, err)
		}
		if ct.ExternalID != "" && ct.ExternalID != ext {
			return fmt.Errorf("create contact: %w (its external_id is not %q)", conflict, ext)
		}
	}
	r.c.log.DebugContext(ctx, "intercom: contact exists; updating it", "contact", id)
	ct, err := r.c.updateContact(ctx, r.tally(), id, body)
	if err != nil {
		return fmt.Errorf("update contact %s after a conflict: %w", id, err)
	}
	r.res.ContactID = ct.ID
	return nil
}

// identifyLead creates or updates a lead, found by email among leads (the
// oldest when several share it). A lead without an email is always created.
func (r *run) identifyLead(ctx context.Context, body map[string]any, email string) error {
	id, src := "", fromSearch
	if email != "" && r.useCache {
		if e, ok := r.c.cache.get(leadKey(email)); ok {
			id, src = e.id, fromCache
		}
	}
	if email != "" && id == "" {
		ans, err := r.c.search(ctx, r.tally(), And(Eq("email", email), Eq("role", "lead")), searchPerPage)
		if err != nil {
			return fmt.Errorf("search contacts: %w", err)
		}
		if len(ans.Data) > 0 {
			id = ans.Data[0].ID
			if ans.TotalCount > 1 {
				r.c.log.DebugContext(ctx, "intercom: several leads share an email; updating the first", "contact", id, "count", ans.TotalCount)
			}
		}
	}
	if id != "" {
		if done, err := r.update(ctx, id, src, body); done {
			return err
		}
	}
	ct, err := r.c.createContact(ctx, r.tally(), body)
	if err != nil {
		return fmt.Errorf("create contact: %w", err)
	}
	r.res.ContactID = ct.ID
	return nil
}

// identifyCompany upserts the company, then attaches the contact, if any
// is named. Running it again is harmless: POST /companies upserts and
// attaching twice changes nothing.
func (r *run) identifyCompany(ctx context.Context) error {
	body := pick(r.a, companyFields)
	// Group calls repeat the same traits often (analytics.js sends one per
	// page load), and a group retried after its contact's identify has
	// already saved the company: skip an upsert identical to the last one.
	key, sum := companyKey(r.a.Str("company_id")), digest(body)
	companyID, companySrc := "", fromSearch
	if e, ok := r.c.cache.get(key); ok && r.useCache && sum != "" && e.sum == sum {
		companyID, companySrc = e.id, fromCache
	} else {
		co, err := r.c.upsertCompany(ctx, r.tally(), body)
		if err != nil {
			return fmt.Errorf("upsert company: %w", err)
		}
		companyID = co.ID
		r.c.cache.put(key, cacheEntry{id: co.ID, sum: sum})
	}
	r.res.CompanyID = companyID
	contactID, ext, email := r.a.Str("contact_id"), r.a.Str("external_id"), r.a.Str("email")
	if contactID == "" && ext == "" && email == "" {
		return nil // the company alone
	}
	id, src, err := r.findContact(ctx, contactID, ext, email)
	if err != nil {
		return err
	}
	r.res.ContactID = id
	err = r.c.attachCompany(ctx, r.tally(), id, companyID)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("attach company to contact %s: %w", id, err)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && strings.Contains(ae.Message, "Company") {
		return r.stale(err, companySrc, companyID) // the company is gone: upsert it again
	}
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		if src == fromCache {
			return r.stale(err, src, id)
		}
		return fmt.Errorf("%w: %w", notFound("", "contact_id", contactID, "external_id", ext, "email", email), err)
	}
	return err
}

// findContact finds a user or lead: by contact id as given, else (cache,
// then search) by external_id, then by email. A search must find exactly one
// contact; of several sharing an email, the user is taken if one is seen.
func (r *run) findContact(ctx context.Context, contactID, ext, email string) (string, source, error) {
	if contactID != "" {
		return contactID, fromAction, nil
	}
	if r.useCache {
		if ext != "" {
			if e, ok := r.c.cache.get(extKey(ext)); ok {
				return e.id, fromCache, nil
			}
		}
		if email != "" {
			if e, ok := r.c.cache.get(emailKey(email)); ok && (ext == "" || e.ext == "" || e.ext == ext) {
				return e.id, fromCache, nil
			}
			if e, ok := r.c.cache.get(leadKey(email)); ok {
				return e.id, fromCache, nil
			}
		}
	}
	if ext != "" {
		ans, err := r.c.search(ctx, r.tally(), Eq("external_id", ext), searchPerPage)
		if err != nil {
			return "", fromSearch, fmt.Errorf("search contacts: %w", err)
		}
		if len(ans.Data) == 1 && ans.TotalCount == 1 {
			return ans.Data[0].ID, fromSearch, nil
		}
	}
	var detail string
	if email != "" {
		ans, err := r.c.search(ctx, r.tally(), Eq("email", email), searchPerPage)
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
	return "", fromSearch, notFound(detail, "external_id", ext, "email", email)
}

// trackEvent submits a data event: by id or user_id as given (one call), or
// with only an email, by the id of the contact found with it.
func (r *run) trackEvent(ctx context.Context) error {
	body := pick(r.a, eventFields)
	id, userID, email := r.a.Str("id"), r.a.Str("user_id"), r.a.Str("email")
	src := fromAction
	switch {
	case id != "":
		body["id"] = id
	case userID != "":
		body["user_id"] = userID
	case email != "":
		var err error
		if id, src, err = r.findContact(ctx, "", "", email); err != nil {
			return err
		}
		body["id"] = id
	default:
		return errors.New("needs user_id, email or id to find the contact")
	}
	r.res.ContactID = id
	err := r.c.submitEvent(ctx, r.tally(), body)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("submit event: %w", err)
	if statusOf(err) == http.StatusNotFound {
		if src == fromCache {
			return r.stale(err, src, id)
		}
		return fmt.Errorf("%w: %w", notFound("", "id", id, "user_id", userID, "email", email), err)
	}
	return err
}

// convertLead turns a lead into the user with the action's external_id:
// merged into that user if one exists, else made that user.
func (r *run) convertLead(ctx context.Context) error {
	ext, email := r.a.Str("external_id"), r.a.Str("email")
	if ext == "" {
		return errors.New("needs the external_id of the user the lead becomes")
	}
	leadID, leadSrc, err := r.findLead(ctx, r.a.Str("lead_id"), r.a.Str("lead_email"))
	if err != nil {
		return err
	}
	userID, userSrc := "", fromSearch
	if r.useCache {
		if e, ok := r.c.cache.get(extKey(ext)); ok {
			userID, userSrc = e.id, fromCache
		}
	}
	if userID == "" {
		ans, err := r.c.search(ctx, r.tally(), Eq("external_id", ext), searchPerPage)
		if err != nil {
			return fmt.Errorf("search contacts: %w", err)
		}
		if len(ans.Data) == 1 && ans.Data[0].Role == "user" {
			userID = ans.Data[0].ID
		}
	}
	if userID == leadID {
		userID = "" // the lead was already made this user (an earlier attempt)
	}
	if userID != "" {
		return r.merge(ctx, leadID, leadSrc, userID, userSrc)
	}

	body := map[string]any{"role": "user", "external_id": ext}
	if email != "" {
		body["email"] = email
	}
	ct, err := r.c.updateContact(ctx, r.tally(), leadID, body)
	if cid := conflictID(err); cid != "" && cid != leadID {
		// The user exists but search did not show it yet: merge into it if it
		// is the user with this external_id.
		u, gerr := r.c.getContact(ctx, r.tally(), cid)
		if gerr != nil {
			return fmt.Errorf("promote lead %s: %w; read contact %s: %w", leadID, err, cid, gerr)
		}
		if u.Role != "user" || u.ExternalID != ext {
			return fmt.Errorf("promote lead %s: %w", leadID, err)
		}
		return r.merge(ctx, leadID, leadSrc, cid, fromSearch)
	}
	if err != nil {
		err = fmt.Errorf("promote lead %s: %w", leadID, err)
		switch {
		case statusOf(err) != http.StatusNotFound:
			return err
		case leadSrc == fromCache:
			return r.stale(err, leadSrc, leadID)
		}
		return fmt.Errorf("%w: %w", notFound("", "lead_id", r.a.Str("lead_id"), "lead_email", r.a.Str("lead_email")), err)
	}
	r.res.ContactID = ct.ID
	return nil
}

func (r *run) merge(ctx context.Context, leadID string, leadSrc source, userID string, userSrc source) error {
	ct, err := r.c.mergeContacts(ctx, r.tally(), leadID, userID)
	if err != nil {
		err = fmt.Errorf("merge lead %s into user %s: %w", leadID, userID, err)
		if statusOf(err) == http.StatusNotFound {
			switch {
			case leadSrc == fromCache:
				return r.stale(err, leadSrc, leadID)
			case userSrc == fromCache:
				return r.stale(err, userSrc, userID)
			}
			return fmt.Errorf("%w: %w", notFound("", "lead_id", leadID, "user", userID), err)
		}
		return err
	}
	r.res.ContactID = ct.ID
	return nil
}

// findLead finds a lead by id as given, else (cache, then search) by email
// among leads; exactly one must match.
func (r *run) findLead(ctx context.Context, leadID, email string) (string, source, error) {
	if leadID != "" {
		return leadID, fromAction, nil
	}
	if email == "" {
		return "", fromSearch, errors.New("needs lead_id or lead_email to find the lead")
	}
	if r.useCache {
		if e, ok := r.c.cache.get(leadKey(email)); ok {
			return e.id, fromCache, nil
		}
	}
	ans, err := r.c.search(ctx, r.tally(), And(Eq("email", email), Eq("role", "lead")), searchPerPage)
	if err != nil {
		return "", fromSearch, fmt.Errorf("search contacts: %w", err)
	}
	switch {
	case len(ans.Data) == 1 && ans.TotalCount == 1:
		return ans.Data[0].ID, fromSearch, nil
	case ans.TotalCount > 1:
		return "", fromSearch, notFound(fmt.Sprintf("%d leads match", ans.TotalCount), "lead_email", email)
	}
	return "", fromSearch, notFound("", "lead_email", email)
}

// DeleteUser deletes the user with an external_id, as for a user-deletion
// request: it searches by external_id and deletes the contact if exactly one
// matches; otherwise the error wraps ErrContactNotFound. A user created so
// recently that search does not show it yet is found through the cache.
func (c *Client) DeleteUser(ctx context.Context, externalID string) error {
	if externalID == "" {
		return errors.New("delete user: no external_id")
	}
	ans, err := c.search(ctx, nil, Eq("external_id", externalID), searchPerPage)
	if err != nil {
		return fmt.Errorf("delete user: search contacts: %w", err)
	}
	var id string
	switch {
	case len(ans.Data) == 1 && ans.TotalCount == 1:
		id = ans.Data[0].ID
	case ans.TotalCount > 1:
		return fmt.Errorf("delete user: %w", notFound(fmt.Sprintf("%d contacts match", ans.TotalCount), "external_id", externalID))
	default:
		e, ok := c.cache.get(extKey(externalID))
		if !ok {
			return fmt.Errorf("delete user: %w", notFound("", "external_id", externalID))
		}
		id = e.id
	}
	if err := c.deleteContact(ctx, nil, id); err != nil {
		if statusOf(err) == http.StatusNotFound {
			c.forgetID(id)
			return fmt.Errorf("delete user: %w: %w", notFound("", "external_id", externalID), err)
		}
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	return nil
}
