package intercom

import (
	"reflect"
	"testing"
)

// TestCompanyBodyMerge: a merge leaves the company as the two upserts one
// after the other would: later values win field by field, custom
// attributes key by key, and an unset field keeps the earlier value. The
// body merged into keeps sharing nothing with what it was copied from.
func TestCompanyBodyMerge(t *testing.T) {
	size := int64(10)
	first := CompanyBody{CompanyID: "acme", Name: "Acme", Plan: "free", Size: &size,
		CustomAttributes: Object{{"seats", "3"}, {"tier", `"a"`}}}
	merged := first
	merged.Merge(CompanyBody{CompanyID: "acme", Plan: "pro", CustomAttributes: Object{{"tier", `"b"`}, {"region", `"eu"`}}})
	want := CompanyBody{CompanyID: "acme", Name: "Acme", Plan: "pro", Size: &size,
		CustomAttributes: Object{{"seats", "3"}, {"tier", `"b"`}, {"region", `"eu"`}}}
	if !reflect.DeepEqual(merged, want) {
		t.Errorf("merged = %+v\nwant %+v", merged, want)
	}
	if raw, _ := first.CustomAttributes.Get("tier"); raw != `"a"` {
		t.Errorf("the body merged from changed: tier = %s", raw)
	}
}
