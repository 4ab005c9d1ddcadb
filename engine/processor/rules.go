package processor

import (
	"io/fs"
	"os"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/rules"
)

// Rules chooses the rules to compile, as the command line's --rules,
// --with-defaults and --preset do. The zero Rules is the embedded default
// rules (Segment's presets).
type Rules struct {
	// Files are rule files and folders (every *.yaml and *.yml in a
	// folder, in name order).
	Files []string
	// Sources are rule files held in memory; each Name is used in errors.
	Sources []rules.Source
	// WithDefaults layers Files and Sources on the embedded defaults: a
	// rule named like a default rule replaces it, the others are added.
	// Without Files or Sources the defaults are used anyway.
	WithDefaults bool
	// Presets names embedded opt-in presets to add (see rules.Presets),
	// e.g. "classic-company".
	Presets []string
}

// Compile reads and compiles the rules: the one way to compile rules.
// Every problem of syntax or meaning across all the files comes back at
// once as a rules.ErrorList, each as `file:line:col: rule "R": field "f":
// message`; a file that cannot be read is reported as it is.
func (r Rules) Compile() (*engine.Engine, error) {
	set, _, err := r.read()
	if set == nil {
		return nil, err
	}
	return engine.Compile(set)
}

// Replaced names the default rules that Files and Sources replace (by
// name) when WithDefaults layers them on the defaults; none otherwise.
func (r Rules) Replaced() ([]string, error) {
	set, replaced, err := r.read()
	if set == nil {
		return nil, err
	}
	return replaced, nil
}

// read reads and parses the rules: the set, with its syntax problems in
// set.Errors (a nil set when a file cannot be read), and the default rules
// it replaces.
func (r Rules) read() (set *rules.Set, replaced []string, err error) {
	var srcs []rules.Source
	own := len(r.Files) > 0 || len(r.Sources) > 0
	if len(r.Files) > 0 {
		if srcs, err = readFiles(r.Files...); err != nil {
			return nil, nil, err
		}
	}
	srcs = append(srcs, r.Sources...)
	if !own {
		srcs = rules.Defaults()
	}
	extra, err := rules.Presets(r.Presets...)
	if err != nil {
		return nil, nil, err
	}
	set, err = rules.ParseAll(append(srcs, extra...)...)
	if set == nil {
		return nil, nil, err
	}
	if r.WithDefaults && own {
		base, err := rules.ParseAll(rules.Defaults()...)
		if base == nil {
			return nil, nil, err
		}
		set, replaced = rules.Overlay(base, set)
	}
	return set, replaced, nil
}

// readFiles reads the rule files and folders at OS paths (absolute or
// relative; every *.yaml and *.yml in a folder, in name order), each named
// in messages by its path as given (a folder's files as folder/name). A
// file or folder that cannot be read is reported as the os package words
// it ("stat rules/x.yaml: no such file or directory").
func readFiles(paths ...string) ([]rules.Source, error) {
	return rules.ReadFS(osFS{}, paths...)
}

// osFS lets rules.ReadFS take OS paths: package rules does no I/O of its
// own, and reads only through the fs.FS it is given. The paths are passed
// to the os package as they are (unlike os.DirFS, which takes only paths
// under its root).
type osFS struct{}

func (osFS) Open(name string) (fs.File, error)          { return os.Open(name) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
