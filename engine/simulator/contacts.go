package simulator

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"
)

// contactJSON is a contact as the API renders it.
type contactJSON struct {
	Type                   string         `json:"type"`
	ID                     string         `json:"id"`
	WorkspaceID            string         `json:"workspace_id"`
	ExternalID             *string        `json:"external_id"`
	Role                   string         `json:"role"`
	Email                  string         `json:"email"` // "" when unset: never null
	Phone                  *string        `json:"phone"`
	Name                   *string        `json:"name"`
	Avatar                 *string        `json:"avatar"`
	OwnerID                any            `json:"owner_id"` // see version.ownerID
	CreatedAt              int64          `json:"created_at"`
	UpdatedAt              int64          `json:"updated_at"`
	SignedUpAt             *int64         `json:"signed_up_at"`
	LastSeenAt             *int64         `json:"last_seen_at"`
	HasHardBounced         bool           `json:"has_hard_bounced"`
	MarkedEmailAsSpam      bool           `json:"marked_email_as_spam"`
	UnsubscribedFromEmails bool           `json:"unsubscribed_from_emails"`
	CustomAttributes       map[string]any `json:"custom_attributes"`
	Companies              companyRefList `json:"companies"`
}

type companyRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	URL  string `json:"url"`
}

type companyRefList struct {
	Type       string       `json:"type"`
	Data       []companyRef `json:"data"`
	URL        string       `json:"url"`
	TotalCount int          `json:"total_count"`
	HasMore    bool         `json:"has_more"`
}

func nullStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullInt(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

// renderContact renders c for version v; companyIDs are the attached
// companies to list.
func (st *store) renderContact(c *Contact, companyIDs []string, v apiVersion) contactJSON {
	refs := []companyRef{}
	for _, id := range companyIDs {
		if _, ok := st.companies[id]; ok {
			refs = append(refs, companyRef{Type: "company", ID: id, URL: "/companies/" + id})
		}
	}
	ca := cloneMap(c.CustomAttributes)
	if ca == nil {
		ca = map[string]any{}
	}
	return contactJSON{
		Type:                   "contact",
		ID:                     c.ID,
		WorkspaceID:            WorkspaceID,
		ExternalID:             nullStr(c.ExternalID),
		Role:                   c.Role,
		Email:                  c.Email,
		Phone:                  nullStr(c.Phone),
		Name:                   nullStr(c.Name),
		Avatar:                 nullStr(c.Avatar),
		OwnerID:                v.ownerID(c.OwnerID),
		CreatedAt:              c.CreatedAt,
		UpdatedAt:              c.UpdatedAt,
		SignedUpAt:             nullInt(c.SignedUpAt),
		LastSeenAt:             nullInt(c.LastSeenAt),
		UnsubscribedFromEmails: c.UnsubscribedFromEmails,
		CustomAttributes:       ca,
		Companies: companyRefList{
			Type:       "list",
			Data:       refs,
			URL:        "/contacts/" + c.ID + "/companies",
			TotalCount: len(refs),
		},
	}
}

// contactParams are the body parameters of POST and PUT /contacts.
var contactParams = []string{
	"role", "external_id", "email", "phone", "name", "avatar", "signed_up_at",
	"last_seen_at", "owner_id", "unsubscribed_from_emails", "custom_attributes",
}

var (
	contactStrParams = []string{"external_id", "email", "phone", "name", "avatar"}
	// contactIntParams are integers; owner_id is one only before 2.16 (see
	// parseContactPatch).
	contactIntParams = []string{"owner_id", "signed_up_at", "last_seen_at"}
)

// contactPatch holds the parameters present in a contact body.
type contactPatch struct {
	role      *string
	strs      map[string]string
	ints      map[string]int64
	unsub     *bool
	verified  *bool // email_verified, 2.16 on
	custom    map[string]any
	customSet bool
}

// parseContactPatch reads a contact body of version v: owner_id is an
// integer before 2.16 and a string (of the admin's numeric id) from 2.16.
func parseContactPatch(body []byte, v apiVersion) (*contactPatch, *apiError) {
	p, e := parseParams(body)
	if e != nil {
		return nil, e
	}
	if e := p.only(contactParamsOf(v)...); e != nil {
		return nil, e
	}
	cp := &contactPatch{strs: map[string]string{}, ints: map[string]int64{}}
	if e := cp.parseVerified(p, v); e != nil {
		return nil, e
	}
	if v, ok, e := p.str("role"); e != nil {
		return nil, e
	} else if ok {
		if v != "user" && v != "lead" {
			return nil, errInvalid("role must be one of: user, lead")
		}
		cp.role = &v
	}
	for _, k := range contactStrParams {
		v, ok, e := p.str(k)
		if e != nil {
			return nil, e
		}
		if ok {
			cp.strs[k] = v
		}
	}
	if email := cp.strs["email"]; email != "" && !validEmail(email) {
		return nil, errInvalid("email %q is not a valid email address", email)
	}
	for _, k := range contactIntParams {
		read := p.integer
		if k == "owner_id" && v >= version216 {
			read = p.numericString
		}
		n, ok, e := read(k)
		if e != nil {
			return nil, e
		}
		if ok {
			cp.ints[k] = n
		}
	}
	if v, ok, e := p.boolean("unsubscribed_from_emails"); e != nil {
		return nil, e
	} else if ok {
		cp.unsub = &v
	}
	m, ok, e := p.flat("custom_attributes")
	if e != nil {
		return nil, e
	}
	cp.custom, cp.customSet = m, ok
	return cp, nil
}

func (c *Contact) strField(key string) *string {
	switch key {
	case "external_id":
		return &c.ExternalID
	case "email":
		return &c.Email
	case "phone":
		return &c.Phone
	case "name":
		return &c.Name
	case "avatar":
		return &c.Avatar
	}
	panic("simulator: unknown contact field " + key)
}

func (c *Contact) intField(key string) *int64 {
	switch key {
	case "owner_id":
		return &c.OwnerID
	case "signed_up_at":
		return &c.SignedUpAt
	case "last_seen_at":
		return &c.LastSeenAt
	}
	panic("simulator: unknown contact field " + key)
}

// apply writes the patch into c and reports whether anything changed.
// Custom attributes are merged key by key; a null value removes the key.
func (cp *contactPatch) apply(c *Contact) bool {
	changed := false
	if cp.role != nil && *cp.role != c.Role {
		c.Role, changed = *cp.role, true
	}
	for k, v := range cp.strs {
		if f := c.strField(k); *f != v {
			*f, changed = v, true
		}
	}
	for k, v := range cp.ints {
		if f := c.intField(k); *f != v {
			*f, changed = v, true
		}
	}
	if cp.unsub != nil && *cp.unsub != c.UnsubscribedFromEmails {
		c.UnsubscribedFromEmails, changed = *cp.unsub, true
	}
	if cp.verified != nil && *cp.verified != c.EmailVerified {
		c.EmailVerified, changed = *cp.verified, true
	}
	if mergeAttributes(&c.CustomAttributes, cp.custom) {
		changed = true
	}
	return changed
}

// mergeAttributes merges patch into *dst (null removes a key), keeping an
// empty map as nil, and reports whether *dst changed.
func mergeAttributes(dst *map[string]any, patch map[string]any) bool {
	changed := false
	for k, v := range patch {
		old, had := (*dst)[k]
		switch {
		case v == nil:
			if had {
				delete(*dst, k)
				changed = true
			}
		case !had || !reflect.DeepEqual(old, v):
			if *dst == nil {
				*dst = map[string]any{}
			}
			(*dst)[k] = v
			changed = true
		}
	}
	if len(*dst) == 0 {
		*dst = nil
	}
	return changed
}

// validateContact checks c (whose id is self, "" when new) against the role
// rules and the other live contacts.
func (st *store) validateContact(c *Contact, self string) *apiError {
	if c.Role == "lead" && c.ExternalID != "" {
		return errInvalid("external_id is not allowed for role lead")
	}
	if c.Role == "user" && c.Email == "" && c.ExternalID == "" {
		return errInvalid("Role user requires an email or external_id")
	}
	if c.ExternalID != "" {
		if rec := st.byExt[c.ExternalID]; rec != nil && rec.c.ID != self {
			return errConflict(rec.c.ID)
		}
	}
	if c.Role == "user" && c.Email != "" {
		if rec := st.byEmail[strings.ToLower(c.Email)]; rec != nil && rec.c.ID != self {
			return errConflict(rec.c.ID)
		}
	}
	return nil
}

// now is the server time.
func (s *Server) now() time.Time { return s.clock() }

// recordVersion makes rec's current value (nil when deleted) what search
// sees once SearchLag has passed, and forgets versions search can no longer
// see. The caller holds s.mu.
func (s *Server) recordVersion(rec *contactRec, now time.Time) {
	var snap *Contact
	if rec.c != nil {
		cc := rec.c.clone()
		snap = &cc
	}
	rec.versions = append(rec.versions, version{at: now, c: snap})
	rec.prune(now.Add(-s.opts.SearchLag))
	s.st.reindex(rec)
	if snap != nil {
		s.st.see(rec, "external_id", snap.ExternalID)
		s.st.see(rec, "email", snap.Email)
	}
}

// see records that a version of rec had value in the search field.
func (st *store) see(rec *contactRec, field, value string) {
	if value == "" {
		return
	}
	key := seenKey(field, value)
	if recs := st.seen[key]; !slices.Contains(recs, rec) {
		st.seen[key] = append(recs, rec)
	}
}

// seenKey is the search index key of a field's value.
func seenKey(field, value string) string {
	if field == "email" {
		value = strings.ToLower(strings.ToUpper(value)) // as strings.EqualFold folds
	}
	return field + "\x00" + value
}

// prune drops the versions older than the one search sees at cutoff.
func (rec *contactRec) prune(cutoff time.Time) {
	for i := len(rec.versions) - 1; i > 0; i-- {
		if !rec.versions[i].at.After(cutoff) {
			rec.versions = slices.Delete(rec.versions, 0, i)
			return
		}
	}
}

// visible is the value search sees at cutoff (nil: not visible).
func (rec *contactRec) visible(cutoff time.Time) *Contact {
	for i := len(rec.versions) - 1; i >= 0; i-- {
		if !rec.versions[i].at.After(cutoff) {
			return rec.versions[i].c
		}
	}
	return nil
}

// contact finds a live contact by id.
func (st *store) contact(id string) (*contactRec, *apiError) {
	rec, ok := st.contacts[id]
	if !ok {
		return nil, errUserNotFound
	}
	return rec, nil
}

// createContact serves POST /contacts.
func createContact(s *Server, c *call) (int, any, *apiError) {
	cp, e := parseContactPatch(c.body, c.ver)
	if e == nil {
		e = s.checkAttributes("contact", cp.custom)
	}
	if e != nil {
		return 0, nil, e
	}
	nc := &Contact{Role: "user"}
	cp.apply(nc)
	st := &s.st
	if e := st.validateContact(nc, ""); e != nil {
		return 0, nil, e
	}
	if e := st.archivedConflict(nc); e != nil {
		return 0, nil, e
	}
	now := s.now()
	st.contactSeq++
	nc.ID = makeID(contactIDPrefix, st.contactSeq)
	nc.CreatedAt, nc.UpdatedAt = now.Unix(), now.Unix()
	rec := &contactRec{seq: st.contactSeq, c: nc}
	st.contacts[nc.ID] = rec
	st.order = append(st.order, rec)
	s.recordVersion(rec, now)
	return http.StatusOK, st.renderContact(nc, nc.CompanyIDs, c.ver), nil
}

// getContact serves GET /contacts/{id}.
func getContact(s *Server, c *call) (int, any, *apiError) {
	rec, e := s.st.contact(c.segs[1])
	if e != nil {
		return 0, nil, s.st.merged410(c, e)
	}
	return http.StatusOK, s.st.renderContact(rec.c, rec.c.CompanyIDs, c.ver), nil
}

// updateContact serves PUT /contacts/{id}: a partial update.
func updateContact(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	rec, e := st.contact(c.segs[1])
	if e != nil {
		return 0, nil, e
	}
	cp, e := parseContactPatch(c.body, c.ver)
	if e == nil {
		e = s.checkAttributes("contact", cp.custom)
	}
	if e != nil {
		return 0, nil, e
	}
	nc := rec.c.clone()
	if cp.role != nil && rec.c.Role == "user" && *cp.role == "lead" {
		return 0, nil, errInvalid("role cannot be changed from user to lead")
	}
	if !cp.apply(&nc) {
		return http.StatusOK, st.renderContact(rec.c, rec.c.CompanyIDs, c.ver), nil
	}
	if e := st.validateContact(&nc, nc.ID); e != nil {
		return 0, nil, e
	}
	now := s.now()
	nc.UpdatedAt = now.Unix()
	rec.c = &nc
	s.recordVersion(rec, now)
	return http.StatusOK, st.renderContact(rec.c, rec.c.CompanyIDs, c.ver), nil
}

// deleteContact serves DELETE /contacts/{id}. The contact's events (and
// its tags and notes) go with it.
func deleteContact(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	rec, e := st.contact(c.segs[1])
	if e != nil {
		return 0, nil, e
	}
	old := rec.c
	st.removeContact(s, rec)
	st.events = slices.DeleteFunc(st.events, func(ev Event) bool { return ev.ContactID == old.ID })
	st.reindexEvents()
	delete(st.tagApplied, old.ID)
	return http.StatusOK, struct {
		ID         string  `json:"id"`
		ExternalID *string `json:"external_id"`
		Type       string  `json:"type"`
		Object     string  `json:"object"`
		Deleted    bool    `json:"deleted"`
	}{old.ID, nullStr(old.ExternalID), "contact", "contact", true}, nil
}

// removeContact deletes a live contact, leaving a ghost search may still see.
func (st *store) removeContact(s *Server, rec *contactRec) {
	delete(st.contacts, rec.c.ID)
	rec.c = nil
	s.recordVersion(rec, s.now())
	st.ghosts = append(st.ghosts, rec)
}

// mergeContacts serves POST /contacts/merge: the lead "from" is merged into
// the user "into". The user's unset fields and custom attributes are filled
// from the lead, the lead's companies, tags, notes and events move to the
// user (notes in the order they were written), and the lead is deleted.
func mergeContacts(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	p, e := parseParams(c.body)
	if e != nil {
		return 0, nil, e
	}
	if e := p.only("from", "into"); e != nil {
		return 0, nil, e
	}
	from, ok, e := p.str("from")
	if e != nil {
		return 0, nil, e
	}
	if !ok || from == "" {
		return 0, nil, errMissing("from not specified")
	}
	into, ok, e := p.str("into")
	if e != nil {
		return 0, nil, e
	}
	if !ok || into == "" {
		return 0, nil, errMissing("into not specified")
	}
	lead, e := st.contact(from)
	if e != nil {
		return 0, nil, e
	}
	user, e := st.contact(into)
	if e != nil {
		return 0, nil, e
	}
	if lead.c.Role != "lead" {
		return 0, nil, errInvalid("from must be a contact with role lead")
	}
	if user.c.Role != "user" {
		return 0, nil, errInvalid("into must be a contact with role user")
	}

	nc := user.c.clone()
	l := lead.c
	for _, k := range contactStrParams {
		if k == "external_id" {
			continue
		}
		if f := nc.strField(k); *f == "" {
			*f = *l.strField(k)
		}
	}
	if nc.Email != "" && nc.Email != user.c.Email {
		// Do not give the user an email another user already has.
		for _, rec := range st.contacts {
			if rec != user && rec.c.Role == "user" && strings.EqualFold(rec.c.Email, nc.Email) {
				nc.Email = user.c.Email
				break
			}
		}
	}
	for _, k := range contactIntParams {
		if f := nc.intField(k); *f == 0 {
			*f = *l.intField(k)
		}
	}
	for _, k := range sortedKeys(l.CustomAttributes) {
		if _, had := nc.CustomAttributes[k]; !had {
			if nc.CustomAttributes == nil {
				nc.CustomAttributes = map[string]any{}
			}
			nc.CustomAttributes[k] = l.CustomAttributes[k]
		}
	}
	for _, id := range l.CompanyIDs {
		if !slices.Contains(nc.CompanyIDs, id) {
			nc.CompanyIDs = append(nc.CompanyIDs, id)
		}
	}
	for _, name := range l.Tags {
		if slices.Contains(nc.Tags, name) {
			continue
		}
		nc.Tags = append(nc.Tags, name)
		if t := st.tagNamed(name); t != nil {
			if at, ok := st.tagApplied[l.ID][t.ID]; ok {
				if st.tagApplied[nc.ID] == nil {
					st.tagApplied[nc.ID] = map[string]int64{}
				}
				st.tagApplied[nc.ID][t.ID] = at
			}
		}
	}
	slices.Sort(nc.Tags)
	delete(st.tagApplied, l.ID)
	if len(l.Notes) > 0 {
		nc.Notes = append(nc.Notes, l.Notes...)
		slices.SortStableFunc(nc.Notes, func(a, b Note) int { return cmpInt(noteOrder(a), noteOrder(b)) })
	}
	for i := range st.events {
		if st.events[i].ContactID == l.ID {
			st.events[i].ContactID = nc.ID
		}
	}
	st.reindexEvents()
	st.removeContact(s, lead)
	st.merged[l.ID] = user.c.ID
	now := s.now()
	nc.UpdatedAt = now.Unix()
	user.c = &nc
	s.recordVersion(user, now)
	return http.StatusOK, st.renderContact(user.c, user.c.CompanyIDs, c.ver), nil
}

// listContactCompanies serves GET /contacts/{id}/companies.
func listContactCompanies(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	rec, e := st.contact(c.segs[1])
	if e != nil {
		return 0, nil, e
	}
	data := []companyJSON{}
	for _, id := range rec.c.CompanyIDs {
		if co, ok := st.companies[id]; ok {
			data = append(data, st.renderCompany(co))
		}
	}
	return http.StatusOK, companyListJSON{
		Type:       "list",
		Data:       data,
		TotalCount: len(data),
		Pages:      pagesJSON{Type: "pages", Page: 1, PerPage: max(len(data), 1), TotalPages: 1},
	}, nil
}

// attachCompany serves POST /contacts/{id}/companies {"id": company id}.
func attachCompany(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	p, e := parseParams(c.body)
	if e != nil {
		return 0, nil, e
	}
	if e := p.only("id"); e != nil {
		return 0, nil, e
	}
	cid, ok, e := p.str("id")
	if e != nil {
		return 0, nil, e
	}
	if !ok || cid == "" {
		return 0, nil, errMissing("id not specified")
	}
	rec, e := st.contact(c.segs[1])
	if e != nil {
		return 0, nil, e
	}
	co, ok := st.companies[cid]
	if !ok {
		return 0, nil, errCompanyNotFound
	}
	if !slices.Contains(rec.c.CompanyIDs, cid) {
		nc := rec.c.clone()
		nc.CompanyIDs = append(nc.CompanyIDs, cid)
		rec.c = &nc
		st.reindex(rec)
	}
	return http.StatusOK, st.renderCompany(co), nil
}

// detachCompany serves DELETE /contacts/{id}/companies/{company id}.
func detachCompany(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	rec, e := st.contact(c.segs[1])
	if e != nil {
		return 0, nil, e
	}
	cid := c.segs[3]
	co, ok := st.companies[cid]
	if !ok || !slices.Contains(rec.c.CompanyIDs, cid) {
		return 0, nil, errCompanyNotFound
	}
	nc := rec.c.clone()
	nc.CompanyIDs = slices.DeleteFunc(nc.CompanyIDs, func(id string) bool { return id == cid })
	if len(nc.CompanyIDs) == 0 {
		nc.CompanyIDs = nil
	}
	rec.c = &nc
	st.reindex(rec)
	return http.StatusOK, st.renderCompany(co), nil
}
