package engine

import (
	"strings"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/event"
)

func TestTriggers(t *testing.T) {
	doc, err := event.Parse([]byte(`{"type":"track","event":"Order Completed","userId":"u1",
		"properties":{"plan":"pro","count":3,"price":9.5,"items":[{"sku":"a"},{"sku":"b"}],"a.b":"dotted","tags":["x","y"]},
		"context":{"library":{"name":"analytics.js"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{`type == "track"`, true},
		{`type == "identify"`, false},
		{`properties.plan == "pro" && properties.count == 3`, true},
		{`properties.count > 2 && properties.price < 10`, true},
		{`properties.items[1].sku == "b"`, true},
		{`properties["a.b"] == "dotted"`, true},
		{`len(properties.items) == 2`, true},
		{`"x" in properties.tags`, true},
		{`event in ["Order Completed", "Signed Up"]`, true},
		{`context.library.name startsWith "analytics"`, true},
		{`properties.missing == nil`, true},
		{`properties?.missing?.deeper == nil`, true},
		{`let n = properties.count; n * 2 == 6`, true},
		{`all(properties.items, .sku != "")`, true},
		{`any(properties.items, #.sku == "b")`, true},
		{`!(userId == nil) || false`, true},
		{`lower(event) == "order completed"`, true},
		{`properties.missing > 100`, false},
		{`properties.missing <= 100 || properties.count >= 3`, true},
		{`1 < properties.count`, true},
	} {
		tr, err := compileTrigger(tc.src)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		got, err := tr.eval(doc)
		if err != nil || got != tc.want {
			t.Errorf("%s = %v, %v; want %v", tc.src, got, err, tc.want)
		}
	}
}

func TestTriggerRuntimeError(t *testing.T) {
	doc, _ := event.Parse([]byte(`{"type":"track","properties":{"count":"three"}}`))
	tr, err := compileTrigger(`properties.count > 3`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.eval(doc)
	if err == nil || !strings.HasPrefix(err.Error(), "invalid operation: string > int") {
		t.Errorf("error = %v", err)
	}
	tr, _ = compileTrigger(`properties.count`)
	if _, err = tr.eval(doc); err == nil || err.Error() != "trigger returned string, not a boolean" {
		t.Errorf("error = %v", err)
	}
}

func TestTypeGuard(t *testing.T) {
	for _, tc := range []struct {
		src   string
		types string
		exact bool
	}{
		{`type == "track"`, "track", true},
		{`type in ["track", "page"]`, "track,page", true},
		{`type == "track" && event == "x"`, "track", false},
		{`event == "x" && type == "track"`, "track", false},
		{`type == "track" || event == "x"`, "", false},
		{`event == "x"`, "", false},
	} {
		tr, err := compileTrigger(tc.src)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(tr.types, ","); got != tc.types || tr.exact != tc.exact {
			t.Errorf("%s: types %q exact %v; want %q %v", tc.src, got, tr.exact, tc.types, tc.exact)
		}
	}
}
