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
}

// entry is one contact and event name: the seconds used, by whom.
type entry struct {
	key  string
	used map[int64]string // second → the identity of the event placed there
	ids  map[string]int64 // identity → its second
}

// New returns a Seconds that remembers up to keys contact and event name
// pairs (DefaultKeys when keys <= 0).
func New(keys int) *Seconds {
	if keys <= 0 {
		keys = DefaultKeys
	}
	return &Seconds{max: keys, keys: map[string]*list.Element{}, order: list.New()}
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
	if id != "" {
		if sec, ok := e.ids[id]; ok {
			return Placed{At: sec, Moved: sec != at}
		}
	}
	if _, taken := e.used[at]; !taken {
		e.put(at, id)
		return Placed{At: at}
	}
	if !spread {
		return Placed{At: at, Same: true}
	}
	sec := at + 1
	for {
		if _, taken := e.used[sec]; !taken {
			break
		}
		sec++
	}
	e.put(sec, id)
	return Placed{At: sec, Same: true, Moved: true}
}

// entry returns the key's entry, made if need be, marked used.
func (s *Seconds) entry(key string) *entry {
	if el, ok := s.keys[key]; ok {
		s.order.MoveToFront(el)
		return el.Value.(*entry)
	}
	e := &entry{key: key, used: map[int64]string{}, ids: map[string]int64{}}
	s.keys[key] = s.order.PushFront(e)
	for s.order.Len() > s.max {
		old := s.order.Back()
		s.order.Remove(old)
		delete(s.keys, old.Value.(*entry).key)
	}
	return e
}

// put records the event id at second sec, forgetting the oldest second
// past SecondsPerKey.
func (e *entry) put(sec int64, id string) {
	e.used[sec] = id
	if id != "" {
		e.ids[id] = sec
	}
	if len(e.used) <= SecondsPerKey {
		return
	}
	oldest := sec
	for t := range e.used {
		oldest = min(oldest, t)
	}
	if old := e.used[oldest]; old != "" {
		delete(e.ids, old)
	}
	delete(e.used, oldest)
}

// Len returns the contact and event name pairs remembered.
func (s *Seconds) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}
