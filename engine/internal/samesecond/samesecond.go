// Package samesecond finds the data events Intercom would store only one
// of. Intercom de-duplicates events by contact, event name and created_at
// (to the second) — not by metadata — so two different events of one name
// for one contact in the same second are stored as one, answered 202 like
// any other. Seconds remembers, per contact and event name, the seconds
// events were placed at, and places each new event: at its own second when
// that is free, else it reports the clash and, when asked to spread, moves
// the event to the next free second after it.
//
// Placing is deterministic: the same events in the same order are placed
// at the same seconds. An event seen again (by its identity: Segment's
// messageId, or its bytes) keeps the second it was given, so a retry sends
// the same created_at and Intercom's own de-duplication still drops a
// repeat. Memory is bounded: the least recently used contacts and names,
// and the oldest seconds of each, are forgotten first.
//
// It does no I/O; a Seconds is safe for concurrent use.
package samesecond

import (
	"container/list"
	"hash/maphash"
	"strings"
	"sync"
)

// Defaults of New's bounds.
const (
	DefaultKeys   = 100_000 // contact and event name pairs remembered
	SecondsPerKey = 64      // seconds remembered for each
)

// Seconds places events per contact and event name. The zero value is not
// ready: use New.
type Seconds struct {
	mu    sync.Mutex
	max   int
	keys  map[string]*list.Element // of *entry
	order *list.List               // front: most recently used
	seed  maphash.Seed             // of idHash
}

// entry is one contact and event name: the seconds used, by whom.
type entry struct {
	key  string
	used []slot // up to SecondsPerKey, in no order
}

// slot is a second used and the event placed there.
type slot struct {
	sec int64
	id  uint64 // the hash of the event's identity (Seconds.idHash); 0 for none
}

// idHash is a 64-bit hash of an event's identity, never 0 ("" is 0: no
// identity). A pair keeps the hash, not the identity: 16 bytes a second.
// Two identities of one pair that hash alike (odds about 2^-52 among 64)
// would be taken for one event, as a retry is.
func (s *Seconds) idHash(id string) uint64 {
	if id == "" {
		return 0
	}
	return max(maphash.String(s.seed, id), 1)
}

// New returns a Seconds that remembers up to keys contact and event name
// pairs (DefaultKeys when keys <= 0).
func New(keys int) *Seconds {
	if keys <= 0 {
		keys = DefaultKeys
	}
	return &Seconds{max: keys, keys: map[string]*list.Element{}, order: list.New(), seed: maphash.MakeSeed()}
}

// Placed is where Place put an event.
type Placed struct {
	At int64 // the created_at to send
	// Same is true when another event of the name for the contact had
	// the event's own second already: Intercom would keep one of them.
	Same bool
	// Moved is true when the event was spread to At, a later second.
	Moved bool
}

// Place places an event of name (compared without case, as Intercom does)
// for contact at second at. id identifies the event (its messageId), so
// that placing it again gives the second it had; "" for none. With spread,
// an event whose second is taken moves to the first free second after it;
// without, it stays (Intercom will keep one of the two).
func (s *Seconds) Place(contact, name string, at int64, id string, spread bool) Placed {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(contact + "\x00" + strings.ToLower(name))
	h := s.idHash(id)
	if h != 0 {
		if sec, ok := e.second(h); ok {
			return Placed{At: sec, Moved: sec != at}
		}
	}
	if !e.taken(at) {
		e.put(at, h)
		return Placed{At: at}
	}
	if !spread {
		return Placed{At: at, Same: true}
	}
	sec := at + 1
	for e.taken(sec) {
		sec++
	}
	e.put(sec, h)
	return Placed{At: sec, Same: true, Moved: true}
}

// entry returns the key's entry, made if need be, marked used.
func (s *Seconds) entry(key string) *entry {
	if el, ok := s.keys[key]; ok {
		s.order.MoveToFront(el)
		return el.Value.(*entry)
	}
	e := &entry{key: key}
	s.keys[key] = s.order.PushFront(e)
	for s.order.Len() > s.max {
		old := s.order.Back()
		s.order.Remove(old)
		delete(s.keys, old.Value.(*entry).key)
	}
	return e
}

// second returns the second of the event whose identity hashes to id.
func (e *entry) second(id uint64) (int64, bool) {
	for _, u := range e.used {
		if u.id == id {
			return u.sec, true
		}
	}
	return 0, false
}

// taken says whether an event was placed at second sec.
func (e *entry) taken(sec int64) bool {
	for _, u := range e.used {
		if u.sec == sec {
			return true
		}
	}
	return false
}

// put records the event id at second sec. Past SecondsPerKey, it takes
// the place of the oldest second (never sec itself, even when older: an
// event placed keeps its second for a retry).
func (e *entry) put(sec int64, id uint64) {
	if len(e.used) < SecondsPerKey {
		e.used = append(e.used, slot{sec, id})
		return
	}
	oldest := 0
	for i, u := range e.used {
		if u.sec < e.used[oldest].sec {
			oldest = i
		}
	}
	e.used[oldest] = slot{sec, id}
}

// Len returns the contact and event name pairs remembered.
func (s *Seconds) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}
