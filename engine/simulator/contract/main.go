package contract

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/internal/simhook"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// Main runs a test binary's tests with every exchange of every simulator
// they start checked against the description, and returns the exit code
// for os.Exit: the tests' own, or 1 when an exchange broke the description
// (each violation is printed once, with how often it happened and one
// example). Use it as
//
//	func TestMain(m *testing.M) { os.Exit(contract.Main(m)) }
//
// A run with -bench checks nothing: the check would be part of what the
// benchmarks measure.
func Main(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		return m.Run()
	}
	rec := newRecorder()
	_, _ = loadVendored() // now, not while a test's first request waits; Observe reports an error
	old := simhook.SetObserver(rec.Observe)
	defer simhook.SetObserver(old)
	code := m.Run()
	if testing.Verbose() {
		fmt.Fprint(os.Stderr, rec.Summary())
	}
	if rec.Report(os.Stderr) && code == 0 {
		code = 1
	}
	return code
}

// Observe checks an exchange of a simulator in another process, one a
// test ran and had log its exchanges, as Main checks those of the
// simulators the test binary starts itself. Outside Main it does nothing.
func Observe(ex simulator.Exchange) {
	if f, ok := simhook.Observer().(func(simulator.Exchange)); ok {
		f(ex)
	}
}

// recorder checks exchanges as they come and keeps what broke the
// description. It is safe for concurrent use.
type recorder struct {
	mu       sync.Mutex
	err      error
	checked  int
	ops      map[string]int // exchanges by operation
	waived   map[string]int
	problems map[string]*problem
	order    []string
}

type problem struct {
	count   int
	example simulator.Exchange
}

// newRecorder returns an empty recorder.
func newRecorder() *recorder {
	return &recorder{waived: map[string]int{}, problems: map[string]*problem{}, ops: map[string]int{}}
}

// Observe checks one exchange; it is a simulator.Options.Observe.
func (r *recorder) Observe(ex simulator.Exchange) {
	c, err := loadVendored()
	var vs []violation
	var waived []string
	var op string
	if err == nil {
		op, vs, waived = c.check(ex)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.err = err
		return
	}
	r.checked++
	if op != "" {
		r.ops[op]++
	}
	for _, w := range waived {
		r.waived[w]++
	}
	for _, v := range vs {
		key := listIndex.ReplaceAllString(v.String(), "/${1}/*/")
		p := r.problems[key]
		if p == nil {
			p = &problem{example: ex}
			r.problems[key] = p
			r.order = append(r.order, key)
		}
		p.count++
	}
}

// Violations are the distinct violations seen, in the order first seen.
func (r *recorder) Violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.order)
}

// Summary says how many exchanges of how many operations were checked and
// how often each waiver applied.
func (r *recorder) Summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "contract: %d exchanges of %d operations checked against Intercom's %s description", r.checked, len(r.ops), apiVersion)
	for _, name := range slices.Sorted(maps.Keys(r.waived)) {
		fmt.Fprintf(&b, "; waiver %s: %d", name, r.waived[name])
	}
	b.WriteString("\n")
	return b.String()
}

// Report writes the violations (and a failure to load the description)
// to w and reports whether there were any.
func (r *recorder) Report(w io.Writer) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		fmt.Fprintf(w, "contract: %v\n", r.err)
		return true
	}
	if len(r.order) == 0 {
		return false
	}
	fmt.Fprintf(w, "contract: %d distinct violations of Intercom's %s description (%s); fix the request or the simulator, or waive a defect of the description in %s with its reason:\n",
		len(r.order), apiVersion, descDir, waiversFile)
	for _, key := range r.order {
		p := r.problems[key]
		fmt.Fprintf(w, "- %s (%d×)\n    request: %s\n    answer:  %s\n", key, p.count,
			clip(string(p.example.Request.Body)), clip(strings.TrimSpace(string(p.example.Body))))
	}
	return true
}

// listIndex finds the index of a list item in a JSON pointer, so that one
// fault of every item of a list is reported once.
var listIndex = regexp.MustCompile(`/(data|admins|errors|users|companies)/[0-9]+/`)

// clip shortens a body for a report.
func clip(s string) string {
	const max = 400
	if s == "" {
		return "(empty)"
	}
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
