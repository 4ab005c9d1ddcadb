// Package engine matches Segment events against compiled rules and plans
// the Intercom actions they call for. It does no I/O: an event goes in,
// planned actions come out, so it is exact to test and safe to embed. It
// and everything it imports (rules, engine/event, engine/action,
// engine/intercom) are pure.
//
// The shape follows compile once, evaluate many:
//
//	set, err := rules.LoadFS(os.DirFS("."), "rules") // read the rule files (syntax)
//	eng, err := engine.Compile(set)                  // check what they mean; compile triggers and paths
//	actions, err := eng.Evaluate(event)              // per event; safe for concurrent use
package engine

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/event"
	"github.com/intercom-actions/intercom-actions/rules"
)

// Engine is a compiled rule set. It is safe for concurrent use.
type Engine struct {
	warnings rules.ErrorList // what compiles but may not do what is meant
	all      []*rule         // every rule, in file order
	rules    []*rule         // the enabled ones, which Evaluate checks
	scratch  sync.Pool       // of *scratch
}

// scratch is what one evaluation uses and the next can reuse: the event
// document, and a warnings collector whose func is made once, so planning
// an action allocates only what the action keeps.
type scratch struct {
	doc      event.Doc
	value    event.Value     // the field being planned: passed on by pointer, not copied
	actions  []action.Action // the event's, before they are copied out
	warnings []string
	warn     func(string)
}

func newScratch() any {
	s := &scratch{}
	s.warn = func(w string) { s.warnings = append(s.warnings, w) }
	return s
}

// Compile checks what the rules of set mean and compiles them: actions and
// fields must exist, triggers must compile to conditions, paths and
// templates must parse, literals must fit their fields, required fields
// must be mapped. Every problem — set.Errors from reading the files, and
// these — comes back at once as a rules.ErrorList sorted by position.
func Compile(set *rules.Set) (*Engine, error) {
	if set == nil {
		return nil, errors.New("engine: no rule set")
	}
	c := &compiler{errs: append(rules.ErrorList(nil), set.Errors...)}
	e := &Engine{}
	for _, r := range set.Rules {
		if cr := c.compile(r); cr != nil {
			e.all = append(e.all, cr)
			if cr.enabled {
				e.rules = append(e.rules, cr)
			}
		}
	}
	if len(c.errs) > 0 {
		c.errs.Sort()
		return nil, c.errs
	}
	e.scratch.New = newScratch
	c.warnings.Sort()
	e.warnings = c.warnings
	return e, nil
}

// Warnings are what the rules say that compiles but may not do what the
// author means (a metadata mapping that can give Intercom more than its
// 10 keys, without keep), each at its position, with "warning: " before
// its message.
func (e *Engine) Warnings() rules.ErrorList { return e.warnings }

// RuleInfo describes one compiled rule.
type RuleInfo struct {
	Name    string
	Action  string // the action's name
	Trigger string // the trigger's source: the rule's, or the action's preset
	Enabled bool
}

// Rules describes every rule, disabled ones included, in file order.
func (e *Engine) Rules() []RuleInfo {
	out := make([]RuleInfo, len(e.all))
	for i, r := range e.all {
		out[i] = RuleInfo{Name: r.name, Action: r.kind.Name, Trigger: r.trigger.source, Enabled: r.enabled}
	}
	return out
}

// EventError means the event itself is unusable: not JSON, not an object,
// or without a valid type. No rule was checked.
type EventError struct{ Reason string }

func (e *EventError) Error() string { return "invalid event: " + e.Reason }

// RuleError is one rule that failed on an event: its trigger failed to run,
// or a required field could not be mapped (or, in a dispatch.Result, its
// action could not be sent). Other rules are not affected.
type RuleError struct {
	Rule string
	Err  error
}

func (e *RuleError) Error() string { return fmt.Sprintf("rule %q: %v", e.Rule, e.Err) }

// Unwrap returns the underlying error.
func (e *RuleError) Unwrap() error { return e.Err }

// RuleErrors is every rule that failed on one event.
type RuleErrors []*RuleError

// Unwrap returns the rules' errors, so that errors.Is and errors.As look
// into each.
func (l RuleErrors) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

func (l RuleErrors) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// eventTypes are the Segment spec's call types.
var eventTypes = []string{"identify", "track", "group", "page", "screen", "alias"}

// Evaluate checks every rule against one event and returns the actions of
// the rules that match, in rule order. The error is an *EventError when the
// event is unusable, or RuleErrors when some rules failed; in the latter
// case the actions of the other rules are still returned. The actions do
// not refer to raw's memory: the caller may reuse raw once it returns.
func (e *Engine) Evaluate(raw []byte) ([]action.Action, error) {
	actions, err := e.evaluate(raw, nil)
	action.Detach(actions, raw) // copies what the actions keep, not the event
	return actions, err
}

// EvaluateNoCopy is Evaluate for callers that own the buffer: the actions
// it returns may refer to raw's memory, so raw must not change while they
// are in use. The planner, which writes each batch's actions before it
// reuses the batch, and the dispatcher, whose sources hand over a buffer
// per event, use it.
func (e *Engine) EvaluateNoCopy(raw []byte) ([]action.Action, error) {
	return e.evaluate(raw, nil)
}

// EvaluateIn is EvaluateNoCopy with the actions' memory taken from mem:
// once mem has grown to the needs of a batch of events, evaluating them
// allocates almost nothing. The actions are valid until mem.Reset, and
// while raw is unchanged. The planner keeps an arena per batch of lines.
func (e *Engine) EvaluateIn(mem *action.Arena, raw []byte) ([]action.Action, error) {
	return e.evaluate(raw, mem)
}

// evaluate plans the actions of raw, taking their memory from mem (nil:
// the heap).
func (e *Engine) evaluate(raw []byte, mem *action.Arena) ([]action.Action, error) {
	s := e.scratch.Get().(*scratch)
	defer e.scratch.Put(s)
	doc := &s.doc
	if err := doc.ResetNoCopy(raw); err != nil {
		return nil, &EventError{Reason: err.Error()}
	}
	t := doc.Top("type")
	switch {
	case !t.Exists():
		return nil, &EventError{Reason: `no "type" (expected one of ` + strings.Join(eventTypes, ", ") + `)`}
	case t.Type != gjson.String:
		return nil, &EventError{Reason: `"type" is ` + t.Raw + `, not a string`}
	case !known(t.Str):
		return nil, &EventError{Reason: fmt.Sprintf("unknown type %q (expected one of %s)", t.Str, strings.Join(eventTypes, ", "))}
	}

	actions := s.actions[:0]
	var errs RuleErrors
	for _, r := range e.rules {
		if !r.trigger.canMatch(t.Str) {
			continue
		}
		match, err := true, error(nil)
		if !r.trigger.exact {
			match, err = r.trigger.eval(doc)
		}
		if err != nil {
			errs = append(errs, &RuleError{Rule: r.name, Err: fmt.Errorf("trigger: %s", jsonWords(firstLine(err)))})
			continue
		}
		if !match {
			continue
		}
		a, err := plan(r, s, mem)
		if err != nil {
			errs = append(errs, &RuleError{Rule: r.name, Err: err})
			continue
		}
		actions = append(actions, a)
	}
	s.actions = actions
	var out []action.Action
	if len(actions) > 0 {
		out = mem.Actions(actions)
		clear(actions) // the scratch keeps no action alive
	}
	if len(errs) > 0 {
		return out, errs
	}
	return out, nil
}

func known(t string) bool {
	for _, k := range eventTypes {
		if t == k {
			return true
		}
	}
	return false
}

// plan evaluates and converts every field of r into the action's fields
// struct, then applies the action's finishing step.
func plan(r *rule, s *scratch, mem *action.Arena) (action.Action, error) {
	a := action.Action{Rule: r.name, Kind: r.kind, Fields: r.kind.NewIn(mem)}
	s.warnings = s.warnings[:0]
	for _, m := range r.fields {
		s.value = m.value.eval(&s.doc, s.warn)
		ok, err := m.field.Assign(a.Fields, &s.value, s.warn, mem)
		switch {
		case err != nil && m.field.Required:
			return a, fmt.Errorf("field %s (%s): %v", m.field.Name, m.value.source, err)
		case err != nil:
			s.warn(fmt.Sprintf("%s: left out: %v (from %s)", m.field.Name, err, m.value.source))
		case !ok && m.field.Required:
			return a, fmt.Errorf("field %s: required, but %s is missing or empty", m.field.Name, m.value.source)
		}
	}
	err := r.kind.Finish(a.Fields, s.warn)
	if len(s.warnings) > 0 {
		a.Warnings = mem.Strings(s.warnings)
	}
	return a, err
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
