package simulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// State is a snapshot of the simulated workspace.
type State struct {
	// Contacts are the live contacts, in creation order.
	Contacts []Contact `json:"contacts"`
	// Companies are the companies, in creation order.
	Companies []Company `json:"companies"`
	// Events are the data events of live contacts, in arrival order; an
	// event of the same contact, name and created_at as a stored one is
	// ignored, as Intercom's de-duplication does (see POST /events).
	Events []Event `json:"events"`
	// Tags are the workspace's tags, in creation order; nil when there are
	// none.
	Tags []Tag `json:"tags,omitempty"`
	// DataAttributes are the custom data attributes created with POST
	// /data_attributes, in creation order (not the names of
	// Options.DataAttributes); nil when there are none.
	DataAttributes []DataAttribute `json:"data_attributes,omitempty"`
}

// Contact is a stored contact. Empty strings and zero numbers mean "not set".
type Contact struct {
	ID                     string         `json:"id"`
	Role                   string         `json:"role"`
	ExternalID             string         `json:"external_id,omitempty"`
	Email                  string         `json:"email,omitempty"`
	Phone                  string         `json:"phone,omitempty"`
	Name                   string         `json:"name,omitempty"`
	Avatar                 string         `json:"avatar,omitempty"`
	OwnerID                int64          `json:"owner_id,omitempty"`
	SignedUpAt             int64          `json:"signed_up_at,omitempty"`
	LastSeenAt             int64          `json:"last_seen_at,omitempty"`
	UnsubscribedFromEmails bool           `json:"unsubscribed_from_emails"`
	EmailVerified          bool           `json:"email_verified,omitempty"` // 2.16 on
	CustomAttributes       map[string]any `json:"custom_attributes,omitempty"`
	// Archived is set on a contact archived (POST /contacts/{id}/archive):
	// it is out of search and lookups, and a create matching it answers
	// 409 naming it, until POST /contacts/{id}/unarchive.
	Archived bool `json:"archived,omitempty"`
	// CompanyIDs are the Intercom ids of the attached companies, in attach
	// order.
	CompanyIDs []string `json:"company_ids,omitempty"`
	// Tags are the names of the contact's tags, sorted.
	Tags []string `json:"tags,omitempty"`
	// Notes are the notes added to the contact, oldest first.
	Notes     []Note `json:"notes,omitempty"`
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
}

// Note is a note on a contact. Ids are decimal strings, as Intercom's are;
// Body is as stored (plain text wrapped in a paragraph).
type Note struct {
	ID        string `json:"id"`
	Body      string `json:"body"`
	AuthorID  string `json:"author_id"`
	CreatedAt int64  `json:"created_at"`
}

// Company is a stored company. MonthlySpend is truncated to an integer, as
// Intercom does.
type Company struct {
	ID               string         `json:"id"`
	CompanyID        string         `json:"company_id"`
	Name             string         `json:"name,omitempty"`
	Plan             string         `json:"plan,omitempty"`
	Size             int64          `json:"size,omitempty"`
	Website          string         `json:"website,omitempty"`
	Industry         string         `json:"industry,omitempty"`
	MonthlySpend     int64          `json:"monthly_spend,omitempty"`
	RemoteCreatedAt  int64          `json:"remote_created_at,omitempty"`
	CustomAttributes map[string]any `json:"custom_attributes,omitempty"`
	// Tags are the names of the company's tags, sorted.
	Tags []string `json:"tags,omitempty"`
	// UserCount is the number of live contacts attached (computed).
	UserCount int   `json:"user_count"`
	CreatedAt int64 `json:"created_at"`
	UpdatedAt int64 `json:"updated_at"`
}

// Event is a stored data event. Metadata numbers are float64, monetary and
// rich-link values are map[string]any.
type Event struct {
	ContactID string         `json:"contact_id"`
	EventName string         `json:"event_name"`
	CreatedAt int64          `json:"created_at"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// Tag is a workspace tag. Ids are decimal strings, as Intercom's are.
type Tag struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// DataAttribute is a custom data attribute created with POST
// /data_attributes.
type DataAttribute struct {
	ID int64 `json:"id"`
	// Model is "contact" or "company".
	Model string `json:"model"`
	Name  string `json:"name"`
	// DataType is string, integer, float, boolean, date or datetime.
	DataType          string `json:"data_type"`
	Description       string `json:"description,omitempty"`
	MessengerWritable bool   `json:"messenger_writable,omitempty"`
	CreatedAt         int64  `json:"created_at"`
}

// Canonical returns a copy of st without the values the server assigns, so
// that two runs that made the same changes compare equal with
// reflect.DeepEqual. Exactly:
//   - Contact: ID, CreatedAt and UpdatedAt are zeroed; CompanyIDs are
//     replaced by the companies' company_id values, sorted; each note's ID
//     and CreatedAt are zeroed (the notes keep their order).
//   - Company: ID, CreatedAt and UpdatedAt are zeroed.
//   - Event: ContactID is replaced by the contact's key: "external_id:<x>"
//     when it has one, else "email:<x>", else "" (also "" for a contact not
//     in st).
//   - Tag: ID is zeroed (contacts and companies name their tags already).
//   - DataAttribute: ID and CreatedAt are zeroed.
//   - Contacts are sorted by key, then by their JSON encoding; companies by
//     company_id; events (stably) by contact key, created_at, event_name,
//     then metadata JSON; tags by name; data attributes by model, then
//     name.
//
// Client-supplied values (timestamps such as signed_up_at, remote_created_at
// and an event's created_at included) and UserCount are kept.
func (st State) Canonical() State {
	st = st.clone()
	keys := make(map[string]string, len(st.Contacts))
	for _, c := range st.Contacts {
		keys[c.ID] = contactKey(c)
	}
	companyKeys := make(map[string]string, len(st.Companies))
	for i := range st.Companies {
		co := &st.Companies[i]
		companyKeys[co.ID] = co.CompanyID
		co.ID, co.CreatedAt, co.UpdatedAt = "", 0, 0
	}
	for i := range st.Contacts {
		c := &st.Contacts[i]
		for j, id := range c.CompanyIDs {
			c.CompanyIDs[j] = companyKeys[id]
		}
		slices.Sort(c.CompanyIDs)
		c.ID, c.CreatedAt, c.UpdatedAt = "", 0, 0
		for j := range c.Notes {
			c.Notes[j].ID, c.Notes[j].CreatedAt = "", 0
		}
	}
	for i := range st.Events {
		st.Events[i].ContactID = keys[st.Events[i].ContactID]
	}
	for i := range st.Tags {
		st.Tags[i].ID = ""
	}
	slices.SortStableFunc(st.Tags, func(a, b Tag) int { return strings.Compare(a.Name, b.Name) })
	for i := range st.DataAttributes {
		st.DataAttributes[i].ID, st.DataAttributes[i].CreatedAt = 0, 0
	}
	slices.SortStableFunc(st.DataAttributes, func(a, b DataAttribute) int {
		if c := strings.Compare(a.Model, b.Model); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	slices.SortStableFunc(st.Contacts, func(a, b Contact) int {
		if c := strings.Compare(contactKey(a), contactKey(b)); c != 0 {
			return c
		}
		return strings.Compare(jsonString(a), jsonString(b))
	})
	slices.SortStableFunc(st.Companies, func(a, b Company) int {
		return strings.Compare(a.CompanyID, b.CompanyID)
	})
	slices.SortStableFunc(st.Events, func(a, b Event) int {
		if c := strings.Compare(a.ContactID, b.ContactID); c != 0 {
			return c
		}
		if a.CreatedAt != b.CreatedAt {
			return cmpInt(a.CreatedAt, b.CreatedAt)
		}
		if c := strings.Compare(a.EventName, b.EventName); c != 0 {
			return c
		}
		return strings.Compare(jsonString(a.Metadata), jsonString(b.Metadata))
	})
	return st
}

func contactKey(c Contact) string {
	switch {
	case c.ExternalID != "":
		return "external_id:" + c.ExternalID
	case c.Email != "":
		return "email:" + c.Email
	}
	return ""
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// clone deep-copies st; nil Contacts, Companies and Events become empty
// slices, nil Tags and DataAttributes stay nil.
func (st State) clone() State {
	out := State{
		Contacts:  make([]Contact, len(st.Contacts)),
		Companies: make([]Company, len(st.Companies)),
		Events:    make([]Event, len(st.Events)),
		Tags:      slices.Clone(st.Tags),

		DataAttributes: slices.Clone(st.DataAttributes),
	}
	for i, c := range st.Contacts {
		out.Contacts[i] = c.clone()
	}
	for i, c := range st.Companies {
		out.Companies[i] = c.clone()
	}
	for i, e := range st.Events {
		out.Events[i] = e.clone()
	}
	return out
}

func (c Contact) clone() Contact {
	c.CustomAttributes = cloneMap(c.CustomAttributes)
	c.CompanyIDs = slices.Clone(c.CompanyIDs)
	c.Tags = slices.Clone(c.Tags)
	c.Notes = slices.Clone(c.Notes)
	return c
}

func (c Company) clone() Company {
	c.CustomAttributes = cloneMap(c.CustomAttributes)
	c.Tags = slices.Clone(c.Tags)
	return c
}

func (e Event) clone() Event {
	e.Metadata = cloneMap(e.Metadata)
	return e
}

// cloneMap deep-copies a JSON-like map; nil stays nil.
func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = cloneMap(sub)
		}
		out[k] = v
	}
	return out
}

// Ids look like Intercom's 24 hex digits; contacts and companies use
// different prefixes so one is never mistaken for the other.
const (
	contactIDPrefix = "65c"
	companyIDPrefix = "65d"
)

func makeID(prefix string, n uint64) string {
	return fmt.Sprintf("%s%021x", prefix, n)
}

// parseID returns the sequence number of an id with the given prefix.
func parseID(prefix, id string) (uint64, bool) {
	if len(id) != 24 || !strings.HasPrefix(id, prefix) {
		return 0, false
	}
	n, err := strconv.ParseUint(id[len(prefix):], 16, 64)
	return n, err == nil
}

// store is the simulated workspace; the Server's mu guards it.
type store struct {
	contacts map[string]*contactRec // live contacts by id
	order    []*contactRec          // every contact ever created, in creation order
	// Indexes of the live contacts, kept by reindex.
	byExt        map[string]*contactRec // by external_id
	byEmail      map[string]*contactRec // users by lower-cased email
	companyUsers map[string]int         // company Intercom id → contacts attached
	ghosts       []*contactRec          // deleted contacts search may still see
	// seen indexes search: "external_id\x00v" and "email\x00lower(v)" →
	// every contact a recorded version of which had that value. It may
	// hold more than match (search checks each); it never misses one.
	seen        map[string][]*contactRec
	companies   map[string]*Company // by Intercom id
	companyKeys map[string]string   // company_id → Intercom id
	events      []Event
	eventKeys   map[string]bool // Event.dedupKey of every stored event
	duplicates  int             // data events ignored as duplicates
	contactSeq  uint64
	companySeq  uint64

	tags       []*Tag                      // in creation order
	tagsByID   map[string]*Tag             // by id
	tagsByName map[string]*Tag             // by lower-cased name
	tagApplied map[string]map[string]int64 // contact id → tag id → applied_at
	tagSeq     uint64
	noteSeq    uint64

	attrs   []DataAttribute // created by POST /data_attributes, in creation order
	attrSeq uint64

	// What Intercom 2.13 to 2.16 add (see api216.go).
	merged     map[string]string      // a merged contact's old id → the id it was merged into
	archived   map[string]*contactRec // archived contacts by id
	eventNames map[string]bool        // the lower-cased names of the events stored
}

// contactRec is a live or deleted contact with the versions search can see.
type contactRec struct {
	// what the indexes hold for this contact, so reindex can remove it
	idxExt, idxEmail string
	idxCompanies     []string

	seq uint64
	c   *Contact // current value; nil once deleted
	// versions are the values search sees, oldest first: each applies from
	// its time on. A nil value records a deletion.
	versions []version
}

type version struct {
	at time.Time
	c  *Contact
}

func (st *store) reset() {
	*st = store{
		contacts:     map[string]*contactRec{},
		companies:    map[string]*Company{},
		companyKeys:  map[string]string{},
		byExt:        map[string]*contactRec{},
		byEmail:      map[string]*contactRec{},
		seen:         map[string][]*contactRec{},
		companyUsers: map[string]int{},
		eventKeys:    map[string]bool{},
		tagsByID:     map[string]*Tag{},
		tagsByName:   map[string]*Tag{},
		tagApplied:   map[string]map[string]int64{},
		merged:       map[string]string{},
		archived:     map[string]*contactRec{},
		eventNames:   map[string]bool{},
	}
}

// reindex brings the lookup indexes up to date with rec's current value;
// call it after every change to a contact (fields, companies, deletion).
func (st *store) reindex(rec *contactRec) {
	if rec.idxExt != "" && st.byExt[rec.idxExt] == rec {
		delete(st.byExt, rec.idxExt)
	}
	if rec.idxEmail != "" && st.byEmail[rec.idxEmail] == rec {
		delete(st.byEmail, rec.idxEmail)
	}
	for _, id := range rec.idxCompanies {
		st.companyUsers[id]--
	}
	rec.idxExt, rec.idxEmail, rec.idxCompanies = "", "", nil
	if rec.c == nil || st.contacts[rec.c.ID] != rec {
		return
	}
	if ext := rec.c.ExternalID; ext != "" {
		st.byExt[ext], rec.idxExt = rec, ext
	}
	if rec.c.Role == "user" && rec.c.Email != "" {
		if k := strings.ToLower(rec.c.Email); st.byEmail[k] == nil {
			st.byEmail[k], rec.idxEmail = rec, k
		}
	}
	rec.idxCompanies = slices.Clone(rec.c.CompanyIDs)
	for _, id := range rec.idxCompanies {
		st.companyUsers[id]++
	}
}

// snapshot deep-copies the workspace; the caller holds the lock.
func (st *store) snapshot() State {
	out := State{Contacts: []Contact{}, Companies: []Company{}, Events: []Event{}}
	counts := map[string]int{}
	for _, rec := range st.contacts {
		out.Contacts = append(out.Contacts, rec.c.clone())
		for _, id := range rec.c.CompanyIDs {
			counts[id]++
		}
	}
	for _, rec := range st.archived {
		c := rec.c.clone()
		c.Archived = true
		out.Contacts = append(out.Contacts, c)
	}
	slices.SortFunc(out.Contacts, func(a, b Contact) int { return strings.Compare(a.ID, b.ID) })
	for _, co := range st.companies {
		cc := co.clone()
		cc.UserCount = counts[co.ID]
		out.Companies = append(out.Companies, cc)
	}
	slices.SortFunc(out.Companies, func(a, b Company) int { return strings.Compare(a.ID, b.ID) })
	for _, e := range st.events {
		out.Events = append(out.Events, e.clone())
	}
	for _, t := range st.tags {
		out.Tags = append(out.Tags, *t)
	}
	out.DataAttributes = slices.Clone(st.attrs)
	return out
}

// userCount counts live contacts attached to the company with Intercom id id.
func (st *store) userCount(id string) int {
	return st.companyUsers[id]
}

// sortedContacts returns the live contacts in creation order.
func (st *store) sortedContacts() []*contactRec {
	recs := make([]*contactRec, 0, len(st.contacts))
	for _, rec := range st.order {
		if rec.c != nil && st.contacts[rec.c.ID] == rec {
			recs = append(recs, rec)
		}
	}
	return recs
}
