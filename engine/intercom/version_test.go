package intercom

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestVersions: 2.11 to 2.16 are accepted, and each says what it changes.
func TestVersions(t *testing.T) {
	for in, want := range map[string]string{
		"2.11": "", "2.16": "",
		"2.10":     "2.10 is not supported: want a version from 2.11 to 2.16 (default 2.16)",
		"2.17":     "2.17 is not supported: want a version from 2.11 to 2.16 (default 2.16)",
		"Unstable": `"Unstable": want a version from 2.11 to 2.16 (default 2.16)`,
		"":         `"": want a version from 2.11 to 2.16 (default 2.16)`,
		"2.016":    `"2.016": want a version from 2.11 to 2.16 (default 2.16)`,
		"2.+16":    `"2.+16": want a version from 2.11 to 2.16 (default 2.16)`,
		"2.100":    `"2.100": want a version from 2.11 to 2.16 (default 2.16)`,
		"3.16":     `"3.16": want a version from 2.11 to 2.16 (default 2.16)`,
		"2.9":      "2.9 is not supported: want a version from 2.11 to 2.16 (default 2.16)",
	} {
		_, err := ParseVersion(in)
		if got := ""; err != nil {
			got = err.Error()
			if got != want {
				t.Errorf("ParseVersion(%q): %v, want %s", in, err, want)
			}
		} else if want != "" {
			t.Errorf("ParseVersion(%q) accepted, want %s", in, want)
		}
	}
	type says struct{ ownerString, verified, findByExt, merged410 bool }
	for v, want := range map[Version]says{
		"2.11": {}, "2.13": {findByExt: true}, "2.15": {findByExt: true},
		"2.16": {true, true, true, true}, "": {true, true, true, true},
	} {
		if got := (says{v.OwnerIDString(), v.EmailVerified(), v.FindByExternalID(), v.MergedAnswers410()}); got != want {
			t.Errorf("%q: %+v, want %+v", v, got, want)
		}
	}
}

// TestOwnerIDForms: owner_id goes as a string or a number, and is read
// from either (or null).
func TestOwnerIDForms(t *testing.T) {
	for _, tc := range []struct {
		id   AdminID
		want string
	}{{AdminID{ID: 42, AsString: true}, `"42"`}, {AdminID{ID: 42}, `42`}} {
		if b, _ := json.Marshal(tc.id); string(b) != tc.want {
			t.Errorf("%+v: %s, want %s", tc.id, b, tc.want)
		}
	}
	for in, want := range map[string]FlexID{`{"owner_id":"42"}`: "42", `{"owner_id":42}`: "42", `{"owner_id":null}`: ""} {
		var c Contact
		if err := json.Unmarshal([]byte(in), &c); err != nil || c.OwnerID != want {
			t.Errorf("%s: %q, %v; want %q", in, c.OwnerID, err, want)
		}
	}
}

// TestArchivedConflictID: the 409 for an archived contact names it; the
// 409 for a live one is not taken for it.
func TestArchivedConflictID(t *testing.T) {
	archived := &APIError{Status: 409, Code: "conflict", Message: "An archived contact matching those details already exists with id=abc1"}
	live := &APIError{Status: 409, Code: "conflict", Message: "A contact matching those details already exists with id=abc2"}
	if got := ArchivedConflictID(archived); got != "abc1" {
		t.Errorf("archived: %q", got)
	}
	if got := ArchivedConflictID(live); got != "" {
		t.Errorf("live taken for archived: %q", got)
	}
	if got := ArchivedConflictID(errors.New("x")); got != "" {
		t.Errorf("not an API error: %q", got)
	}
}

// BenchmarkVersionQuestions is what the questions a call sequence asks of
// the version per event cost (no allocation).
func BenchmarkVersionQuestions(b *testing.B) {
	v := Version("2.16")
	for b.Loop() {
		if !v.OwnerIDString() || !v.FindByExternalID() {
			b.Fatal("2.16 says no")
		}
	}
}
