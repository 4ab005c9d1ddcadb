package engine

import "testing"

// TestPathRoots: a path starts at a Segment field or $env.; what is not a
// plain key first (a modifier, a wildcard, a query) is left to gjson, and
// the message for a slip names the path with the closest field.
func TestPathRoots(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"traits.email", ""},
		{"context.traits.email", ""},
		{"$env.tenant", ""},
		{"$env.tenant\\.id", ""},
		{"@this", ""},
		{"traits|@reverse", ""},
		{"trait*.email", ""},
		{"trait.email", `trait.email: a Segment event has no field "trait" (did you mean traits.email?)`},
		{"Traits.email", `Traits.email: a Segment event has no field "Traits" (did you mean traits.email?)`},
		{"userid", `userid: a Segment event has no field "userid" (did you mean userId?)`},
		{"property.plan", `property.plan: a Segment event has no field "property" (did you mean properties.plan?)`},
		{"trai\\.t.x", `trai\.t.x: a Segment event has no field "trai.t" (did you mean traits.x?)`},
		{"tenant.tier", `tenant.tier: a Segment event has no field "tenant" (a custom top-level key is read as $env.tenant.tier)`},
		{"$env.", `$env.: write the key after $env., e.g. $env.my_key`},
		{`$env["tenant"]`, `$env["tenant"]: a custom top-level key is read as $env.my_key (a trigger writes $env["my_key"], a path $env.my_key)`},
	} {
		_, err := compilePath(tc.src)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.src, got, tc.want)
		}
	}
}
