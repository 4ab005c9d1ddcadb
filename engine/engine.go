// Package engine matches Segment events against compiled rules and plans
// the Intercom actions they call for. It does no I/O: an event goes in,
// planned actions come out, so it is exact to test and safe to embed.
//
// The shape follows compile once, evaluate many:
//
//	set, err := rules.Load("rules/")   // parse, validate, compile triggers and paths
//	eng, err := engine.Compile(set)     // prepare the enabled rules
//	actions, err := eng.Evaluate(event) // per event; safe for concurrent use
package engine

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/event"
	"github.com/intercom-actions/intercom-actions/rules"
)

// Action is one planned Intercom action: what a matching rule produced
// for an event, with its fields converted to what Intercom accepts.
type Action struct {
	Rule     string         `json:"rule"`   // the rule's name
	Action   string         `json:"action"` // e.g. "identify_contact"
	Fields   map[string]any `json:"fields"` // string, bool, int64, json.Number or rules.Object values
	Warnings []string       `json:"warnings,omitempty"`
}

// Str returns the string field name, or "" if it is not set.
func (a *Action) Str(name string) string {
	s, _ := a.Fields[name].(string)
	return s
}

// Engine is a compiled rule set. It is safe for concurrent use.
type Engine struct {
	rules    []*rules.Rule
	finishes []func(*Action) error // rules[i]'s action finisher, looked up once
	docs     sync.Pool
}

// Compile prepares the enabled rules of set for evaluation.
func Compile(set *rules.RuleSet) (*Engine, error) {
	if set == nil {
		return nil, errors.New("engine: no rule set")
	}
	e := &Engine{rules: set.Enabled()}
	for _, r := range e.rules {
		if r.Trigger == nil || r.Action == nil {
			return nil, fmt.Errorf("engine: rule %q is not compiled (load rules with rules.Load)", r.Name)
		}
		e.finishes = append(e.finishes, finishers[r.Action.Name])
	}
	e.docs.New = func() any { return new(event.Doc) }
	return e, nil
}

// Rules returns the enabled rules the engine checks, in order.
func (e *Engine) Rules() []*rules.Rule { return e.rules }

// EventError means the event itself is unusable: not JSON, not an object,
// or without a valid type. No rule was checked.
type EventError struct{ Reason string }

func (e *EventError) Error() string { return "invalid event: " + e.Reason }

// RuleError is one rule that failed on an event: its trigger failed to run,
// or a required field could not be mapped. Other rules are not affected.
type RuleError struct {
	Rule string
	Err  error
}

func (e *RuleError) Error() string { return fmt.Sprintf("rule %q: %v", e.Rule, e.Err) }

// Unwrap returns the underlying error.
func (e *RuleError) Unwrap() error { return e.Err }

// RuleErrors is every rule that failed on one event.
type RuleErrors []*RuleError

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
// case the actions of the other rules are still returned.
func (e *Engine) Evaluate(raw []byte) ([]Action, error) {
	doc := e.docs.Get().(*event.Doc)
	defer e.docs.Put(doc)
	if err := doc.Reset(raw); err != nil {
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

	var actions []Action
	var errs RuleErrors
	for i, r := range e.rules {
		if !r.Trigger.CanMatch(t.Str) {
			continue
		}
		match, err := true, error(nil)
		if !r.Trigger.Exact {
			match, err = r.Trigger.Eval(doc)
		}
		if err != nil {
			errs = append(errs, &RuleError{Rule: r.Name, Err: fmt.Errorf("trigger: %s", firstLine(err))})
			continue
		}
		if !match {
			continue
		}
		a, err := mapAction(r, e.finishes[i], doc)
		if err != nil {
			errs = append(errs, &RuleError{Rule: r.Name, Err: err})
			continue
		}
		actions = append(actions, a)
	}
	if len(errs) > 0 {
		return actions, errs
	}
	return actions, nil
}

func known(t string) bool {
	for _, k := range eventTypes {
		if t == k {
			return true
		}
	}
	return false
}

// mapAction evaluates and converts every field of r, then applies the
// action's own rules (see finish.go).
func mapAction(r *rules.Rule, finish func(*Action) error, doc *event.Doc) (Action, error) {
	a := Action{Rule: r.Name, Action: r.Action.Name, Fields: make(map[string]any, len(r.Fields))}
	for _, m := range r.Fields {
		v := m.Value.Eval(doc)
		out, ok, warnings, err := m.Field.Convert(v)
		for _, w := range warnings {
			a.Warnings = append(a.Warnings, w)
		}
		switch {
		case err != nil && m.Field.Required:
			return a, fmt.Errorf("field %s (%s): %v", m.Field.Name, m.Value.Source, err)
		case err != nil:
			a.Warnings = append(a.Warnings, fmt.Sprintf("%s: left out: %v (from %s)", m.Field.Name, err, m.Value.Source))
		case ok:
			a.Fields[m.Field.Name] = out
		case m.Field.Required:
			return a, fmt.Errorf("field %s: required, but %s is missing or empty", m.Field.Name, m.Value.Source)
		}
	}
	if finish != nil {
		if err := finish(&a); err != nil {
			return a, err
		}
	}
	return a, nil
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
