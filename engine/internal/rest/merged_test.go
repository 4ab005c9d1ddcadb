package rest

import (
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// TestCanonicalContact reads the contact id of a 410's Link header.
func TestCanonicalContact(t *testing.T) {
	for in, want := range map[string]string{
		`</contacts/6762f0d01bb69f9f2193bb7d>; rel="canonical"`: "6762f0d01bb69f9f2193bb7d",
		`<https://api.intercom.io/contacts/abc>; rel=canonical`: "abc",
		`</contacts/abc>; rel="next"`:                           "",
		``:                                                      "",
		`</companies/abc>; rel="canonical", </contacts/def>; rel="canonical"`: "def",
	} {
		if got := canonicalContact(in); got != want {
			t.Errorf("canonicalContact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCacheRepoint: every key of a merged contact's old id finds the
// contact it was merged into.
func TestCacheRepoint(t *testing.T) {
	c := newCache(10)
	c.put(intercom.LeadEmailKey("lee@example.com"), intercom.Cached{ID: "old"})
	c.put(intercom.ExternalIDKey("u1"), intercom.Cached{ID: "old", ExternalID: "u1"})
	c.put(intercom.ExternalIDKey("u2"), intercom.Cached{ID: "other"})
	c.repoint("old", "new")
	for key, want := range map[intercom.CacheKey]string{
		intercom.LeadEmailKey("lee@example.com"): "new", intercom.ExternalIDKey("u1"): "new", intercom.ExternalIDKey("u2"): "other",
	} {
		if e, _ := c.get(key); e.ID != want {
			t.Errorf("%s: %q, want %q", key, e.ID, want)
		}
	}
	c.forgetID("new")
	if c.len() != 1 {
		t.Errorf("forgetting the new id left %d entries, want 1", c.len())
	}
}
