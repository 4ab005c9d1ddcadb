package ingest

import (
	"testing"
)

// TestInvalidUTF8EventsAreRefused: an event that is not valid UTF-8 is
// refused with 400 and where the bad byte is, alone or as one item of a
// batch (the others are taken), instead of being stored with U+FFFD in
// place of the byte: "u\xff" and "u\xfe" would have become one user.
func TestInvalidUTF8EventsAreRefused(t *testing.T) {
	h, st, obs := newHandler(Config{})
	code, body, _ := do(h, req{path: "/v1/track", body: "{\"userId\":\"u\xff\",\"event\":\"E\"}"})
	want := `{"success":false,"error":"event is not valid Unicode text (UTF-8 broken at byte 12): refused rather than altered, as ids that differ only in such bytes would become one"}` + "\n"
	if code != 400 || body != want {
		t.Errorf("track: %d %s\nwant %s", code, body, want)
	}
	code, body, _ = do(h, req{path: "/v1/batch", body: "{\"batch\":[{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"E\"},{\"type\":\"track\",\"userId\":\"u\xfe\",\"event\":\"E\"}]}"})
	want = `{"success":true,"rejected":[{"index":1,"error":"event is not valid Unicode text (UTF-8 broken at byte 27): refused rather than altered, as ids that differ only in such bytes would become one"}]}` + "\n"
	if code != 200 || body != want {
		t.Errorf("batch: %d %s\nwant %s", code, body, want)
	}
	if len(st.items) != 1 || obs.rejected[ReasonInvalidEvent] != 2 {
		t.Errorf("stored %d, rejected %v", len(st.items), obs.rejected)
	}
}
