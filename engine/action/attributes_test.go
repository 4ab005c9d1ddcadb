package action

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// withAttributes is identifyUser with custom attributes.
func withAttributes(a Action, attrs intercom.Object) Action {
	switch f := a.Fields.(type) {
	case *IdentifyContact:
		f.CustomAttributes = attrs
	case *IdentifyCompany:
		f.CustomAttributes = attrs
	}
	return a
}

// TestAttributesCreate: with CreateAttributes the workspace's attributes
// are listed once per model, the missing ones created with a type inferred
// from the value (text that reads as a date stays a string), and one that
// Intercom refuses (a name it does not allow; a name the other model uses)
// is dropped with a warning, logged once per run, instead of losing the
// whole update.
func TestAttributesCreate(t *testing.T) {
	s := newSim(t, simulator.Options{DataAttributes: []string{"plan"}})
	c := newClient(t, s)
	var logs bytes.Buffer
	ex := Executor{API: c, Attributes: NewAttributes(CreateAttributes),
		Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: dropTime}))}
	ctx := context.Background()
	attrs := intercom.Object{
		{Key: "plan", Raw: `"pro"`}, {Key: "seats", Raw: `3`}, {Key: "ltv", Raw: `12.5`}, {Key: "beta", Raw: `true`},
		{Key: "renews", Raw: `"2025-01-01T00:00:00Z"`}, {Key: "bad.name", Raw: `"x"`},
	}
	res, err := ex.Execute(ctx, withAttributes(identifyUser("u-1", ""), attrs))
	if err != nil {
		t.Fatal(err)
	}
	wantWarnings := []string{`custom_attributes: dropped "bad.name": the workspace has no such contact attribute, and creating it failed: ` +
		`intercom: 400 parameter_invalid: Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens (request sim-000000000007)`}
	if !reflect.DeepEqual(res.Warnings, wantWarnings) || res.Calls != 8 {
		t.Errorf("result %+v\nwant warnings %q", res, wantWarnings)
	}
	wantTranscript(t, s,
		`GET /data_attributes?model=contact [200]`,
		`GET /data_attributes?model=company [200]`,
		`POST /data_attributes {"data_type":"integer","model":"contact","name":"seats"} [200]`,
		`POST /data_attributes {"data_type":"float","model":"contact","name":"ltv"} [200]`,
		`POST /data_attributes {"data_type":"boolean","model":"contact","name":"beta"} [200]`,
		`POST /data_attributes {"data_type":"string","model":"contact","name":"renews"} [200]`,
		`POST /data_attributes {"data_type":"string","model":"contact","name":"bad.name"} [400]`,
		`POST /contacts {"custom_attributes":{"beta":true,"ltv":12.5,"plan":"pro","renews":"2025-01-01T00:00:00Z","seats":3},"external_id":"u-1","last_seen_at":1700000000,"name":"Ann","role":"user"} [200]`,
	)

	// Again, and for the company: nothing is listed again; "seats" is the
	// people data's, so the company cannot have it.
	res, err = ex.Execute(ctx, withAttributes(identifyUser("u-1", ""), attrs))
	if err != nil || !reflect.DeepEqual(res.Warnings, wantWarnings) {
		t.Errorf("second identify: %+v, %v", res, err)
	}
	res, err = ex.Execute(ctx, withAttributes(group("co-1", Contact{}), intercom.Object{{Key: "plan", Raw: `"pro"`}, {Key: "seats", Raw: `3`}}))
	if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `dropped "seats": the workspace has no such company attribute, and creating it failed: intercom: 400 parameter_invalid: You already have 'seats' in your people data.`) {
		t.Errorf("company: %+v, %v", res, err)
	}
	wantTranscript(t, s,
		`PUT /contacts/`+contactID(1)+` {"custom_attributes":{"beta":true,"ltv":12.5,"plan":"pro","renews":"2025-01-01T00:00:00Z","seats":3},"external_id":"u-1","last_seen_at":1700000000,"name":"Ann","role":"user"} [200]`,
		`POST /data_attributes {"data_type":"integer","model":"company","name":"seats"} [400]`,
		`POST /companies {"company_id":"co-1","custom_attributes":{"plan":"pro"},"monthly_spend":99,"name":"Acme","plan":"pro","size":12} [200]`,
	)
	wantLogs := `level=WARN msg="intercom: custom attribute dropped" model=contact attribute=bad.name reason="the workspace has no such contact attribute, and creating it failed: intercom: 400 parameter_invalid: Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens (request sim-000000000007)"
level=WARN msg="intercom: custom attribute dropped" model=company attribute=seats reason="the workspace has no such company attribute, and creating it failed: intercom: 400 parameter_invalid: You already have 'seats' in your people data. To save this as new company data, use a different name. (request sim-000000000010)"
`
	if logs.String() != wantLogs {
		t.Errorf("logs:\n%s\nwant:\n%s", logs.String(), wantLogs)
	}
	if st := s.State(); len(st.DataAttributes) != 4 || len(st.Contacts[0].CustomAttributes) != 5 {
		t.Errorf("state: %+v", st)
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// TestAttributesExisting: ExistingAttributes creates nothing; the missing
// attributes are dropped with a warning and the rest are sent.
func TestAttributesExisting(t *testing.T) {
	s := newSim(t, simulator.Options{DataAttributes: []string{"plan"}})
	c := newClient(t, s)
	ex := Executor{API: c, Attributes: NewAttributes(ExistingAttributes)}
	res, err := ex.Execute(context.Background(), withAttributes(identifyUser("u-1", ""),
		intercom.Object{{Key: "plan", Raw: `"pro"`}, {Key: "seats", Raw: `3`}}))
	if err != nil || !reflect.DeepEqual(res.Warnings, []string{`custom_attributes: dropped "seats": the workspace has no such contact attribute (custom attributes: existing)`}) {
		t.Fatalf("result %+v, %v", res, err)
	}
	wantTranscript(t, s,
		`GET /data_attributes?model=contact [200]`,
		`POST /contacts {"custom_attributes":{"plan":"pro"},"external_id":"u-1","last_seen_at":1700000000,"name":"Ann","role":"user"} [200]`,
	)
	// Only unknown attributes: the contact is still saved, without any.
	res, err = ex.Execute(context.Background(), withAttributes(identifyUser("u-2", ""), intercom.Object{{Key: "seats", Raw: `3`}}))
	if err != nil || len(res.Warnings) != 1 {
		t.Fatalf("result %+v, %v", res, err)
	}
	wantTranscript(t, s,
		`POST /contacts {"external_id":"u-2","last_seen_at":1700000000,"name":"Ann","role":"user"} [200]`,
	)

	// Without Attributes, the whole update is lost to Intercom's 400.
	_, err = Executor{API: c}.Execute(context.Background(), withAttributes(identifyUser("u-3", ""), intercom.Object{{Key: "seats", Raw: `3`}}))
	if err == nil || !strings.HasSuffix(err.Error(), `400 parameter_invalid: Custom attribute 'seats' does not exist (request sim-000000000004)`) {
		t.Errorf("sent as mapped: err = %v", err)
	}
}

// TestAttributesLimit: at Intercom's limit of 250 custom attributes (both
// models together) nothing more is created; the attribute is dropped.
func TestAttributesLimit(t *testing.T) {
	var names []string
	for i := range MaxCustomAttributes - 1 {
		names = append(names, fmt.Sprintf("a%03d", i))
	}
	s := newSim(t, simulator.Options{DataAttributes: names})
	c := newClient(t, s)
	ex := Executor{API: c, Attributes: NewAttributes(CreateAttributes)}
	res, err := ex.Execute(context.Background(), withAttributes(identifyUser("u-1", ""),
		intercom.Object{{Key: "one", Raw: `1`}, {Key: "two", Raw: `2`}}))
	want := []string{`custom_attributes: dropped "two": the workspace has no such contact attribute, and it has 250 custom attributes, Intercom's limit`}
	if err != nil || !reflect.DeepEqual(res.Warnings, want) {
		t.Fatalf("result %+v, %v", res, err)
	}
	wantTranscript(t, s,
		`GET /data_attributes?model=contact [200]`,
		`GET /data_attributes?model=company [200]`,
		`POST /data_attributes {"data_type":"integer","model":"contact","name":"one"} [200]`,
		`POST /contacts {"custom_attributes":{"one":1},"external_id":"u-1","last_seen_at":1700000000,"name":"Ann","role":"user"} [200]`,
	)
}

// TestAttributesConcurrent: many actions at once list each model once and
// create each attribute once.
func TestAttributesConcurrent(t *testing.T) {
	s := newSim(t, simulator.Options{DataAttributes: []string{}})
	c := newClient(t, s)
	ex := Executor{API: c, Attributes: NewAttributes(CreateAttributes)}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := withAttributes(identifyUser(fmt.Sprint("u-", i), ""), intercom.Object{{Key: "seats", Raw: `3`}, {Key: "tier", Raw: `"gold"`}})
			if res, err := ex.Execute(context.Background(), a); err != nil || len(res.Warnings) != 0 {
				t.Errorf("identify %d: %+v, %v", i, res, err)
			}
		}()
	}
	wg.Wait()
	if st := c.Stats(); st.Endpoints["GET /data_attributes"] != 2 || st.Endpoints["POST /data_attributes"] != 2 {
		t.Errorf("stats: %v", st)
	}
	if st := s.State(); len(st.Contacts) != 20 || len(st.DataAttributes) != 2 {
		t.Errorf("state: %d contacts, %+v", len(st.Contacts), st.DataAttributes)
	}
}

func TestParseAttributeMode(t *testing.T) {
	for _, m := range []AttributeMode{SendAttributes, CreateAttributes, ExistingAttributes} {
		if got, err := ParseAttributeMode(m.String()); err != nil || got != m {
			t.Errorf("ParseAttributeMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseAttributeMode("drop"); err == nil || err.Error() != `unknown custom attribute mode "drop" (expected one of send, create, existing)` {
		t.Errorf("err = %v", err)
	}
}
