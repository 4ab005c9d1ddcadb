// Package bounded reads numbers and durations given as text (a flag, a
// config field) that must be at least a bound, with the messages every
// face of the command line and the delivery core gives.
package bounded

import (
	"fmt"
	"strconv"
	"strings"
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

// Size reads a positive byte count: 1048576, 512MiB, 2GB, 1.5GiB.
func Size(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	num, mult := strings.TrimSpace(s), 1.0
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(num), strings.ToUpper(u.suffix)) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("not a size (such as 1GiB, 512MiB or 2000000)")
	}
	return int64(v * mult), nil
}
