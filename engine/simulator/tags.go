package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// tagJSON is a tag as POST /tags and GET /tags render it.
type tagJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// appliedTagJSON is a tag as the per-contact tag endpoints render it: with
// when, and by whom, it was applied to the contact (null when it was not).
type appliedTagJSON struct {
	Type      string   `json:"type"`
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	AppliedAt *int64   `json:"applied_at"`
	AppliedBy *refJSON `json:"applied_by"`
}

// refJSON is a reference to an object: {"type", "id"}.
type refJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// errTagCompanyNotFound is POST /tags's answer for an unknown company; unlike
// the company endpoints, Intercom's spec gives it the code company_not_found.
var errTagCompanyNotFound = &apiError{http.StatusNotFound, "company_not_found", "Company Not Found"}

func renderTag(t *Tag) tagJSON { return tagJSON{Type: "tag", ID: t.ID, Name: t.Name} }

// tagNamed finds the tag with name, ignoring case as Intercom does.
func (st *store) tagNamed(name string) *Tag {
	return st.tagsByName[strings.ToLower(name)]
}

// ensureTag returns the tag with name, creating it if needed.
func (st *store) ensureTag(name string) *Tag {
	if t := st.tagNamed(name); t != nil {
		return t
	}
	st.tagSeq++
	t := &Tag{ID: strconv.FormatUint(st.tagSeq, 10), Name: name}
	st.tags = append(st.tags, t)
	st.tagsByID[t.ID] = t
	st.tagsByName[strings.ToLower(name)] = t
	return t
}

// tagContact applies t to rec (a no-op when it has it already).
func (st *store) tagContact(rec *contactRec, t *Tag, now int64) {
	if slices.Contains(rec.c.Tags, t.Name) {
		return
	}
	nc := rec.c.clone()
	nc.Tags = append(nc.Tags, t.Name)
	slices.Sort(nc.Tags)
	rec.c = &nc
	applied := st.tagApplied[nc.ID]
	if applied == nil {
		applied = map[string]int64{}
		st.tagApplied[nc.ID] = applied
	}
	applied[t.ID] = now
}

// untagContact removes t from rec (a no-op when it does not have it).
func (st *store) untagContact(rec *contactRec, t *Tag) {
	if !slices.Contains(rec.c.Tags, t.Name) {
		return
	}
	nc := rec.c.clone()
	nc.Tags = removeString(nc.Tags, t.Name)
	rec.c = &nc
	delete(st.tagApplied[nc.ID], t.ID)
}

// tagCompany applies t to co, or removes it when untag is set.
func (st *store) tagCompany(co *Company, t *Tag, untag bool) {
	if slices.Contains(co.Tags, t.Name) != untag {
		return
	}
	nc := co.clone()
	if untag {
		nc.Tags = removeString(nc.Tags, t.Name)
	} else {
		nc.Tags = append(nc.Tags, t.Name)
		slices.Sort(nc.Tags)
	}
	st.companies[nc.ID] = &nc
}

// removeString deletes v from s, keeping an empty result as nil.
func removeString(s []string, v string) []string {
	s = slices.DeleteFunc(s, func(x string) bool { return x == v })
	if len(s) == 0 {
		return nil
	}
	return s
}

// appliedTag renders t as applied to the contact with id contactID.
func (st *store) appliedTag(contactID string, t *Tag) appliedTagJSON {
	out := appliedTagJSON{Type: "tag", ID: t.ID, Name: t.Name}
	if at, ok := st.tagApplied[contactID][t.ID]; ok {
		out.AppliedAt = &at
		out.AppliedBy = &refJSON{Type: "admin", ID: simAdmin().ID}
	}
	return out
}

// tagEntry is one item of the users or companies array of POST /tags.
type tagEntry struct {
	id, companyID string
	untag         bool
}

// parseTagEntries reads the array parameter key ("users" or "companies");
// allowed are the identifying keys its items may carry besides "untag".
func parseTagEntries(p params, key string, allowed ...string) ([]tagEntry, *apiError) {
	raw, ok := p[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if b := bytes.TrimSpace(raw); b[0] != '[' || json.Unmarshal(raw, &items) != nil {
		return nil, errInvalid("%s must be an array of objects", key)
	}
	entries := make([]tagEntry, 0, len(items))
	for i, item := range items {
		at := fmt.Sprintf("%s[%d]", key, i)
		var q params
		if b := bytes.TrimSpace(item); b[0] != '{' || json.Unmarshal(item, &q) != nil {
			return nil, errInvalid("%s must be an object", at)
		}
		for _, k := range sortedKeys(q) {
			if k != "untag" && !slices.Contains(allowed, k) {
				return nil, errInvalid("%s.%s is not a valid parameter", at, k)
			}
		}
		var en tagEntry
		var e *apiError
		if en.id, _, e = q.str("id"); e != nil {
			return nil, errInvalid("%s.id must be a string", at)
		}
		if en.companyID, _, e = q.str("company_id"); e != nil {
			return nil, errInvalid("%s.company_id must be a string", at)
		}
		if en.untag, _, e = q.boolean("untag"); e != nil {
			return nil, errInvalid("%s.untag must be a boolean", at)
		}
		if en.id == "" && en.companyID == "" {
			if len(allowed) == 1 {
				return nil, errMissing("%s.id not specified", at)
			}
			return nil, errMissing("%s.id or %s.company_id not specified", at, at)
		}
		entries = append(entries, en)
	}
	return entries, nil
}

// postTags serves POST /tags: {"name"} creates the tag unless one of that
// name (ignoring case) exists, and answers it. With "users": [{"id"}, ...]
// it also tags those contacts, with "companies": [{"id"} or
// {"company_id"}, ...] those companies (by Intercom id when both are given);
// an item with "untag": true removes the tag instead. Every contact and
// company is found before anything changes, so a 404 changes nothing.
func postTags(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	p, e := parseParams(c.body)
	if e != nil {
		return 0, nil, e
	}
	if e := p.only("name", "users", "companies"); e != nil {
		return 0, nil, e
	}
	name, _, e := p.str("name")
	if e != nil {
		return 0, nil, e
	}
	if name == "" {
		return 0, nil, errMissing("name not specified")
	}
	_, hasUsers := p["users"]
	_, hasCompanies := p["companies"]
	if hasUsers && hasCompanies {
		return 0, nil, errInvalid("invalid tag parameters")
	}
	users, e := parseTagEntries(p, "users", "id")
	if e != nil {
		return 0, nil, e
	}
	companies, e := parseTagEntries(p, "companies", "id", "company_id")
	if e != nil {
		return 0, nil, e
	}

	recs := make([]*contactRec, len(users))
	for i, u := range users {
		if recs[i], e = st.contact(u.id); e != nil {
			return 0, nil, e
		}
	}
	cos := make([]string, len(companies))
	for i, en := range companies {
		id := en.id
		if id == "" {
			id = st.companyKeys[en.companyID]
		}
		if _, ok := st.companies[id]; !ok {
			return 0, nil, errTagCompanyNotFound
		}
		cos[i] = id
	}

	t := st.ensureTag(name)
	now := s.now().Unix()
	for i, rec := range recs {
		if users[i].untag {
			st.untagContact(rec, t)
		} else {
			st.tagContact(rec, t, now)
		}
	}
	for i, id := range cos {
		st.tagCompany(st.companies[id], t, companies[i].untag)
	}
	return http.StatusOK, renderTag(t), nil
}

// listTags serves GET /tags: every tag, in creation order.
func listTags(s *Server, _ *call) (int, any, *apiError) {
	data := make([]tagJSON, 0, len(s.st.tags))
	for _, t := range s.st.tags {
		data = append(data, renderTag(t))
	}
	return http.StatusOK, struct {
		Type string    `json:"type"`
		Data []tagJSON `json:"data"`
	}{"list", data}, nil
}

// idParam reads an id parameter sent as a string or, as Intercom's own
// examples do for tag and admin ids, as an integer.
func (p params) idParam(key string) (string, bool, *apiError) {
	raw, ok := p[key]
	if !ok || isNull(raw) {
		return "", ok, nil
	}
	if n, good := parseInteger(raw); good {
		return strconv.FormatInt(n, 10), true, nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", true, errInvalid("%s must be a string", key)
	}
	return v, true, nil
}

// tagOneContact serves POST /contacts/{id}/tags {"id": tag id}: it tags the
// contact and answers the tag with applied_at and applied_by. Tagging a
// contact again keeps the first applied_at.
func tagOneContact(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	p, e := parseParams(c.body)
	if e != nil {
		return 0, nil, e
	}
	if e := p.only("id"); e != nil {
		return 0, nil, e
	}
	tid, _, e := p.idParam("id")
	if e != nil {
		return 0, nil, e
	}
	if tid == "" {
		return 0, nil, errMissing("id not specified")
	}
	rec, e := st.contact(c.segs[1])
	if e != nil {
		return 0, nil, e
	}
	t, ok := st.tagsByID[tid]
	if !ok {
		return 0, nil, errResourceNotFound
	}
	st.tagContact(rec, t, s.now().Unix())
	return http.StatusOK, st.appliedTag(rec.c.ID, t), nil
}

// untagOneContact serves DELETE /contacts/{id}/tags/{tag id}: it removes
// the tag and answers it with the applied_at and applied_by it had (null
// when the contact did not have the tag: removing it again is not an
// error).
func untagOneContact(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	rec, e := st.contact(c.segs[1])
	if e != nil {
		return 0, nil, e
	}
	t, ok := st.tagsByID[c.segs[3]]
	if !ok {
		return 0, nil, errResourceNotFound
	}
	out := st.appliedTag(rec.c.ID, t)
	st.untagContact(rec, t)
	return http.StatusOK, out, nil
}
