package simulator

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// What Intercom's API versions 2.13 to 2.16 change, as the simulator
// answers it: the Intercom-Version header of each request chooses.
//
//	2.13 on  GET /contacts/find_by_external_id/{id} finds a user (404 before)
//	2.16 on  owner_id is a string in contact bodies and answers (an integer before);
//	         email_verified may be set, with an email;
//	         a merged contact's old id answers GET /contacts/{id} with 410
//	         contact_merged and Link: </contacts/{id}>; rel="canonical" (404 before)
//
// Every version: archived contacts (POST /contacts/{id}/archive and
// /unarchive; a create matching one answers 409 "An archived contact
// matching those details already exists with id=…"), and the cap on
// distinct event names (Options.MaxEventNames, 422 past it).

// contactParamsOf are the body parameters of POST and PUT /contacts in a
// version: email_verified from 2.16.
func contactParamsOf(v apiVersion) []string {
	if v >= version216 {
		return append(slices.Clone(contactParams), "email_verified")
	}
	return contactParams
}

// parseVerified reads email_verified (2.16 on): a boolean that needs an
// email in the same request.
func (cp *contactPatch) parseVerified(p params, v apiVersion) *apiError {
	if v < version216 {
		return nil
	}
	if ok, set, e := p.boolean("email_verified"); e != nil {
		return e
	} else if set {
		if email, _, _ := p.str("email"); email == "" {
			return errInvalid("email_verified must be supplied together with an email")
		}
		cp.verified = &ok
	}
	return nil
}

// merged410 turns notFound, the answer for an id that is no live contact,
// into 410 contact_merged with a Link to the contact it was merged into,
// from 2.16, when it is a merged contact's old id. Chains of merges are
// resolved, up to 3 hops, as Intercom does.
func (st *store) merged410(c *call, notFound *apiError) *apiError {
	into, ok := st.merged[c.segs[1]]
	if !ok || c.ver < version216 {
		return notFound
	}
	for hop := 1; hop < 3; hop++ {
		next, ok := st.merged[into]
		if !ok {
			break
		}
		into = next
	}
	if c.header == nil {
		c.header = http.Header{}
	}
	c.header.Set("Link", "</contacts/"+into+`>; rel="canonical"`)
	return &apiError{http.StatusGone, "contact_merged", "This contact has been merged. See the 'Link' header for the canonical contact."}
}

// findByExternalID serves GET /contacts/find_by_external_id/{id} (2.13
// on): the user with that external_id.
func findByExternalID(s *Server, c *call) (int, any, *apiError) {
	if c.ver < version213 {
		return 0, nil, errResourceNotFound
	}
	rec := s.st.byExt[strings.Join(c.segs[2:], "/")]
	if rec == nil || rec.c.Role != "user" {
		return 0, nil, errUserNotFound
	}
	return http.StatusOK, s.st.renderContact(rec.c, rec.c.CompanyIDs, c.ver), nil
}

// archiveContact serves POST /contacts/{id}/archive and
// /contacts/{id}/unarchive. An archived contact leaves the live contacts
// (lookups, search, events and merges do not find it) until unarchived;
// archiving an archived one, or unarchiving a live one, changes nothing.
func archiveContact(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	id, archive := c.segs[1], c.segs[2] == "archive"
	rec, live := st.contacts[id]
	if !live {
		if rec = st.archived[id]; rec == nil {
			return 0, nil, errUserNotFound
		}
	}
	switch {
	case archive && live:
		delete(st.contacts, id)
		c := rec.c
		rec.c = nil // search sees it go, as a deletion
		s.recordVersion(rec, s.now())
		rec.c = c
		st.archived[id] = rec
	case !archive && !live:
		delete(st.archived, id)
		st.contacts[id] = rec
		s.recordVersion(rec, s.now())
	}
	return http.StatusOK, struct {
		Type       string  `json:"type"`
		ID         string  `json:"id"`
		ExternalID *string `json:"external_id"`
		Archived   bool    `json:"archived"`
	}{"contact", id, nullStr(rec.c.ExternalID), archive}, nil
}

// archivedConflict is the 409 for a new contact that matches an archived
// one, by external_id, or (a user) by email; nil when none does.
func (st *store) archivedConflict(c *Contact) *apiError {
	for _, id := range sortedKeys(st.archived) {
		a := st.archived[id].c
		if c.ExternalID != "" && a.ExternalID == c.ExternalID ||
			c.Role == "user" && c.Email != "" && a.Role == "user" && strings.EqualFold(a.Email, c.Email) {
			return &apiError{http.StatusConflict, "conflict", "An archived contact matching those details already exists with id=" + id}
		}
	}
	return nil
}

// eventNameCap is the 422 for an event of a name the workspace does not
// have when it has Options.MaxEventNames (Intercom's 120) already.
func (s *Server) eventNameCap(name string) *apiError {
	limit := s.opts.MaxEventNames
	if limit <= 0 {
		limit = 120
	}
	if s.st.eventNames[strings.ToLower(name)] || len(s.st.eventNames) < limit {
		return nil
	}
	return &apiError{http.StatusUnprocessableEntity, "parameter_invalid",
		"Your workspace has reached its limit of " + strconv.Itoa(limit) + " active event names: archive event names to track new ones"}
}
