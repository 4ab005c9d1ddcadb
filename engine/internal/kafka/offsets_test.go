package kafka

import (
	"fmt"
	"slices"
	"testing"
)

// TestOffsets: the commit point stops at the first record not settled, the
// records settled after it are named in the metadata (as ranges relative
// to it), a record whose dead letter was lost is never settled, and the
// metadata read back gives the same records.
func TestOffsets(t *testing.T) {
	o := newOffsets(nil)
	if _, _, _, ok := o.mark(); ok {
		t.Fatal("a mark before any record")
	}
	for off := int64(10); off < 20; off++ {
		if o.read(off, 3) {
			t.Fatalf("%d settled before", off)
		}
	}
	o.block(15)
	for _, off := range []int64{10, 11, 13, 14, 15, 16, 17, 19} {
		o.settle(off)
	}
	off, epoch, meta, ok := o.mark()
	if got := fmt.Sprintf("%d %d %s %v", off, epoch, meta, ok); got != "12 3 intercom-actions/settled:1-2,4-5,7 true" {
		t.Errorf("mark: %s", got)
	}
	skip := parseMeta(off, meta)
	var got []int64
	for k := range skip {
		got = append(got, k)
	}
	slices.Sort(got)
	if fmt.Sprint(got) != "[13 14 16 17 19]" {
		t.Errorf("parsed back: %v", got)
	}
	o.settle(12)
	if off, _, meta, _ := o.mark(); off != 15 || meta != "intercom-actions/settled:1-2,4" {
		t.Errorf("after 12: %d %q (15 is blocked: its dead letter was lost)", off, meta)
	}

	// A new owner skips what the metadata names.
	n := newOffsets(skip)
	var sent []int64
	for off := int64(12); off < 20; off++ {
		if !n.read(off, 4) {
			sent = append(sent, off)
		}
	}
	if fmt.Sprint(sent) != "[12 15 18]" {
		t.Errorf("sent again: %v, want [12 15 18]", sent)
	}
	for _, bad := range []string{"", "other metadata", metaPrefix + "x", metaPrefix + "3-1", metaPrefix + "-1"} {
		if m := parseMeta(0, bad); m != nil {
			t.Errorf("parseMeta(%q) = %v, want nothing", bad, m)
		}
	}
}

// TestOffsetsMetaBounded: metadata never exceeds maxMeta; what does not fit
// is sent again by the next owner.
func TestOffsetsMetaBounded(t *testing.T) {
	o := newOffsets(nil)
	for off := int64(0); off < 10000; off++ {
		o.read(off, 0)
		if off > 0 && off%2 == 0 {
			o.settle(off)
		}
	}
	_, _, meta, _ := o.mark()
	if len(meta) > maxMeta || len(parseMeta(0, meta)) < 100 {
		t.Errorf("metadata of %d bytes naming %d records", len(meta), len(parseMeta(0, meta)))
	}
}
