package cli

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/bounded"
)

// Flags whose values are checked when they are parsed, so that a bad value
// is a usage error (exit 2, with the command's flags) before any work.

// intFlag defines an int flag that must be at least min.
func intFlag(fs *flag.FlagSet, name string, value, min int, usage string) *int {
	p := new(int)
	*p = value
	fs.Var(&boundedInt{p: p, min: min}, name, usage)
	return p
}

type boundedInt struct {
	p   *int
	min int
}

func (b *boundedInt) String() string {
	if b.p == nil {
		return "0"
	}
	return strconv.Itoa(*b.p)
}

func (b *boundedInt) Set(s string) error {
	n, err := bounded.Int(s, b.min)
	if err == nil {
		*b.p = n
	}
	return err
}

// durationFlag defines a duration flag that must be at least min.
func durationFlag(fs *flag.FlagSet, name string, value, min time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	*p = value
	fs.Var(&boundedDuration{p: p, min: min}, name, usage)
	return p
}

type boundedDuration struct {
	p   *time.Duration
	min time.Duration
}

func (b *boundedDuration) String() string {
	if b.p == nil {
		return "0s"
	}
	return b.p.String()
}

func (b *boundedDuration) Set(s string) error {
	d, err := bounded.Duration(s, b.min)
	if err == nil {
		*b.p = d
	}
	return err
}

// fractionFlag defines a float flag between 0 and 1.
func fractionFlag(fs *flag.FlagSet, name string, value float64, usage string) *float64 {
	p := new(float64)
	*p = value
	fs.Var(&fraction{p: p}, name, usage)
	return p
}

type fraction struct{ p *float64 }

func (f *fraction) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}

func (f *fraction) Set(s string) error {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x < 0 || x > 1 {
		return fmt.Errorf("must be a fraction from 0 to 1, such as 0.05")
	}
	*f.p = x
	return nil
}
