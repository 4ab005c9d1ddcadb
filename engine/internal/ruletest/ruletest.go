// Package ruletest runs golden rule cases: txtar archives that keep rules,
// events and the expected plan together. The Go tests and
// `intercom-actions test` both run cases through this package.
//
// A case archive holds:
//
//	(comment)      what the case shows
//	-- *.yaml --   rule files; when there are none, the embedded defaults
//	-- events.ndjson --  one event per line
//	-- want --     the expected plan: actions as indented JSON, failures as
//	               "error: line N: ...", unmatched events as "skip: line N: ..."
//	-- want-http --  optional: the HTTP transcript of sending the events
//	-- options --  optional: `name: value` lines: presets added to the rules,
//	               and how the events are sent, e.g. `custom-attributes: create`
//
// When the rules do not load, want holds "rules failed to load:" and every
// error, so error messages are golden-tested too; when they load with
// warnings, want starts with them.
package ruletest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/txtar"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/internal/planner"
	"github.com/intercom-actions/intercom-actions/rules"
)

// Section names inside a case archive.
const (
	EventsFile   = "events.ndjson"
	WantFile     = "want"
	WantHTTPFile = "want-http" // optional: the HTTP transcript of sending the events
)

// Outcome is the result of running one case.
type Outcome struct {
	Path    string
	Passed  bool
	Updated bool   // the want section was rewritten (update mode)
	Diff    string // want → got, when not Passed
}

// Find lists the case archives (*.txtar) under the given files and folders,
// in name order.
func Find(paths ...string) ([]string, error) {
	var out []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".txtar") {
				out = append(out, path)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// Runner runs cases.
type Runner struct {
	// Engine is used for cases without rule files; nil means the embedded
	// defaults.
	Engine *engine.Engine
	// Update rewrites a differing want section in place, and the case then
	// counts as passed.
	Update bool
}

// Run runs the case at path with the embedded default rules for cases
// without their own.
func Run(path string, update bool) (Outcome, error) {
	return Runner{Update: update}.Run(path)
}

// Run runs the case at path.
func (rn Runner) Run(path string) (Outcome, error) {
	o := Outcome{Path: path}
	data, err := os.ReadFile(path)
	if err != nil {
		return o, err
	}
	ar := txtar.Parse(data)
	got, err := rn.Output(ar)
	if err != nil {
		return o, fmt.Errorf("%s: %w", path, err)
	}
	sections := []struct {
		name string
		got  []byte
	}{{WantFile, got}}
	if _, ok := section(ar, WantHTTPFile); ok {
		transcript, err := rn.Transcript(ar)
		if err != nil {
			return o, fmt.Errorf("%s: %w", path, err)
		}
		sections = append(sections, struct {
			name string
			got  []byte
		}{WantHTTPFile, transcript})
	}
	var diffs []string
	for _, sec := range sections {
		want, ok := section(ar, sec.name)
		switch {
		case ok && bytes.Equal(want, sec.got):
			continue
		case rn.Update:
			setSection(ar, sec.name, sec.got)
			o.Updated = true
		case !ok:
			diffs = append(diffs, fmt.Sprintf("no `-- %s --` section (run with -update to write it)\n", sec.name))
		default:
			diffs = append(diffs, Diff(sec.name, string(want), "got", string(sec.got)))
		}
	}
	if o.Updated {
		if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
			return o, err
		}
	}
	o.Passed = len(diffs) == 0
	o.Diff = strings.Join(diffs, "")
	return o, nil
}

// engine reads the case's options, and compiles its rule files or gives
// the runner's (default) rules; a rules.ErrorList lists every problem of
// syntax and meaning.
func (rn Runner) engine(ar *txtar.Archive) (*engine.Engine, caseOptions, error) {
	opts, err := readOptions(ar)
	if err != nil {
		return nil, opts, err
	}
	var srcs []rules.Source
	for _, f := range ar.Files {
		if ext := filepath.Ext(f.Name); ext == ".yaml" || ext == ".yml" {
			srcs = append(srcs, rules.Source{Name: f.Name, Data: f.Data})
		}
	}
	switch {
	case len(srcs) == 0 && rn.Engine != nil && len(opts.presets) > 0:
		return nil, opts, errors.New("options: presets join the case's rule files or the defaults; this case has none and the runner was given its own rules")
	case len(srcs) == 0 && rn.Engine != nil:
		return rn.Engine, opts, nil
	case len(srcs) == 0:
		srcs = rules.Defaults()
	}
	extra, err := rules.Presets(opts.presets...)
	if err != nil {
		return nil, opts, fmt.Errorf("options: %w", err)
	}
	set, err := rules.ParseAll(append(srcs, extra...)...)
	if set == nil {
		return nil, opts, err
	}
	eng, err := engine.Compile(set)
	return eng, opts, err
}

// Output computes what the want section of ar should hold.
func (rn Runner) Output(ar *txtar.Archive) ([]byte, error) {
	events, ok := section(ar, EventsFile)
	if !ok {
		return nil, fmt.Errorf("no `-- %s --` section", EventsFile)
	}
	eng, _, err := rn.engine(ar)
	var out bytes.Buffer
	var list rules.ErrorList
	switch {
	case errors.As(err, &list):
		out.WriteString("rules failed to load:\n")
		out.WriteString(err.Error())
		out.WriteString("\n")
		return out.Bytes(), nil
	case err != nil:
		return nil, err
	}
	for _, w := range eng.Warnings() {
		fmt.Fprintf(&out, "%v\n", w)
	}
	sum, err := planner.Run(eng, bytes.NewReader(events), func(r *planner.Result) error {
		return planner.WriteReadable(&out, r)
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&out, "summary: %s\n", sum)
	return out.Bytes(), nil
}

// Complete fills ar's want section, and its want-http section when
// withHTTP, with what the rules produce now: the archive is then a golden
// case that `intercom-actions test` checks.
func (rn Runner) Complete(ar *txtar.Archive, withHTTP bool) error {
	got, err := rn.Output(ar)
	if err != nil {
		return err
	}
	setSection(ar, WantFile, got)
	if withHTTP {
		transcript, err := rn.Transcript(ar)
		if err != nil {
			return err
		}
		setSection(ar, WantHTTPFile, transcript)
	}
	return nil
}

func section(ar *txtar.Archive, name string) ([]byte, bool) {
	for _, f := range ar.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return nil, false
}

func setSection(ar *txtar.Archive, name string, data []byte) {
	for i := range ar.Files {
		if ar.Files[i].Name == name {
			ar.Files[i].Data = data
			return
		}
	}
	ar.Files = append(ar.Files, txtar.File{Name: name, Data: data})
}
