package kafka

import (
	"sort"
	"strconv"
	"strings"
	"sync"
)

// offsets follows the records of one partition as they are handed to the
// dispatcher, in offset order, and settled, in any order (several workers;
// an action waiting for its contact's identify), and says what may be
// committed: the offset of the first record not settled, and — in the
// commit's metadata — the records after it that are settled, so that the
// partition's next owner does not send them again. It is safe for
// concurrent use.
type offsets struct {
	mu      sync.Mutex
	started bool
	next    int64   // the offset to commit: after the settled prefix
	epoch   int32   // leader epoch of the record before next (-1: unknown)
	live    []entry // handed out after next, ascending offsets
	settled int     // entries of live that are settled
	blocked map[int64]bool
	skip    map[int64]bool // settled by an earlier owner (from the committed metadata)
}

type entry struct {
	offset  int64
	epoch   int32
	settled bool
}

func newOffsets(skip map[int64]bool) *offsets { return &offsets{epoch: -1, skip: skip} }

// read records that the record at offset (of leader epoch epoch) is handed
// to the dispatcher, and says whether an earlier owner settled it already:
// it is then settled here too, and must not be dispatched. Offsets come in
// ascending order.
func (o *offsets) read(offset int64, epoch int32) (settledBefore bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.started {
		o.started, o.next = true, offset
	}
	o.live = append(o.live, entry{offset: offset, epoch: epoch})
	if o.skip[offset] {
		delete(o.skip, offset)
		o.settleLocked(offset)
		return true
	}
	return false
}

// block marks the record at offset as never to be settled in this run:
// its dead letter could not be stored, so it must come again.
func (o *offsets) block(offset int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.blocked == nil {
		o.blocked = map[int64]bool{}
	}
	o.blocked[offset] = true
}

// settle records that the record at offset is settled: sent, skipped or
// dead-lettered.
func (o *offsets) settle(offset int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.settleLocked(offset)
}

func (o *offsets) settleLocked(offset int64) {
	if o.blocked[offset] {
		return
	}
	i := sort.Search(len(o.live), func(i int) bool { return o.live[i].offset >= offset })
	if i == len(o.live) || o.live[i].offset != offset || o.live[i].settled {
		return
	}
	o.live[i].settled = true
	o.settled++
	n := 0
	for n < len(o.live) && o.live[n].settled {
		n++
	}
	if n == 0 {
		return
	}
	last := o.live[n-1]
	o.next, o.epoch = last.offset+1, last.epoch
	o.settled -= n
	o.live = append(o.live[:0], o.live[n:]...)
}

// maxMeta bounds the commit metadata (Kafka's offset.metadata.max.bytes is
// 4096 by default); past it, the settled records that do not fit are sent
// again by the next owner, which at-least-once allows.
const maxMeta = 3500

// metaPrefix marks the metadata this package writes.
const metaPrefix = "intercom-actions/settled:"

// mark returns what to commit: the next offset to consume, its leader
// epoch, and the metadata naming the records settled after it; ok is false
// until a record handed out is settled.
func (o *offsets) mark() (offset int64, epoch int32, meta string, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.started {
		return 0, 0, "", false
	}
	if o.settled == 0 {
		return o.next, o.epoch, "", true
	}
	var b strings.Builder
	b.WriteString(metaPrefix)
	first := true
	for i := 0; i < len(o.live); i++ {
		if !o.live[i].settled {
			continue
		}
		j := i
		for j+1 < len(o.live) && o.live[j+1].settled && o.live[j+1].offset == o.live[j].offset+1 {
			j++
		}
		item := strconv.FormatInt(o.live[i].offset-o.next, 10)
		if j > i {
			item += "-" + strconv.FormatInt(o.live[j].offset-o.next, 10)
		}
		if b.Len()+len(item)+1 > maxMeta {
			break
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(item)
		i = j
	}
	return o.next, o.epoch, b.String(), true
}

// parseMeta reads the settled records of a commit's metadata, committed
// at offset; anything else (another tool's metadata) gives none.
func parseMeta(offset int64, meta string) map[int64]bool {
	rest, ok := strings.CutPrefix(meta, metaPrefix)
	if !ok || rest == "" {
		return nil
	}
	out := map[int64]bool{}
	for item := range strings.SplitSeq(rest, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil || a < 0 {
			return nil
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil || b < a || b-a > 1<<20 {
				return nil
			}
		}
		for d := a; d <= b; d++ {
			out[offset+d] = true
		}
	}
	return out
}

// pending returns the number of records handed out after the first one
// not settled, that one included.
func (o *offsets) pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.live)
}
