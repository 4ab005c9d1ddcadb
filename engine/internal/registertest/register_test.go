// Package registertest shows that an action is one declaration: one
// declared here, outside the project's own units (in its own test binary,
// so it does not join their reference), is named by rules, checked,
// planned and executed like any other.
package registertest

import (
	"context"
	"encoding/json"
	"testing"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
	"github.com/intercom-actions/intercom-actions/rules"
)

// pageViewed is an action declared here, in a test, the way every action
// is declared: nothing else in the project learns of it, yet rules can
// name it, check validates it, the engine plans it and the executor runs it.
type pageViewed struct {
	UserID string
	URL    string
	At     *int64
}

var pageViewedKind = action.Register(action.Spec[pageViewed]{
	Name:    "test_page_viewed",
	Title:   "Page Viewed (test)",
	Trigger: `type == "page"`,
	Doc:     "Send a page call as a data event.",
	Calls:   "`POST /events`",
	Fields: []action.FieldOf[pageViewed]{
		action.StringField("user_id", func(a *pageViewed) *string { return &a.UserID }).Required().Default("userId"),
		action.StringField("url", func(a *pageViewed) *string { return &a.URL }).Default("properties.url"),
		action.DatetimeField("viewed_at", func(a *pageViewed) **int64 { return &a.At }).Required().Default("timestamp"),
	},
	Contact: func(a *pageViewed) action.Contact { return action.Contact{ExternalID: a.UserID} },
	Run: func(ctx context.Context, c *action.Call, a *pageViewed) error {
		meta := intercom.Object{}
		if a.URL != "" {
			meta.Set("url", string(intercom.AppendString(nil, a.URL)))
		}
		return c.API.SubmitEvent(ctx, intercom.EventBody{EventName: "page-viewed", CreatedAt: *a.At, UserID: a.UserID, Metadata: meta})
	},
})

func TestAnActionIsOneDeclaration(t *testing.T) {
	set, err := rules.Parse("r.yaml", []byte("rules:\n  - name: Pages\n    action: test_page_viewed\n    fields:\n      url: {template: 'https://example.com{{properties.path}}'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	actions, err := eng.Evaluate([]byte(`{"type":"page","userId":"u-1","properties":{"path":"/pricing"},"timestamp":"2024-03-01T12:00:00Z"}`))
	if err != nil || len(actions) != 1 {
		t.Fatalf("Evaluate = %+v, %v", actions, err)
	}
	got, err := json.Marshal(actions[0])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"rule":"Pages","action":"test_page_viewed","fields":{"url":"https://example.com/pricing","user_id":"u-1","viewed_at":1709294400}}`
	if string(got) != want {
		t.Errorf("planned %s\nwant    %s", got, want)
	}
	if c := actions[0].Contact(); c.Key() != "user:u-1" {
		t.Errorf("contact %+v", c)
	}

	// A mistake in a rule naming it is reported like any other.
	set, _ = rules.Parse("r.yaml", []byte("rules:\n  - name: Pages\n    action: test_page_viewed\n    fields:\n      viewed: timestamp\n"))
	if _, err := engine.Compile(set); err == nil || err.Error() != `r.yaml:5:7: rule "Pages": field "viewed": test_page_viewed has no such field (known: user_id, url, viewed_at)` {
		t.Errorf("compile error = %v", err)
	}

	sim := simulator.NewServer(simulator.Options{Token: "tok"})
	defer sim.Close()
	client, err := rest.New(rest.Config{BaseURL: sim.URL(), TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok"})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateContact(context.Background(), intercom.ContactBody{Role: "user", ExternalID: "u-1"}); err != nil {
		t.Fatal(err)
	}
	sim.ResetRequests()
	res, err := action.Executor{API: client}.Execute(context.Background(), actions[0])
	if err != nil || res.Calls != 1 {
		t.Fatalf("Execute = %+v, %v", res, err)
	}
	if err := sim.ExpectTranscript(`POST /events {"created_at":1709294400,"event_name":"page-viewed","metadata":{"url":"https://example.com/pricing"},"user_id":"u-1"} [202]`); err != nil {
		t.Error(err)
	}
}
