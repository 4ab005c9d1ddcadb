package processor_test

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/processor"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
	"github.com/intercom-actions/intercom-actions/rules"
)

// Make a Processor (it compiles its rules once) and hand it events. Here
// Intercom is the simulator on a loopback port; for Intercom itself leave
// APIBase out (or set Region) and give a real token.
func Example() {
	sim := simulator.NewServer(simulator.Options{Token: "secret"})
	defer sim.Close()

	yaml := []byte(`
rules:
  - name: Identify Contact
    action: identify_contact
    fields:
      role: {value: user}
  - name: Pro Signups
    action: track_event
    trigger: type == "track" && properties.plan == "pro"
`)
	p, err := processor.New(processor.Config{
		Rules:       processor.Rules{Sources: []rules.Source{{Name: "rules.yaml", Data: yaml}}},
		APIBase:     sim.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "secret"}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	ctx := context.Background()
	for _, event := range []string{
		`{"type":"identify","userId":"u1","traits":{"email":"ada@example.com","name":"Ada"}}`,
		`{"type":"track","userId":"u1","event":"Signed Up","properties":{"plan":"pro"},"timestamp":"2024-03-01T12:00:00Z"}`,
		`{"type":"track","userId":"u1","event":"Signed Up","properties":{"plan":"free"}}`,
	} {
		res, err := p.Process(ctx, []byte(event))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %d of %d actions sent in %d calls\n", res.Status, res.Sent, res.Actions, res.Calls)
	}
	st := sim.State()
	fmt.Println(st.Contacts[0].ExternalID, st.Contacts[0].Name, st.Events[0].EventName)
	// Output:
	// sent: 1 of 1 actions sent in 1 calls
	// sent: 1 of 1 actions sent in 1 calls
	// skipped: 0 of 0 actions sent in 0 calls
	// u1 Ada Signed Up
}

// A batch keeps each contact's events in order: the group call that comes
// before its user's identify waits for it, and the user is attached. A
// group for a user never identified fails with action.ErrContactNotFound,
// and the other events are not held up by it.
func ExampleProcessor_ProcessBatch() {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()

	p, err := processor.New(processor.Config{ // the zero Rules: Segment's presets
		APIBase:     sim.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "token"}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	results, err := p.ProcessBatch(context.Background(), [][]byte{
		[]byte(`{"type":"group","userId":"u1","groupId":"acme","traits":{"name":"Acme"}}`),
		[]byte(`{"type":"identify","userId":"u2","traits":{"email":"grace@example.com"}}`),
		[]byte(`{"type":"identify","userId":"u1","traits":{"email":"ada@example.com"}}`),
		[]byte(`{"type":"group","userId":"u3","groupId":"acme"}`),
		[]byte(`{"type":"page","userId":"u2"}`),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, res := range results {
		fmt.Println(i, res.Status, errors.Is(res.Err, action.ErrContactNotFound))
	}
	for _, c := range sim.State().Canonical().Contacts {
		fmt.Println(c.ExternalID, c.CompanyIDs)
	}
	// Output:
	// 0 sent false
	// 1 sent false
	// 2 sent false
	// 3 failed true
	// 4 skipped false
	// u1 [acme]
	// u2 []
}

// A failed event's Result.Err holds each failure as a typed error: the
// rule that failed, Intercom's answer, an unusable event.
func ExampleResult() {
	// A workspace that has only the custom attribute "plan".
	sim := simulator.NewServer(simulator.Options{DataAttributes: []string{"plan"}})
	defer sim.Close()

	yaml := []byte(`
rules:
  - name: Identify Contact
    action: identify_contact
    fields:
      role: {value: user}
      custom_attributes: {path: traits, except: [email]}
`)
	p, err := processor.New(processor.Config{
		Rules:       processor.Rules{Sources: []rules.Source{{Name: "rules.yaml", Data: yaml}}},
		APIBase:     sim.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "token"}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	ctx := context.Background()
	res, _ := p.Process(ctx, []byte(`{"type":"identify","userId":"u1","traits":{"email":"ada@example.com","seats":3}}`))
	var ruleErr *engine.RuleError
	var apiErr *intercom.APIError
	if errors.As(res.Err, &ruleErr) && errors.As(res.Err, &apiErr) {
		fmt.Printf("%s: rule %q: intercom answered %d %s: %s\n", res.Status, ruleErr.Rule, apiErr.Status, apiErr.Code, apiErr.Message)
	}

	res, _ = p.Process(ctx, []byte(`{"type":"identify","userId":"u1"`))
	var evErr *engine.EventError
	if errors.As(res.Err, &evErr) {
		fmt.Printf("%s: %v\n", res.Status, evErr)
	}
	// Output:
	// failed: rule "Identify Contact": intercom answered 400 parameter_invalid: Custom attribute 'seats' does not exist
	// failed: invalid event: not valid JSON: unexpected end of JSON input (at byte 32)
}

// Every problem in the rules comes back at once, each at its file, line
// and column.
func ExampleRules_Compile() {
	_, err := processor.Rules{Sources: []rules.Source{{Name: "rules.yaml", Data: []byte(`
rules:
  - name: Track Event
    action: track_event
    trigger: type = "track"
    fields:
      event_nme: event
`)}}}.Compile()
	fmt.Println(err)
	// Output:
	// rules.yaml:5:19: rule "Track Event": trigger: unexpected "=": compare with ==, not =
	// rules.yaml:7:7: rule "Track Event": field "event_nme": track_event has no such field (did you mean "event_name"?)
}
