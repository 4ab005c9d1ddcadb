package samesecond

import (
	"fmt"
	"reflect"
	"testing"
)

// TestPlace: an event takes its own second when free; one of the same
// name (without case) and contact in a taken second is reported, and with
// spread moved to the next free second; placing the same event again
// gives its second again; other names and contacts do not clash.
func TestPlace(t *testing.T) {
	s := New(0)
	type step struct {
		contact, name string
		at            int64
		id            string
		spread        bool
	}
	var got []string
	for _, st := range []step{
		{"user:u1", "Order", 100, "m1", true},
		{"user:u1", "order", 100, "m2", true},  // same second: moved to 101
		{"user:u1", "Order", 101, "m3", true},  // its own second is taken now: 102
		{"user:u1", "order", 100, "m2", true},  // m2 again: 101 again
		{"user:u1", "Other", 100, "m4", true},  // another name
		{"user:u2", "Order", 100, "m5", true},  // another contact
		{"user:u1", "Order", 100, "m6", false}, // not spread: reported, stays
		{"user:u1", "Order", 100, "", false},   // no identity: the same
	} {
		p := s.Place(st.contact, st.name, st.at, st.id, st.spread)
		got = append(got, fmt.Sprintf("%s %d same=%v moved=%v", st.id, p.At, p.Same, p.Moved))
	}
	want := []string{
		"m1 100 same=false moved=false",
		"m2 101 same=true moved=true",
		"m3 102 same=true moved=true",
		"m2 101 same=false moved=true",
		"m4 100 same=false moved=false",
		"m5 100 same=false moved=false",
		"m6 100 same=true moved=false",
		" 100 same=true moved=false",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("placed:\n%q\nwant\n%q", got, want)
	}
}

// TestBounds: the least recently used contact and name pairs go past the
// bound, and each keeps at most SecondsPerKey seconds.
func TestBounds(t *testing.T) {
	s := New(2)
	s.Place("a", "e", 1, "", false)
	s.Place("b", "e", 1, "", false)
	s.Place("a", "e", 2, "", false) // a is used again
	s.Place("c", "e", 1, "", false) // b goes
	if n := s.Len(); n != 2 {
		t.Errorf("%d pairs, want 2", n)
	}
	if p := s.Place("b", "e", 1, "", false); p.Same {
		t.Error("b was forgotten: its second is free again")
	}
	for i := range int64(SecondsPerKey + 1) {
		s.Place("d", "e", 1000+i, "", false)
	}
	if p := s.Place("d", "e", 1000, "", false); p.Same {
		t.Error("the oldest second of d was forgotten: it is free again")
	}
	if p := s.Place("d", "e", 1000+SecondsPerKey, "", false); !p.Same {
		t.Error("the newest second of d is remembered")
	}
}

// TestOlderThanEveryRememberedSecond: a pair holds SecondsPerKey seconds
// and an event comes that is older than all of them. It is placed, and
// kept: the oldest other second is forgotten instead. So another event in
// that old second is reported, and the second forgotten is free again.
func TestOlderThanEveryRememberedSecond(t *testing.T) {
	s := New(0)
	for i := range int64(SecondsPerKey) {
		s.Place("a", "e", 1000+i, fmt.Sprint("m", i), true)
	}
	var got []string
	for _, ev := range []struct {
		at     int64
		id     string
		spread bool
	}{{10, "old", true}, {10, "other", false}, {10, "other", true}, {1000, "new", false}} {
		p := s.Place("a", "e", ev.at, ev.id, ev.spread)
		got = append(got, fmt.Sprintf("%s %d same=%v moved=%v", ev.id, p.At, p.Same, p.Moved))
	}
	want := []string{
		"old 10 same=false moved=false", // 1000 (m0) goes
		"other 10 same=true moved=false",
		"other 11 same=true moved=true", // 10 (old) goes: the oldest other
		"new 1000 same=false moved=false",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("placed:\n%q\nwant\n%q", got, want)
	}
}
