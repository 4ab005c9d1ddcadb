package simulator

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Search limits, as Intercom documents them.
const (
	defaultPerPage = 50
	maxPerPage     = 150
	maxGroupSize   = 15 // filters in one AND or OR group
	maxGroupDepth  = 2  // a group may hold groups, which may not hold groups
)

type fieldKind int

const (
	kindString fieldKind = iota
	kindDate             // Unix seconds, compared by UTC day as Intercom does
	kindCustom           // custom_attributes.X: compared by the stored type
)

var searchFields = map[string]fieldKind{
	"id": kindString, "external_id": kindString, "email": kindString,
	"role": kindString, "name": kindString, "phone": kindString,
	"created_at": kindDate, "updated_at": kindDate,
	"signed_up_at": kindDate, "last_seen_at": kindDate,
}

// query is a parsed search query.
type query struct {
	op       string
	field    string
	kind     fieldKind
	value    any   // normalised: string, int64 (dates), float64, bool or nil
	values   []any // for IN and NIN
	children []*query
}

func parseQuery(v any, depth int) (*query, *apiError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errInvalid("query must be an object")
	}
	for _, k := range sortedKeys(m) {
		if k != "field" && k != "operator" && k != "value" {
			return nil, errInvalid("%s is not a valid parameter in a query", k)
		}
	}
	op, ok := m["operator"].(string)
	if !ok {
		return nil, errInvalid("query operator must be a string")
	}
	value, hasValue := m["value"]
	if op == "AND" || op == "OR" {
		if _, has := m["field"]; has {
			return nil, errInvalid("field is not allowed with operator %s", op)
		}
		if depth >= maxGroupDepth {
			return nil, errInvalid("queries may nest AND and OR groups at most %d levels deep", maxGroupDepth)
		}
		list, ok := value.([]any)
		if !ok || len(list) == 0 {
			return nil, errInvalid("operator %s needs a non-empty array of queries as value", op)
		}
		if len(list) > maxGroupSize {
			return nil, errInvalid("an %s group may hold at most %d filters", op, maxGroupSize)
		}
		q := &query{op: op}
		for _, sub := range list {
			child, e := parseQuery(sub, depth+1)
			if e != nil {
				return nil, e
			}
			q.children = append(q.children, child)
		}
		return q, nil
	}

	field, ok := m["field"].(string)
	if !ok {
		return nil, errInvalid("query field must be a string")
	}
	kind, known := searchFields[field]
	if attr, isCustom := strings.CutPrefix(field, "custom_attributes."); isCustom && attr != "" {
		kind, known = kindCustom, true
	}
	if !known {
		return nil, errInvalid("%s is not a searchable field", field)
	}
	if !hasValue {
		return nil, errInvalid("query value is required")
	}
	q := &query{op: op, field: field, kind: kind}
	switch op {
	case "=", "!=":
		nv, ok := normalise(kind, value)
		if !ok {
			return nil, errInvalid("value %s is not valid for field %s", jsonString(value), field)
		}
		q.value = nv
	case "IN", "NIN":
		list, ok := value.([]any)
		if !ok || len(list) == 0 {
			return nil, errInvalid("operator %s needs a non-empty array as value", op)
		}
		for _, item := range list {
			nv, ok := normalise(kind, item)
			if !ok {
				return nil, errInvalid("value %s is not valid for field %s", jsonString(item), field)
			}
			q.values = append(q.values, nv)
		}
	case "<", ">":
		if kind == kindString {
			return nil, errInvalid("operator %s is not supported for field %s", op, field)
		}
		nv, ok := normalise(kind, value)
		if kind == kindCustom {
			nv, ok = toFloat(value)
		}
		if !ok || nv == nil {
			return nil, errInvalid("operator %s needs a number as value", op)
		}
		q.value = nv
	case "~", "!~", "^", "$":
		if kind == kindDate {
			return nil, errInvalid("operator %s is not supported for field %s", op, field)
		}
		s, ok := value.(string)
		if !ok {
			return nil, errInvalid("operator %s needs a string as value", op)
		}
		q.value = s
	default:
		return nil, errInvalid("%s is not a valid operator", op)
	}
	return q, nil
}

// normalise checks a query value against a field kind.
func normalise(kind fieldKind, v any) (any, bool) {
	if v == nil {
		return nil, true
	}
	switch kind {
	case kindString:
		s, ok := v.(string)
		return s, ok
	case kindDate:
		switch x := v.(type) {
		case float64:
			if x == math.Trunc(x) {
				return int64(x), true
			}
		case string:
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n, true
			}
		}
		return nil, false
	}
	return v, isScalar(v)
}

func toFloat(v any) (any, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return f, true
		}
	}
	return nil, false
}

// fieldValue is c's value for the query field (nil: not set).
func (q *query) fieldValue(c *Contact) any {
	var s string
	switch q.field {
	case "id":
		s = c.ID
	case "external_id":
		s = c.ExternalID
	case "email":
		s = c.Email
	case "role":
		s = c.Role
	case "name":
		s = c.Name
	case "phone":
		s = c.Phone
	default:
		if q.kind == kindDate {
			n := map[string]int64{
				"created_at": c.CreatedAt, "updated_at": c.UpdatedAt,
				"signed_up_at": c.SignedUpAt, "last_seen_at": c.LastSeenAt,
			}[q.field]
			if n == 0 {
				return nil
			}
			return n
		}
		return c.CustomAttributes[strings.TrimPrefix(q.field, "custom_attributes.")]
	}
	if s == "" {
		return nil
	}
	return s
}

func (q *query) match(c *Contact) bool {
	switch q.op {
	case "AND":
		for _, ch := range q.children {
			if !ch.match(c) {
				return false
			}
		}
		return true
	case "OR":
		for _, ch := range q.children {
			if ch.match(c) {
				return true
			}
		}
		return false
	}
	fv := q.fieldValue(c)
	switch q.op {
	case "=":
		return q.equal(fv, q.value)
	case "!=":
		return !q.equal(fv, q.value)
	case "IN", "NIN":
		in := slices.ContainsFunc(q.values, func(v any) bool { return q.equal(fv, v) })
		return in == (q.op == "IN")
	case "<", ">":
		d, ok := q.compare(fv, q.value)
		return ok && (d < 0) == (q.op == "<") && d != 0
	}
	s, ok := fv.(string)
	want := strings.ToLower(q.value.(string))
	s = strings.ToLower(s)
	switch q.op {
	case "~":
		return ok && strings.Contains(s, want)
	case "!~":
		return !ok || !strings.Contains(s, want)
	case "^":
		return ok && strings.HasPrefix(s, want)
	case "$":
		return ok && strings.HasSuffix(s, want)
	}
	return false
}

// day is the UTC day of a Unix timestamp.
func day(ts int64) int64 { return (ts - floorMod(ts, 86400)) / 86400 }

func (q *query) equal(fv, want any) bool {
	if want == nil || fv == nil {
		return want == nil && fv == nil
	}
	switch q.kind {
	case kindString:
		if q.field == "email" {
			return strings.EqualFold(fv.(string), want.(string))
		}
		return fv == want
	case kindDate:
		return day(fv.(int64)) == day(want.(int64))
	}
	switch x := fv.(type) {
	case float64:
		f, ok := toFloat(want)
		return ok && f == x
	case bool:
		if s, ok := want.(string); ok {
			return s == strconv.FormatBool(x)
		}
		return want == x
	}
	return fv == want
}

// compare orders fv against want for < and >.
func (q *query) compare(fv, want any) (int, bool) {
	if fv == nil {
		return 0, false
	}
	if q.kind == kindDate {
		return int(cmpInt(day(fv.(int64)), day(want.(int64)))), true
	}
	x, ok := fv.(float64)
	if !ok {
		return 0, false
	}
	y := want.(float64)
	switch {
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}

type searchNext struct {
	Page          int    `json:"page"`
	PerPage       int    `json:"per_page"`
	StartingAfter string `json:"starting_after"`
}

type searchPages struct {
	Type       string      `json:"type"`
	Next       *searchNext `json:"next,omitempty"`
	Page       int         `json:"page"`
	PerPage    int         `json:"per_page"`
	TotalPages int         `json:"total_pages"`
}

type searchJSON struct {
	Type       string        `json:"type"`
	Data       []contactJSON `json:"data"`
	TotalCount int           `json:"total_count"`
	Pages      searchPages   `json:"pages"`
}

func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(cur string) (uint64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil {
		return 0, false
	}
	return parseID(contactIDPrefix, string(b))
}

// searchContacts serves POST /contacts/search. It sees each contact as it
// was SearchLag ago; results are in creation order.
func searchContacts(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	p, e := parseParams(c.body)
	if e != nil {
		return 0, nil, e
	}
	if e := p.only("query", "pagination"); e != nil {
		return 0, nil, e
	}
	raw, ok := p["query"]
	if !ok || isNull(raw) {
		return 0, nil, errInvalid("query is required")
	}
	var qv any
	if err := json.Unmarshal(raw, &qv); err != nil {
		return 0, nil, errInvalid("query must be an object")
	}
	q, e := parseQuery(qv, 0)
	if e != nil {
		return 0, nil, e
	}
	perPage, after := defaultPerPage, uint64(0)
	pg, _, e := p.object("pagination")
	if e != nil {
		return 0, nil, e
	}
	for _, k := range sortedKeys(pg) {
		switch k {
		case "per_page":
			f, ok := pg[k].(float64)
			if !ok || f != math.Trunc(f) || f < 1 || f > maxPerPage {
				return 0, nil, errInvalid("per_page must be an integer between 1 and %d", maxPerPage)
			}
			perPage = int(f)
		case "starting_after":
			if pg[k] == nil {
				continue
			}
			cur, ok := pg[k].(string)
			if !ok {
				return 0, nil, errInvalid("starting_after must be a string")
			}
			if after, ok = decodeCursor(cur); !ok {
				return 0, nil, errInvalid("starting_after is not a valid cursor")
			}
		default:
			return 0, nil, errInvalid("pagination.%s is not a valid parameter", k)
		}
	}

	type hit struct {
		rec *contactRec
		c   *Contact
	}
	cutoff := s.now().Add(-s.opts.SearchLag)
	var hits []hit
	consider := func(rec *contactRec) {
		if v := rec.visible(cutoff); v != nil && q.match(v) {
			hits = append(hits, hit{rec, v})
		}
	}
	if recs, ok := st.candidates(q); ok && !s.scanAll {
		// An indexed query: only the contacts that ever had its values.
		for _, rec := range recs {
			rec.prune(cutoff)
			consider(rec)
		}
		st.ghosts = slices.DeleteFunc(st.ghosts, func(rec *contactRec) bool { return expired(rec, cutoff) })
	} else {
		for _, rec := range st.contacts {
			rec.prune(cutoff)
			consider(rec)
		}
		st.ghosts = slices.DeleteFunc(st.ghosts, func(rec *contactRec) bool {
			rec.prune(cutoff)
			consider(rec)
			return expired(rec, cutoff)
		})
	}
	slices.SortFunc(hits, func(a, b hit) int { return cmpInt(int64(a.rec.seq), int64(b.rec.seq)) })

	skipped := 0
	for skipped < len(hits) && hits[skipped].rec.seq <= after {
		skipped++
	}
	page := hits[skipped:min(len(hits), skipped+perPage)]
	out := searchJSON{
		Type:       "list",
		Data:       []contactJSON{},
		TotalCount: len(hits),
		Pages: searchPages{
			Type:       "pages",
			Page:       skipped/perPage + 1,
			PerPage:    perPage,
			TotalPages: (len(hits) + perPage - 1) / perPage,
		},
	}
	for _, h := range page {
		companies := h.c.CompanyIDs
		if h.rec.c != nil {
			companies = h.rec.c.CompanyIDs
		}
		out.Data = append(out.Data, st.renderContact(h.c, companies, c.ver))
	}
	if skipped+len(page) < len(hits) {
		out.Pages.Next = &searchNext{
			Page:          out.Pages.Page + 1,
			PerPage:       perPage,
			StartingAfter: encodeCursor(page[len(page)-1].c.ID),
		}
	}
	return http.StatusOK, out, nil
}

// candidates returns the contacts that can match q, each once, when the
// index can tell: q is = or IN on external_id or email, or an AND with such
// a part, or an OR of such parts. ok is false when every contact must be
// checked.
func (st *store) candidates(q *query) (recs []*contactRec, ok bool) {
	switch q.op {
	case "=", "IN":
		if q.field != "external_id" && q.field != "email" {
			return nil, false
		}
		values := q.values
		if q.op == "=" {
			values = []any{q.value}
		}
		for _, v := range values {
			s, isString := v.(string)
			if !isString {
				return nil, false
			}
			recs = appendNew(recs, st.seen[seenKey(q.field, s)])
		}
		return recs, true
	case "AND":
		for _, ch := range q.children {
			if r, ok := st.candidates(ch); ok && (recs == nil || len(r) < len(recs)) {
				recs = r
			}
		}
		return recs, recs != nil
	case "OR":
		for _, ch := range q.children {
			r, ok := st.candidates(ch)
			if !ok {
				return nil, false
			}
			recs = appendNew(recs, r)
		}
		return recs, true
	}
	return nil, false
}

// appendNew appends the contacts of more that recs does not hold yet.
func appendNew(recs, more []*contactRec) []*contactRec {
	for _, r := range more {
		if !slices.Contains(recs, r) {
			recs = append(recs, r)
		}
	}
	if recs == nil {
		recs = []*contactRec{}
	}
	return recs
}

// expired reports whether a deleted contact is no longer visible to search
// at cutoff nor can become so.
func expired(rec *contactRec, cutoff time.Time) bool {
	return len(rec.versions) == 1 && rec.versions[0].c == nil && !rec.versions[0].at.After(cutoff)
}
