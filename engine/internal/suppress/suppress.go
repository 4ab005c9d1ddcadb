// Package suppress keeps calls that would change nothing in Intercom from
// being sent. A Memory remembers, per contact and per company, a digest of
// the body last sent successfully, and the (contact, company) attachments
// made; API wraps an intercom.API so that an update whose body Intercom
// already holds, or a repeat attach, is answered from the Memory instead.
//
// last_seen_at counts as a change only when it moves by more than the
// Config's LastSeenResolution. After the TTL a repeat is sent anyway, so a
// change made in Intercom's UI is overwritten at most once per TTL. A call
// that fails, or whose outcome is unknown, forgets what the Memory held
// for it: the next one is sent. The Memory is a bounded LRU; Save and Load
// keep it across restarts.
package suppress

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// The reasons a call is not sent, as Tally.Saved and the metrics name them.
const (
	UnchangedContact = "unchanged_contact" // PUT /contacts/{id} whose body Intercom holds
	UnchangedCompany = "unchanged_company" // POST /companies whose body Intercom holds
	Attached         = "attached"          // POST /contacts/{id}/companies of an attachment made
)

// Reasons lists every reason, in a fixed order.
var Reasons = []string{UnchangedContact, UnchangedCompany, Attached}

// Defaults of Config.
const (
	DefaultSize               = 1_000_000
	DefaultTTL                = 24 * time.Hour
	DefaultLastSeenResolution = time.Hour
)

// Config configures a Memory.
type Config struct {
	// Size is the most entries kept (about two per contact, two per
	// company and one per attachment); the least recently used go first.
	// Default DefaultSize.
	Size int
	// TTL is how long a sent body or an attachment is trusted: after it, a
	// repeat is sent anyway. 0 trusts it until it is evicted.
	TTL time.Duration
	// LastSeenResolution is how far last_seen_at may move from the value
	// Intercom holds before an otherwise unchanged update is sent; 0 sends
	// every move.
	LastSeenResolution time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// key names one entry: a hash of its kind and its ids.
type key [16]byte

// The kinds of entry.
const (
	kindContact  = 'c' // a contact's Intercom id: the last body sent
	kindIdentity = 'i' // a user's external_id key: its Intercom id
	kindCompany  = 'o' // a company's company_id: the last body sent, its Intercom id
	kindAlive    = 'k' // a company's Intercom id: not found gone since
	kindAttach   = 'a' // a contact's and a company's Intercom ids: attached
)

func makeKey(kind byte, parts ...string) key {
	h := sha256.New()
	h.Write([]byte{kind})
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var k key
	copy(k[:], h.Sum(nil))
	return k
}

// entry is what the Memory holds under a key.
type entry struct {
	sum  uint64 // digest of the body sent, last_seen_at left out
	seen int64  // last_seen_at sent (Unix seconds); 0 for none
	at   int64  // when it was sent (Unix seconds)
	id   string // Intercom's id: of the company, or of the user an identity names
}

// Memory is what Intercom holds as far as this process has sent it. It is
// safe for concurrent use.
type Memory struct {
	cfg Config
	mu  sync.Mutex
	lru *simplelru.LRU[key, entry]
}

// New returns an empty Memory.
func New(cfg Config) *Memory {
	if cfg.Size <= 0 {
		cfg.Size = DefaultSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l, _ := simplelru.NewLRU[key, entry](cfg.Size, nil) // only a size < 1 fails
	return &Memory{cfg: cfg, lru: l}
}

// Len is the number of entries held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

func (m *Memory) now() int64 { return m.cfg.Now().Unix() }

// fresh returns the entry of k if it was sent within the TTL.
func (m *Memory) fresh(k key) (entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.lru.Get(k)
	if !ok || (m.cfg.TTL > 0 && m.now()-e.at >= int64(m.cfg.TTL/time.Second)) {
		return entry{}, false
	}
	return e, true
}

func (m *Memory) has(k key) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Contains(k)
}

func (m *Memory) put(k key, e entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.Add(k, e)
}

func (m *Memory) forget(keys ...key) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		m.lru.Remove(k)
	}
}

// forgetID forgets the contact or company with Intercom's id: it is gone,
// or was changed by a call the Memory cannot follow.
func (m *Memory) forgetID(id string) {
	m.forget(makeKey(kindContact, id), makeKey(kindAlive, id))
}

// digest identifies a request body: equal bodies have equal digests
// (request bodies list their fields in a fixed order).
func digest(body any) uint64 {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0
	}
	h := sha256.Sum256(raw)
	return binary.LittleEndian.Uint64(h[:8]) | 1 // never 0: 0 is "no body"
}

// sum is what the Memory compares of a body sent: its digest, with a
// contact's last_seen_at left out and kept apart (0 for none). A call
// computes it once, to check and to remember.
type sum struct {
	digest uint64
	seen   int64
}

// contactSum is a contact body's sum.
func contactSum(body intercom.ContactBody) sum {
	var seen int64
	if body.LastSeenAt != nil {
		seen = *body.LastSeenAt
		body.LastSeenAt = nil
	}
	return sum{digest(body), seen}
}

// unchangedContact says whether Intercom holds the body whose sum is s
// for the contact id.
func (m *Memory) unchangedContact(id string, s sum) bool {
	e, ok := m.fresh(makeKey(kindContact, id))
	if !ok || s.digest != e.sum {
		return false
	}
	if s.seen == 0 {
		return true // it does not move last_seen_at
	}
	if e.seen == 0 {
		return false
	}
	moved := s.seen - e.seen
	if moved < 0 {
		moved = -moved
	}
	return moved <= int64(m.cfg.LastSeenResolution/time.Second) && (m.cfg.LastSeenResolution > 0 || moved == 0)
}

// rememberContact records that the contact id now holds body, whose sum
// is s.
func (m *Memory) rememberContact(id string, body intercom.ContactBody, s sum) {
	now := m.now()
	m.put(makeKey(kindContact, id), entry{sum: s.digest, seen: s.seen, at: now})
	if k, ok := identity(body); ok {
		m.put(k, entry{id: id, at: now})
	}
}

// identity is the key under which a user body's contact is found again:
// its external_id. Not its email: a body without an external_id says
// nothing of the user's, so an identify with the email and another
// external_id would take it for this one and re-key it. Leads are not
// found either: several may share an email, and one may become a user.
func identity(body intercom.ContactBody) (key, bool) {
	if body.Role != "user" || body.ExternalID == "" {
		return key{}, false
	}
	return makeKey(kindIdentity, string(intercom.ExternalIDKey(body.ExternalID))), true
}

// cachedUser returns the Intercom id remembered for a user's external_id
// key, if the contact was not found gone since. Other keys are not
// answered (a file saved by an earlier version may hold email keys).
func (m *Memory) cachedUser(k intercom.CacheKey) (intercom.Cached, bool) {
	ext, isExt := strings.CutPrefix(string(k), string(intercom.ExternalIDKey("")))
	if !isExt {
		return intercom.Cached{}, false
	}
	e, ok := m.fresh(makeKey(kindIdentity, string(k)))
	if !ok || !m.has(makeKey(kindContact, e.id)) {
		return intercom.Cached{}, false
	}
	return intercom.Cached{ID: e.id, ExternalID: ext}, true
}

// unchangedCompany returns Intercom's id of the company companyID if it
// holds the body whose digest is sum.
func (m *Memory) unchangedCompany(companyID string, sum uint64) (string, bool) {
	e, ok := m.fresh(makeKey(kindCompany, companyID))
	if !ok || e.sum != sum || !m.has(makeKey(kindAlive, e.id)) {
		return "", false
	}
	return e.id, true
}

// rememberCompany records that the company id (your companyID) now holds
// the body whose digest is sum.
func (m *Memory) rememberCompany(id, companyID string, sum uint64) {
	now := m.now()
	m.put(makeKey(kindCompany, companyID), entry{sum: sum, at: now, id: id})
	m.put(makeKey(kindAlive, id), entry{at: now})
}

func attachKey(contactID, companyID string) key { return makeKey(kindAttach, contactID, companyID) }
