package rest

import (
	"container/list"
	"sync"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

type cacheItem struct {
	key intercom.CacheKey
	intercom.Cached
}

// cache is a bounded LRU map from lookup keys to Intercom ids, safe for
// concurrent use, with an index from ids to their keys so that a contact
// that is gone can be forgotten at once. A nil *cache (size < 0) caches
// nothing.
type cache struct {
	mu    sync.Mutex
	size  int
	order *list.List // of *cacheItem; front: most recently used
	items map[intercom.CacheKey]*list.Element
	byID  map[string][]*list.Element
}

func newCache(size int) *cache {
	if size < 0 {
		return nil
	}
	return &cache{
		size:  size,
		order: list.New(),
		items: make(map[intercom.CacheKey]*list.Element),
		byID:  make(map[string][]*list.Element),
	}
}

// get returns the entry of key and marks it used.
func (c *cache) get(key intercom.CacheKey) (intercom.Cached, bool) {
	if c == nil {
		return intercom.Cached{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return intercom.Cached{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheItem).Cached, true
}

// put sets key to e, evicting the least recently used entry when full.
func (c *cache) put(key intercom.CacheKey, e intercom.Cached) {
	if c == nil || e.ID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		it := el.Value.(*cacheItem)
		if it.ID != e.ID {
			c.unindex(el)
			it.Cached = e
			c.byID[e.ID] = append(c.byID[e.ID], el)
		} else {
			it.Cached = e
		}
		c.order.MoveToFront(el)
		return
	}
	el := c.order.PushFront(&cacheItem{key: key, Cached: e})
	c.items[key] = el
	c.byID[e.ID] = append(c.byID[e.ID], el)
	for c.order.Len() > c.size {
		c.remove(c.order.Back())
	}
}

// forget removes key if it still maps to id (another goroutine may have
// learned a newer id meanwhile).
func (c *cache) forget(key intercom.CacheKey, id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok && el.Value.(*cacheItem).ID == id {
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

// repoint makes every key that maps to the id old map to new instead: a
// contact merged into another (a 410 contact_merged) is found as that one.
func (c *cache) repoint(old, new string) {
	if c == nil || old == new || new == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, el := range c.byID[old] {
		it := el.Value.(*cacheItem)
		it.ID, it.ExternalID = new, ""
		c.byID[new] = append(c.byID[new], el)
	}
	delete(c.byID, old)
}

// remove drops one entry; the caller holds mu.
func (c *cache) remove(el *list.Element) {
	c.unindex(el)
	c.order.Remove(el)
	delete(c.items, el.Value.(*cacheItem).key)
}

// unindex drops el from the id index; the caller holds mu.
func (c *cache) unindex(el *list.Element) {
	id := el.Value.(*cacheItem).ID
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
