package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

// addOptions defines the delivery core's options (processor.Options) as
// flags of fs that set cfg: every option, or those named. Each flag has
// the option's name, default and help, whatever the command.
func addOptions(fs *flag.FlagSet, cfg *processor.Config, names ...string) {
	for _, o := range processor.Options() {
		if len(names) == 0 || slices.Contains(names, o.Name) {
			fs.Var(&optionFlag{o: o, cfg: cfg}, o.Name, o.Help)
			if o.Kind == processor.Bool && o.Default == "true" {
				fs.Var(&negatedFlag{optionFlag{o: o, cfg: cfg}}, "no-"+o.Name, "--"+o.Name+"=false")
			}
		}
	}
}

// negatedFlag is --no-NAME of a boolean option that is on by default: it
// turns the option off.
type negatedFlag struct{ optionFlag }

func (f *negatedFlag) String() string { return "" }
func (f *negatedFlag) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	return f.o.Set(f.cfg, strconv.FormatBool(!b))
}

// connOptions are the options of commands that only talk to Intercom.
var connOptions = []string{"region", "api-base", "token-file", "intercom-version"}

// optionFlag is an option as a flag.
type optionFlag struct {
	o   processor.Option
	cfg *processor.Config
}

func (f *optionFlag) String() string {
	if f.o.Kind == processor.Bool && f.o.Default == "false" {
		return "" // as the flag package's own booleans: no "(default false)"
	}
	return f.o.Default
}
func (f *optionFlag) Set(s string) error { return f.o.Set(f.cfg, s) }
func (f *optionFlag) IsBoolFlag() bool   { return f.o.Kind == processor.Bool }

// optionError prints a problem of cfg's options as a command's usage error
// and returns exit status 2: `send: --api-base "x": want an https:// URL
// with a host`.
func optionError(cmd string, stderr io.Writer, err error) int {
	var oe *processor.OptionError
	if errors.As(err, &oe) {
		fmt.Fprintf(stderr, "%s: --%v\n", cmd, oe)
	} else {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
	}
	return 2
}

// newProcessor assembles the delivery core of a command from cfg: its
// options are checked (a usage error, exit 2), its rules compiled (every
// problem on stderr, exit 1), then the Intercom client made (exit 2: no
// token, say). ok is false with the exit status in code.
func newProcessor(cmd string, cfg processor.Config, stderr io.Writer) (p *processor.Processor, code int, ok bool) {
	if err := cfg.Validate(); err != nil {
		return nil, optionError(cmd, stderr, err), false
	}
	if cfg.Engine == nil {
		eng, ok := compileOrReport(cmd, cfg.Rules, stderr)
		if !ok {
			return nil, 1, false
		}
		cfg.Engine = eng
	}
	p, err := processor.New(cfg)
	if err != nil {
		return nil, optionError(cmd, stderr, err), false
	}
	return p, 0, true
}

// compileOrReport compiles the chosen rules for command cmd, reporting
// every problem on stderr; ok is false when there were any.
func compileOrReport(cmd string, r processor.Rules, stderr io.Writer) (*engine.Engine, bool) {
	eng, err := r.Compile()
	if err != nil {
		fmt.Fprintf(stderr, "%s: rules failed to load:\n%v\n", cmd, err)
		return nil, false
	}
	return eng, true
}
