package dispatch

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// Result.Err carries each failure as a typed error, so an embedding
// program can tell them apart with errors.Is and errors.As, and says
// the same as Result.Errors.
func TestResultErrIsTyped(t *testing.T) {
	apiErr := &intercom.APIError{Status: 400, Code: "parameter_invalid", Message: "Email is invalid", RequestID: "r1"}
	fake := &fakeIntercom{contacts: map[string]bool{}, fail: map[string]error{"Identify Contact": apiErr}}
	var dl bytes.Buffer
	d := newDispatcher(t, fake, &dl, time.Minute)
	var mu sync.Mutex
	results := map[string]Result{}
	d.cfg.Sink.OnResult = func(r Result) {
		mu.Lock()
		results[r.Ref] = r
		mu.Unlock()
	}
	in := "not json\n" +
		`{"type":"track","userId":"u2"}` + "\n" +
		identifyU1 + "\n" +
		`{"type":"group","userId":"u3","groupId":"g1"}` + "\n" +
		`{"type":"page","userId":"u3"}` + "\n"
	if _, err := d.Run(context.Background(), delivery.NewLineSource("in", strings.NewReader(in))); err != nil {
		t.Fatal(err)
	}
	for ref, r := range results {
		if r.Status == delivery.Failed && r.Err == nil || r.Status != delivery.Failed && r.Err != nil {
			t.Errorf("%s: status %s with Err %v", ref, r.Status, r.Err)
		}
		if r.Err != nil && r.Err.Error() != strings.Join(r.Errors, "\n") {
			t.Errorf("%s: Err says %q, Errors %q", ref, r.Err, r.Errors)
		}
	}

	var evErr *engine.EventError
	if err := results["in:1"].Err; !errors.As(err, &evErr) || evErr.Reason != `not valid JSON: invalid character 'o' in literal null (expecting 'u') (at byte 2)` {
		t.Errorf("in:1: %v is not the *engine.EventError", err)
	}

	var ruleErrs engine.RuleErrors
	var ruleErr *engine.RuleError
	err := results["in:2"].Err
	if !errors.As(err, &ruleErrs) || len(ruleErrs) != 1 || ruleErrs[0].Rule != "Track Event" {
		t.Errorf("in:2: %v holds no engine.RuleErrors of Track Event", err)
	}
	if !errors.As(err, &ruleErr) || ruleErr.Error() != `rule "Track Event": field event_name: required, but event is missing or empty` {
		t.Errorf("in:2: %v holds no *engine.RuleError", err)
	}

	var gotAPI *intercom.APIError
	err = results["in:3"].Err
	if !errors.As(err, &gotAPI) || gotAPI != apiErr {
		t.Errorf("in:3: %v holds not the *intercom.APIError", err)
	}
	if !errors.As(err, &ruleErr) || ruleErr.Rule != "Identify Contact" {
		t.Errorf("in:3: %v does not name its rule", err)
	}

	err = results["in:4"].Err
	if !errors.Is(err, action.ErrContactNotFound) || errors.Is(err, delivery.ErrOutcomeUnknown) {
		t.Errorf("in:4: %v is not (just) action.ErrContactNotFound", err)
	}
	if r := results["in:5"]; r.Status != delivery.Skipped || r.Err != nil {
		t.Errorf("in:5: %+v", r)
	}
}

// An action cut off mid-request is delivery.ErrOutcomeUnknown in Result.Err.
func TestResultErrOutcomeUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	exec := executorFunc(func(ctx context.Context, a action.Action) (action.Result, error) {
		cancel()
		<-ctx.Done()
		return action.Result{Calls: 1}, ctx.Err()
	})
	var dl bytes.Buffer
	d := newDispatcher(t, exec, &dl, time.Minute)
	res := d.Process(ctx, Event{Raw: []byte(identifyU1)})
	var ruleErr *engine.RuleError
	if res.Status != delivery.Failed || !errors.Is(res.Err, delivery.ErrOutcomeUnknown) ||
		!errors.As(res.Err, &ruleErr) || ruleErr.Rule != "Identify Contact" {
		t.Errorf("result %+v", res)
	}
}

type executorFunc func(ctx context.Context, a action.Action) (action.Result, error)

func (f executorFunc) Execute(ctx context.Context, a action.Action) (action.Result, error) {
	return f(ctx, a)
}
