package bounded

import (
	"testing"
	"time"
)

func TestIntAndDuration(t *testing.T) {
	for _, tc := range []struct {
		s    string
		min  int
		want string
	}{{"x", 1, "not a whole number"}, {"0", 1, "must be at least 1"}, {"3", 1, ""}} {
		n, err := Int(tc.s, tc.min)
		if got := errText(err); got != tc.want || err == nil && n != 3 {
			t.Errorf("Int(%q, %d) = %d, %q; want %q", tc.s, tc.min, n, got, tc.want)
		}
	}
	for _, tc := range []struct {
		s    string
		min  time.Duration
		want string
	}{{"soon", 0, "not a duration (such as 30s, 5m or 1h)"}, {"-1s", 0, "must not be negative"},
		{"0s", time.Millisecond, "must be at least 1ms"}, {"5s", 0, ""}} {
		d, err := Duration(tc.s, tc.min)
		if got := errText(err); got != tc.want || err == nil && d != 5*time.Second {
			t.Errorf("Duration(%q, %s) = %s, %q; want %q", tc.s, tc.min, d, got, tc.want)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
