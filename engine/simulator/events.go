package simulator

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// maxMetadataKeys is the most metadata keys an event may carry.
const maxMetadataKeys = 10

// createEvent serves POST /events. The contact is found by id, else by
// user_id (its external_id), else by email (the user with that email; leads
// are not matched by email). The answer is 202 with an empty body.
//
// As Intercom's description of POST /events says ("Event de-duplication"),
// an event of the same contact, event name (ignoring case) and created_at
// as one already stored is a duplicate, whatever its metadata: it is
// ignored and answered 202 like any other. So a client that resends an
// event after a lost answer stores it once, and two different events of one
// name for one contact in the same second are stored as one (the first).
func createEvent(s *Server, c *call) (int, any, *apiError) {
	st := &s.st
	p, e := parseParams(c.body)
	if e != nil {
		return 0, nil, e
	}
	if e := p.only("event_name", "created_at", "user_id", "email", "id", "metadata"); e != nil {
		return 0, nil, e
	}
	name, _, e := p.str("event_name")
	if e != nil {
		return 0, nil, e
	}
	if name == "" {
		return 0, nil, errMissing("event_name not specified")
	}
	createdAt, ok, e := p.integer("created_at")
	if e != nil {
		return 0, nil, e
	}
	if !ok || createdAt == 0 {
		return 0, nil, errMissing("created_at not specified")
	}
	if createdAt < 0 {
		return 0, nil, errInvalid("created_at must be a positive Unix timestamp")
	}
	var ids [3]string
	for i, k := range []string{"id", "user_id", "email"} {
		if ids[i], _, e = p.str(k); e != nil {
			return 0, nil, e
		}
	}
	meta, _, e := p.object("metadata")
	if e != nil {
		return 0, nil, e
	}
	if len(meta) > maxMetadataKeys {
		return 0, nil, errInvalid("metadata has %d keys: at most %d are allowed", len(meta), maxMetadataKeys)
	}
	for _, k := range sortedKeys(meta) {
		if !validMetadataValue(meta[k]) {
			return 0, nil, errInvalid("metadata.%s must be a string, number, boolean, a rich link {\"url\",\"value\"} or a monetary amount {\"amount\",\"currency\"}", k)
		}
	}
	if len(meta) == 0 {
		meta = nil
	}

	var contact *Contact
	switch id, userID, email := ids[0], ids[1], ids[2]; {
	case id != "":
		if rec, ok := st.contacts[id]; ok {
			contact = rec.c
		}
	case userID != "":
		if rec := st.byExt[userID]; rec != nil {
			contact = rec.c
		}
	case email != "":
		if rec := st.byEmail[strings.ToLower(email)]; rec != nil {
			contact = rec.c
		}
	default:
		return 0, nil, errMissing("id, user_id or email not specified")
	}
	if contact == nil {
		return 0, nil, errUserNotFound
	}
	ev := Event{
		ContactID: contact.ID,
		EventName: name,
		CreatedAt: createdAt,
		Metadata:  meta,
	}
	if e := s.eventNameCap(name); e != nil {
		return 0, nil, e
	}
	key := ev.dedupKey()
	if st.eventKeys[key] {
		st.duplicates++
		return http.StatusAccepted, nil, nil // a duplicate: ignored
	}
	st.eventKeys[key] = true
	st.eventNames[strings.ToLower(name)] = true
	st.events = append(st.events, ev)
	return http.StatusAccepted, nil, nil
}

// dedupKey identifies an event as Intercom's de-duplication does: its
// contact, name (ignoring case) and created_at; not its metadata.
func (e Event) dedupKey() string {
	return e.ContactID + "\x00" + strings.ToLower(e.EventName) + "\x00" + strconv.FormatInt(e.CreatedAt, 10)
}

// reindexEvents rebuilds the de-duplication keys after events were removed
// or moved to another contact (a deletion or a merge).
func (st *store) reindexEvents() {
	clear(st.eventKeys)
	for _, e := range st.events {
		st.eventKeys[e.dedupKey()] = true
	}
}

// validMetadataValue accepts scalars, rich links {url, value} and monetary
// amounts {amount, currency}.
func validMetadataValue(v any) bool {
	if isScalar(v) {
		return true
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 2 {
		return false
	}
	keys := sortedKeys(m)
	switch {
	case slices.Equal(keys, []string{"url", "value"}):
		_, u := m["url"].(string)
		_, val := m["value"].(string)
		return u && val
	case slices.Equal(keys, []string{"amount", "currency"}):
		_, a := m["amount"].(float64)
		_, cur := m["currency"].(string)
		return a && cur
	}
	return false
}
