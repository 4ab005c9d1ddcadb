package action

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// AttributeMode says what the call sequences do with the custom attributes
// of a contact or company that the Intercom workspace does not have:
// Intercom refuses a whole create or update that carries one (400 "Custom
// attribute 'x' does not exist").
type AttributeMode int

const (
	// SendAttributes sends custom attributes as mapped, without looking at
	// the workspace: an attribute it lacks fails the call (the default,
	// and what Segment's destination does).
	SendAttributes AttributeMode = iota
	// CreateAttributes lists the workspace's attributes once per model,
	// creates the missing ones (POST /data_attributes, the type inferred
	// from the value) while the workspace is under Intercom's limit of
	// MaxCustomAttributes, and drops those it cannot create with a warning.
	CreateAttributes
	// ExistingAttributes lists the workspace's attributes once per model
	// and drops the missing ones with a warning; it creates none.
	ExistingAttributes
)

// MaxCustomAttributes is the most custom data attributes an Intercom
// workspace holds, people and company data together (archived ones do not
// count).
const MaxCustomAttributes = 250

var attributeModes = []string{"send", "create", "existing"}

// String returns the mode's name: send, create or existing.
func (m AttributeMode) String() string {
	if int(m) >= 0 && int(m) < len(attributeModes) {
		return attributeModes[m]
	}
	return fmt.Sprintf("AttributeMode(%d)", int(m))
}

// ParseAttributeMode reads a mode's name: send, create or existing.
func ParseAttributeMode(s string) (AttributeMode, error) {
	for i, name := range attributeModes {
		if s == name {
			return AttributeMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown custom attribute mode %q (expected one of %s)", s, strings.Join(attributeModes, ", "))
}

// Attributes knows the custom data attributes of one workspace for a run
// of the call sequences (Executor.Attributes). It lists each model's
// attributes once, the first time an action needs them, and remembers what
// it created and what it could not. It is safe for concurrent use; make
// one per run (and per workspace) with NewAttributes.
type Attributes struct {
	mode AttributeMode

	mu      sync.Mutex
	known   map[string]map[string]bool // model → names of its custom attributes, once listed
	all     map[string]bool            // the names of every model listed: a name is used once across models
	refused map[string]string          // model + "\x00" + name → why it is dropped
}

// NewAttributes returns an Attributes that handles missing attributes as
// mode says.
func NewAttributes(mode AttributeMode) *Attributes {
	return &Attributes{mode: mode, known: map[string]map[string]bool{}, all: map[string]bool{}, refused: map[string]string{}}
}

// Mode returns the mode a is in.
func (a *Attributes) Mode() AttributeMode { return a.mode }

// models are Intercom's data-attribute models.
var models = []string{"contact", "company"}

// list fetches model's attributes unless they are known; the caller holds
// a.mu.
func (a *Attributes) list(ctx context.Context, api intercom.API, model string) error {
	if a.known[model] != nil {
		return nil
	}
	attrs, err := api.ListDataAttributes(ctx, model)
	if err != nil {
		return fmt.Errorf("list %s data attributes: %w", model, err)
	}
	names := map[string]bool{}
	for _, at := range attrs {
		if at.Custom && !at.Archived && (at.Model == "" || at.Model == model) {
			names[at.Name] = true
			a.all[at.Name] = true
		}
	}
	a.known[model] = names
	return nil
}

// dataType infers the data type of an attribute to create from the JSON
// value it is first sent with. Text is "string" even when it reads as a
// date: Intercom's date attributes take Unix timestamps, and the value is
// sent as the text it is.
func dataType(raw string) string {
	switch {
	case strings.HasPrefix(raw, `"`):
		return "string"
	case raw == "true" || raw == "false":
		return "boolean"
	case strings.ContainsAny(raw, ".eE"):
		return "float"
	}
	return "integer"
}

// filter returns obj with the attributes model's workspace lacks created or
// dropped as a's mode says; warn receives one line per dropped attribute,
// log a warning the first time an attribute is dropped in the run.
func (a *Attributes) filter(ctx context.Context, api intercom.API, log *slog.Logger, model string, obj intercom.Object, warn func(string)) (intercom.Object, error) {
	if a == nil || a.mode == SendAttributes || len(obj) == 0 {
		return obj, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.list(ctx, api, model); err != nil {
		return nil, err
	}
	out := make(intercom.Object, 0, len(obj))
	for _, m := range obj {
		if a.known[model][m.Key] {
			out = append(out, m)
			continue
		}
		key := model + "\x00" + m.Key
		why, refused := a.refused[key]
		if !refused {
			var err error
			if why, err = a.create(ctx, api, model, m); err != nil {
				return nil, err
			}
			if why == "" {
				out = append(out, m)
				continue
			}
			a.refused[key] = why
			log.WarnContext(ctx, "intercom: custom attribute dropped", "model", model, "attribute", m.Key, "reason", why)
		}
		warn(fmt.Sprintf("custom_attributes: dropped %q: %s", m.Key, why))
	}
	if len(out) == 0 {
		out = nil
	}
	return out, nil
}

// create makes the custom attribute m of model, if a's mode allows and the
// workspace has room. why says why it was not made ("" when it was); an
// error is a failure that may pass (the list or create call failed for
// another reason than Intercom refusing the attribute). The caller holds
// a.mu.
func (a *Attributes) create(ctx context.Context, api intercom.API, model string, m intercom.Member) (why string, err error) {
	if a.mode != CreateAttributes {
		return fmt.Sprintf("the workspace has no such %s attribute (custom attributes: existing)", model), nil
	}
	for _, other := range models { // the limit counts both models
		if err := a.list(ctx, api, other); err != nil {
			return "", err
		}
	}
	if n := len(a.all); n >= MaxCustomAttributes {
		return fmt.Sprintf("the workspace has no such %s attribute, and it has %d custom attributes, Intercom's limit", model, n), nil
	}
	body := intercom.DataAttributeBody{Name: m.Key, Model: model, DataType: dataType(m.Raw)}
	if _, err := api.CreateDataAttribute(ctx, body); err != nil {
		var ae *intercom.APIError
		if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 && ae.Status != 401 && ae.Status != 429 {
			// Intercom refuses this attribute (a bad name, one used by the
			// other model, the limit): it cannot be sent.
			return fmt.Sprintf("the workspace has no such %s attribute, and creating it failed: %v", model, err), nil
		}
		return "", fmt.Errorf("create %s data attribute %q: %w", model, m.Key, err)
	}
	a.known[model][m.Key] = true
	a.all[m.Key] = true
	return "", nil
}
