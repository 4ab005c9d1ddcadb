// Package bounded reads numbers and durations given as text (a flag, a
// config field) that must be at least a bound, with the messages every
// face of the command line and the delivery core gives.
package bounded

import (
	"fmt"
	"strconv"
	"time"
)

// Int reads a whole number of at least min.
func Int(s string, min int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("not a whole number")
	}
	if n < min {
		return 0, fmt.Errorf("must be at least %d", min)
	}
	return n, nil
}

// Duration reads a duration (such as 30s) of at least min.
func Duration(s string, min time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration (such as 30s, 5m or 1h)")
	}
	if d < min {
		if min == 0 {
			return 0, fmt.Errorf("must not be negative")
		}
		return 0, fmt.Errorf("must be at least %s", min)
	}
	return d, nil
}
