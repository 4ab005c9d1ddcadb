package intercom

import (
	"container/list"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"sync"
)

// Cache keys. Emails are lower-cased (Intercom compares them so). Users are
// unique by external_id and by email; leads may share an email, so they are
// keyed apart and the last one learned wins.
func extKey(externalID string) string { return "ext:" + externalID }
func emailKey(email string) string    { return "email:" + strings.ToLower(email) }
func leadKey(email string) string     { return "lead:" + strings.ToLower(email) }
func companyKey(companyID string) string {
	return "company:" + companyID
}

// cacheEntry is what a key maps to: an Intercom id and, for contacts, the
// external_id the contact had when learned (so that a user found by email is
// not mistaken for a user with another external_id).
type cacheEntry struct {
	id  string
	ext string
	sum string // companies: digest of the last body sent, to skip identical upserts
}

// digest identifies a request body (json.Marshal sorts map keys).
func digest(body map[string]any) string {
	b, err := json.Marshal(body)
	if err != nil {
		return ""
	}
	h := sha256.Sum256(b)
	return string(h[:16])
}

type cacheItem struct {
	key string
	cacheEntry
}

// cache is a bounded LRU map from lookup keys to Intercom ids, safe for
// concurrent use, with an index from ids to their keys so that a contact
// that is gone can be forgotten at once. A nil *cache (size < 0) caches
// nothing.
type cache struct {
	mu    sync.Mutex
	size  int
	order *list.List // of *cacheItem; front: most recently used
	items map[string]*list.Element
	byID  map[string][]*list.Element
}

func newCache(size int) *cache {
	if size < 0 {
		return nil
	}
	return &cache{
		size:  size,
		order: list.New(),
		items: make(map[string]*list.Element),
		byID:  make(map[string][]*list.Element),
	}
}

// get returns the entry of key and marks it used.
func (c *cache) get(key string) (cacheEntry, bool) {
	if c == nil {
		return cacheEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return cacheEntry{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheItem).cacheEntry, true
}

// put sets key to e, evicting the least recently used entry when full.
func (c *cache) put(key string, e cacheEntry) {
	if c == nil || e.id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		it := el.Value.(*cacheItem)
		if it.id != e.id {
			c.unindex(el)
			it.cacheEntry = e
			c.byID[e.id] = append(c.byID[e.id], el)
		} else {
			it.cacheEntry = e
		}
		c.order.MoveToFront(el)
		return
	}
	el := c.order.PushFront(&cacheItem{key: key, cacheEntry: e})
	c.items[key] = el
	c.byID[e.id] = append(c.byID[e.id], el)
	for c.order.Len() > c.size {
		c.remove(c.order.Back())
	}
}

// forget removes key if it still maps to id (another goroutine may have
// learned a newer id meanwhile).
func (c *cache) forget(key, id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok && el.Value.(*cacheItem).id == id {
		c.remove(el)
	}
}

// forgetID removes every key that maps to id.
func (c *cache) forgetID(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, el := range c.byID[id] {
		c.order.Remove(el)
		delete(c.items, el.Value.(*cacheItem).key)
	}
	delete(c.byID, id)
}

// remove drops one entry; the caller holds mu.
func (c *cache) remove(el *list.Element) {
	c.unindex(el)
	c.order.Remove(el)
	delete(c.items, el.Value.(*cacheItem).key)
}

// unindex drops el from the id index; the caller holds mu.
func (c *cache) unindex(el *list.Element) {
	id := el.Value.(*cacheItem).id
	els := c.byID[id]
	for i, x := range els {
		if x == el {
			els[i] = els[len(els)-1]
			els = els[:len(els)-1]
			break
		}
	}
	if len(els) == 0 {
		delete(c.byID, id)
	} else {
		c.byID[id] = els
	}
}

// len is the number of entries.
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
