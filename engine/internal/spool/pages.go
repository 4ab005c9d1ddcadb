package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
)

// The spool's file is a bbolt database. bbolt maps the file into memory
// and trusts it: a truncated file faults (SIGBUS) on the first page past
// its end, a damaged page panics while bbolt rebuilds its free list, and
// neither can be recovered from. So before bbolt opens the file, a walker
// reads it with plain reads — every page of every bucket, each checked
// for its bounds, its type and its id — and says what is wrong; the same
// walk copies what can be read for `spool salvage`.
//
// The layout read here is bbolt's file format (version 2), which bbolt
// keeps stable across its releases: a 16-byte page header (id, flags,
// count, overflow), two meta pages, branch and leaf pages of 16-byte
// elements, buckets as a 16-byte header (root page, sequence) followed,
// when the root is 0, by the bucket's page inline. bbolt writes it in the
// machine's byte order; the little-endian machines Go runs on are read.

const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pageHeaderSize  = 16
	elementSize     = 16 // a branch or a leaf element
	bucketHeaderLen = 16
	branchPage      = 0x01
	leafPage        = 0x02
	metaPage        = 0x04
	bucketLeafFlag  = 0x01
	metaSize        = 64 // the meta after the page header; its checksum covers the first 56 bytes
)

var le = binary.LittleEndian

// boltMeta is what a meta page says.
type boltMeta struct {
	pageSize uint32
	root     uint64 // the root bucket's page
	hwm      uint64 // the high-water mark: pages below it are the file's
	txid     uint64
}

// parseMeta reads a meta page's body (after the page header).
func parseMeta(b []byte) (boltMeta, error) {
	if len(b) < metaSize {
		return boltMeta{}, errors.New("short meta page")
	}
	if le.Uint32(b[0:]) != boltMagic {
		return boltMeta{}, errors.New("not a bbolt meta page")
	}
	if v := le.Uint32(b[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("bbolt file version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(b[:56])
	if h.Sum64() != le.Uint64(b[56:]) {
		return boltMeta{}, errors.New("meta page checksum mismatch")
	}
	return boltMeta{pageSize: le.Uint32(b[8:]), root: le.Uint64(b[16:]), hwm: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}, nil
}

// pageFile reads a bbolt file's pages with plain reads.
type pageFile struct {
	r        io.ReaderAt
	size     int64
	pageSize int64
	meta     boltMeta
}

// openPages reads the meta pages of the file r of size bytes and chooses
// the valid one of the last transaction, as bbolt does.
func openPages(r io.ReaderAt, size int64) (*pageFile, error) {
	if size == 0 {
		return nil, errors.New("the file is empty (0 bytes)")
	}
	var metas []boltMeta
	var firstErr error
	read := func(off int64) {
		buf := make([]byte, pageHeaderSize+metaSize)
		if n, _ := r.ReadAt(buf, off); n < len(buf) {
			return
		}
		m, err := parseMeta(buf[pageHeaderSize:])
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		metas = append(metas, m)
	}
	read(0)
	if len(metas) == 1 {
		read(int64(metas[0].pageSize))
	} else {
		for ps := int64(1024); ps <= 1<<24 && ps < size; ps <<= 1 { // the first is damaged: find the second
			if read(ps); len(metas) > 0 {
				break
			}
		}
	}
	if len(metas) == 0 {
		if firstErr == nil {
			firstErr = errors.New("too short for a bbolt file")
		}
		return nil, fmt.Errorf("no valid meta page (%v): it is not a spool, or both copies of its header are damaged", firstErr)
	}
	best := metas[0]
	for _, m := range metas[1:] {
		if m.txid > best.txid && m.pageSize == best.pageSize {
			best = m
		}
	}
	if best.pageSize < 512 || best.pageSize&(best.pageSize-1) != 0 {
		return nil, fmt.Errorf("meta page with a page size of %d", best.pageSize)
	}
	return &pageFile{r: r, size: size, pageSize: int64(best.pageSize), meta: best}, nil
}

// errTruncated marks a page that lies past the end of the file.
var errTruncated = errors.New("past the end of the file")

// page reads page id whole (with its overflow pages).
func (pf *pageFile) page(id uint64) ([]byte, error) {
	if id < 2 || id >= pf.meta.hwm {
		return nil, fmt.Errorf("page %d: out of the file's %d pages", id, pf.meta.hwm)
	}
	off := int64(id) * pf.pageSize
	if off+pageHeaderSize > pf.size {
		return nil, fmt.Errorf("page %d: %w", id, errTruncated)
	}
	hdr := make([]byte, pageHeaderSize)
	if _, err := pf.r.ReadAt(hdr, off); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	if got := le.Uint64(hdr); got != id {
		return nil, fmt.Errorf("page %d: its header says page %d", id, got)
	}
	overflow := uint64(le.Uint32(hdr[12:]))
	if id+overflow >= pf.meta.hwm {
		return nil, fmt.Errorf("page %d: %d overflow pages go past the file's %d pages", id, overflow, pf.meta.hwm)
	}
	n := int64(overflow+1) * pf.pageSize
	if off+n > pf.size {
		return nil, fmt.Errorf("page %d: %w", id, errTruncated)
	}
	buf := make([]byte, n)
	if _, err := pf.r.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	return buf, nil
}

// walk is one reading of the whole file: the records of each top-level
// bucket, and every problem found.
type walk struct {
	pf       *pageFile
	seen     map[uint64]bool
	problems []string
	// record, if set, gets each readable key and value (which it must not
	// keep) of the top-level bucket named bucket.
	record func(bucket string, k, v []byte) error
	// sequence, if set, gets each top-level bucket's sequence.
	sequence func(bucket string, seq uint64)
	err      error // from record: ends the walk
	// had are the keys of the events and dead letters found, so that loose
	// gives only others.
	had map[string]map[uint64]bool
}

func (w *walk) problem(format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

// run walks the root bucket and every bucket in it.
func (w *walk) run() {
	w.seen = map[uint64]bool{}
	w.had = map[string]map[uint64]bool{string(bucketEvents): {}, string(bucketDead): {}}
	w.node("", w.pf.meta.root, nil, 0)
}

// node walks the page id (or the inline page, when given) of the bucket
// named bucket ("" for the root, whose leaves are the buckets).
func (w *walk) node(bucket string, id uint64, inline []byte, depth int) {
	if w.err != nil {
		return
	}
	if depth > 64 {
		w.problem("bucket %q: page %d: the tree is deeper than 64 levels (a loop)", bucket, id)
		return
	}
	p := inline
	if p == nil {
		if w.seen[id] {
			w.problem("bucket %q: page %d is used twice", bucket, id)
			return
		}
		w.seen[id] = true
		var err error
		if p, err = w.pf.page(id); err != nil {
			w.problem("bucket %q: %v", bucket, err)
			return
		}
	}
	if len(p) < pageHeaderSize {
		w.problem("bucket %q: an inline page of %d bytes", bucket, len(p))
		return
	}
	flags, count := le.Uint16(p[8:]), int(le.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		w.problem("bucket %q: page %d: %d elements do not fit in it", bucket, id, count)
		return
	}
	switch flags {
	case branchPage:
		for i := range count {
			e := p[pageHeaderSize+i*elementSize:]
			w.node(bucket, le.Uint64(e[8:]), nil, depth+1)
		}
	case leafPage:
		for i := range count {
			eflags, k, v, ok := leafElem(p, i)
			if !ok {
				w.problem("bucket %q: page %d: element %d lies outside its page", bucket, id, i)
				continue
			}
			if eflags&bucketLeafFlag != 0 {
				if len(v) < bucketHeaderLen {
					w.problem("bucket %q: page %d: bucket %q has a %d-byte header", bucket, id, k, len(v))
					continue
				}
				name := string(k)
				if bucket != "" {
					name = bucket + "/" + name
				}
				if bucket == "" && w.sequence != nil {
					w.sequence(name, le.Uint64(v[8:]))
				}
				if root := le.Uint64(v); root == 0 {
					w.node(name, 0, v[bucketHeaderLen:], depth+1)
				} else {
					w.node(name, root, nil, depth+1)
				}
				continue
			}
			if had := w.had[bucket]; had != nil && len(k) == 8 {
				had[binary.BigEndian.Uint64(k)] = true
			}
			if w.record != nil && bucket != "" {
				if err := w.record(bucket, k, v); err != nil {
					w.err = err
					return
				}
			}
		}
	default:
		w.problem("bucket %q: page %d: not a branch or leaf page (flags %#x)", bucket, id, flags)
	}
}

// leafElem reads element i of the leaf page p (whose elements fit in it):
// its flags, key and value; ok is false when they lie outside the page.
func leafElem(p []byte, i int) (flags uint32, k, v []byte, ok bool) {
	at := pageHeaderSize + i*elementSize
	e := p[at:]
	flags, pos, ksize, vsize := le.Uint32(e), uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
	start := uint64(at) + pos
	if start+ksize+vsize > uint64(len(p)) {
		return 0, nil, nil, false
	}
	return flags, p[start : start+ksize], p[start+ksize : start+ksize+vsize], true
}

// loose reads the leaf pages the tree walk did not reach — cut off from
// it by a lost or damaged page — for the records of the events and dead
// letters buckets, told apart by their shape: an 8-byte key and an event
// record, or an 8-byte key and a dead letter's JSON. Such a page may be
// the old copy of one since rewritten (bbolt copies on write), so a record
// found there may have been settled already: sent again rather than lost.
// fn gets each record once per key it has not had (a key's record never
// changes: a sequence number is used once).
func (w *walk) loose(fn func(bucket string, k, v []byte) error) {
	had := w.had
	last := uint64(w.pf.size / w.pf.pageSize)
	for id := uint64(2); id < last && id < w.pf.meta.hwm; id++ {
		if w.seen[id] {
			continue
		}
		p, err := w.pf.page(id)
		if err != nil || le.Uint16(p[8:]) != leafPage {
			continue
		}
		count := int(le.Uint16(p[10:]))
		if pageHeaderSize+count*elementSize > len(p) {
			continue
		}
		for i := range count {
			eflags, k, v, ok := leafElem(p, i)
			if !ok || eflags&bucketLeafFlag != 0 || len(k) != 8 {
				continue
			}
			bucket := ""
			if r, err := decodeRecord(v); err == nil && len(r.data) > 0 && r.data[0] == '{' {
				bucket = string(bucketEvents)
			} else if len(v) > 9 && string(v[:9]) == `{"event":` {
				bucket = string(bucketDead)
			} else {
				continue
			}
			key := binary.BigEndian.Uint64(k)
			if had[bucket][key] {
				continue
			}
			had[bucket][key] = true
			if err := fn(bucket, k, v); err != nil {
				w.err = err
				return
			}
		}
	}
}
