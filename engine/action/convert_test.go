package action

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestDropped holds dropped's quoting of the key to strconv.Quote, the form
// the warnings had before it quoted the usual key itself.
func TestDropped(t *testing.T) {
	for _, s := range []string{"", "products", "a b", `say "hi"`, `back\slash`, "tab\t", "é", "\x7f", "日本", "\xff"} {
		want := "metadata: dropped " + strconv.Quote(s) + " (array)"
		if got := dropped("metadata", s, "array"); got != want {
			t.Errorf("dropped(%q) = %s, want %s", s, got, want)
		}
	}
}

// FuzzRFC3339Seconds holds the fast path to time.Parse: whatever it
// accepts, time.Parse with time.RFC3339Nano accepts, with the same Unix
// seconds.
func FuzzRFC3339Seconds(f *testing.F) {
	for _, s := range []string{
		"2026-04-06T16:30:40.628Z", "2024-02-29T23:59:59+01:00", "2023-02-29T00:00:00Z",
		"0000-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999-00:30", "9999-12-31T23:59:59Z",
		"2024-01-01T24:00:00Z", "2024-01-01T00:00:60Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1234567891Z",
		"2024-01-01t00:00:00Z", "2024-01-01T00:00:00+24:00", "2024-01-01T00:00:00z", "2024-01-01T00:00:00,5Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sec, ok := rfc3339Seconds(s)
		if !ok {
			return
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("rfc3339Seconds(%q) = %d, but time.Parse: %v", s, sec, err)
		}
		if tm.Unix() != sec {
			t.Fatalf("rfc3339Seconds(%q) = %d, time.Parse gives %d", s, sec, tm.Unix())
		}
	})
}

// TestRFC3339SecondsTakesTheUsualForms: timestamps as analytics libraries
// write them (UTC with milliseconds, offsets, no fraction) take the fast
// path, over four centuries of random instants.
func TestRFC3339SecondsTakesTheUsualForms(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600+30*60), time.FixedZone("", -8*3600)}
	for range 20000 {
		tm := time.Unix(rng.Int64N(400*365*86400)-200*365*86400, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
		for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05.000Z07:00"} {
			s := tm.Format(layout)
			if sec, ok := rfc3339Seconds(s); !ok || sec != tm.Unix() {
				t.Fatalf("rfc3339Seconds(%q) = %d, %v; want %d", s, sec, ok, tm.Unix())
			}
		}
	}
}
