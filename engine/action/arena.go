package action

import "github.com/intercom-actions/intercom-actions/engine/intercom"

// Arena is memory for planned actions that their user gives back all at
// once: the fields structs, lists, objects and numbers they hold. Planning
// into an arena that has grown to a batch's needs allocates almost nothing,
// so a long run leaves the collector little to do (the planner keeps one
// per batch of lines). Reset hands the memory back: every action planned
// into the arena is invalid after it. The zero Arena is ready for use; a
// nil *Arena takes everything from the heap. An Arena is not safe for
// concurrent use.
type Arena struct {
	actions chunks[Action]
	members chunks[intercom.Member]
	strs    chunks[string]
	ints    chunks[int64]
	bools   chunks[bool]
	kinds   []resetter // each Kind's fields structs, by Kind.id
}

// Reset zeroes what was taken from the arena and makes it available again.
func (a *Arena) Reset() {
	a.actions.reset()
	a.members.reset()
	a.strs.reset()
	a.ints.reset()
	a.bools.reset()
	for _, k := range a.kinds {
		if k != nil {
			k.reset()
		}
	}
}

// Actions returns a copy of list in the arena's memory.
func (a *Arena) Actions(list []Action) []Action {
	if a == nil {
		return append([]Action(nil), list...)
	}
	return append(a.actions.take(len(list)), list...)
}

// Strings returns a copy of list in the arena's memory.
func (a *Arena) Strings(list []string) []string {
	if a == nil {
		return append([]string(nil), list...)
	}
	return append(a.strs.take(len(list)), list...)
}

// object returns an empty object with room for n members.
func (a *Arena) object(n int) intercom.Object {
	if a == nil {
		return make(intercom.Object, 0, n)
	}
	return a.members.take(n)
}

// copyInt64 returns a pointer to a copy of v.
func (a *Arena) copyInt64(v int64) *int64 {
	if a == nil {
		p := new(int64) // not &v: v would then move to the heap on every path
		*p = v
		return p
	}
	p := &a.ints.take(1)[:1][0]
	*p = v
	return p
}

// copyBool returns a pointer to a copy of v.
func (a *Arena) copyBool(v bool) *bool {
	if a == nil {
		p := new(bool)
		*p = v
		return p
	}
	p := &a.bools.take(1)[:1][0]
	*p = v
	return p
}

// newFields returns an empty fields struct of the Kind numbered id.
func newFields[T any](a *Arena, id int) *T {
	if a == nil {
		return new(T)
	}
	for len(a.kinds) <= id {
		a.kinds = append(a.kinds, nil)
	}
	c, _ := a.kinds[id].(*chunks[T])
	if c == nil {
		c = new(chunks[T])
		a.kinds[id] = c
	}
	return &c.take(1)[:1][0]
}

type resetter interface{ reset() }

// chunkItems is how many items a chunk holds: chunks are never moved, so
// what was taken from one stays where it is until reset.
const chunkItems = 128

// chunks hands out runs of Ts from a list of fixed chunks, reused after
// reset.
type chunks[T any] struct {
	all [][]T // each chunk's len is how much of it is taken
	at  int   // the chunk being taken from
}

// take returns an empty slice with room for n Ts (zero), its capacity
// capped so that appending past it moves to the heap.
func (c *chunks[T]) take(n int) []T {
	if n > chunkItems {
		return make([]T, 0, n)
	}
	for {
		if c.at == len(c.all) {
			c.all = append(c.all, make([]T, 0, chunkItems))
		}
		cur := c.all[c.at]
		if l := len(cur); cap(cur)-l >= n {
			c.all[c.at] = cur[:l+n]
			return cur[l : l : l+n]
		}
		c.at++
	}
}

// reset zeroes every T taken and makes the chunks available again.
func (c *chunks[T]) reset() {
	for i := range c.all[:min(c.at+1, len(c.all))] {
		clear(c.all[i])
		c.all[i] = c.all[i][:0]
	}
	c.at = 0
}
