package engine_test

import (
	"encoding/json"
	"fmt"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/rules"
)

// Compile once, then evaluate each event: the matching rules' actions come
// back with their fields converted for Intercom. No I/O happens here.
func Example() {
	set, err := rules.Parse("rules.yaml", []byte(`
rules:
  - name: Pro Signups
    action: track_event
    trigger: type == "track" && event == "Signed Up" && properties.plan == "pro"
    fields:
      event_name: {value: pro-signup}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	eng, err := engine.Compile(set)
	if err != nil {
		fmt.Println(err)
		return
	}
	actions, err := eng.Evaluate([]byte(`{"type":"track","event":"Signed Up","userId":"u-1",
		"timestamp":"2024-03-01T12:00:00Z","properties":{"plan":"pro","seats":3}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range actions {
		ev := a.Fields.(*action.TrackEvent) // typed fields: the rule's action is known
		fmt.Println(a.Rule, a.Kind, ev.EventName, ev.UserID, *ev.CreatedAt)
		planned, _ := json.Marshal(a)
		fmt.Println(string(planned))
	}
	// Output:
	// Pro Signups track_event pro-signup u-1 1709294400
	// {"rule":"Pro Signups","action":"track_event","fields":{"created_at":1709294400,"event_name":"pro-signup","metadata":{"plan":"pro","seats":3},"user_id":"u-1"}}
}
