package event

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

func TestGet(t *testing.T) {
	d, err := Parse([]byte(`{"type":"track","properties":{"plan":"pro","a.b":1,"items":[{"sku":"x"}]},"k\"q":"escaped key","type":"identify"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"type", "track"}, // the first of a repeated key wins, as in gjson
		{"properties.plan", "pro"},
		{`properties.a\.b`, "1"},
		{"properties.items.0.sku", "x"},
		{"properties.items.#", "1"},
		{"properties.items.#(sku==x).sku", "x"},
		{`k\"q`, "escaped key"},
		{"@this.type", "track"},
		{"missing.path", ""},
	} {
		p, err := CompilePath(tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if got := d.Get(p).String(); got != tc.want {
			t.Errorf("Get(%s) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestResetErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, "empty"},
		{`   `, "empty"},
		{`[1,2]`, "a JSON array, not an object"},
		{`"hi"`, "a JSON string, not an object"},
		{`42`, "a JSON number, not an object"},
		{`null`, "a JSON null, not an object"},
		{`{"type":"track"`, "not valid JSON: unexpected end of JSON input (at byte 15)"},
		{`{"type":"track",}`, "not valid JSON: invalid character '}' looking for beginning of object key string (at byte 17)"},
		{`{"a":1} {"b":2}`, "not valid JSON: invalid character '{' after top-level value (at byte 9)"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) error = %v, want %s", tc.in, err, tc.want)
		}
	}
}

func TestCompilePathErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty path"},
		{".a", `path starts with '.'`},
		{"a..b", "empty component at column 3"},
		{"a.", "path ends with an empty component"},
		{"a.#(b==1", "unclosed '('"},
		{"a)", "unbalanced ')' at column 2"},
		{"@nope", "unknown modifier @nope"},
		{`a.#(b=="x)`, "unterminated quote"},
	} {
		_, err := CompilePath(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("CompilePath(%q) error = %v, want %s", tc.in, err, tc.want)
		}
	}
}

// FuzzReset holds the one-pass scanner to encoding/json: an input is
// accepted exactly when it is valid UTF-8 (which encoding/json does not
// ask: it replaces bad bytes) and valid JSON whose value is an object, and
// then its top-level keys are those encoding/json decodes.
func FuzzReset(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":{"b":[1,2,{"c":null}]},"d":"x\u00e9\n"}`, `[1]`, `{"a":1,}`, `{"a":-0.5e+3}`, `{"a":01}`, "{\"a\":\"\x01\"}", `{"\u0061":true}`, ` {"a" : false} `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var d Doc
		err := d.Reset(in)
		var m map[string]json.RawMessage
		wantOK := utf8.Valid(in) && json.Valid(in) && json.Unmarshal(in, &m) == nil && strings.HasPrefix(strings.TrimLeft(string(in), " \t\r\n"), "{")
		if (err == nil) != wantOK {
			t.Fatalf("Reset(%q) error = %v; encoding/json says valid object = %v", in, err, wantOK)
		}
		if err != nil {
			return
		}
		for k := range m {
			if !d.Top(k).Exists() {
				t.Fatalf("Reset(%q): key %q not indexed", in, k)
			}
		}
	})
}

// FuzzGet holds Doc.Get, with its two-level index, to gjson.Get over the
// whole event: the same value for any object and any path; and the
// members a Value walks from the index to those a scan of its text finds.
func FuzzGet(f *testing.F) {
	for _, tc := range [][2]string{
		{`{"type":"track","properties":{"plan":"pro","a.b":1,"items":[{"sku":"x"}],"plan":"dup"},"k\"q":"e"}`, "properties.plan"},
		{`{"traits":{"address":{"city":"Paris"}},"traits":{"x":1}}`, "traits.address.city"},
		{`{"p":{"a\\u002eb":2, "c" : [1,2]}}`, `p.a\.b`},
		{`{"p":{}}`, "p.x"},
		{`{"p":[{"a":1}]}`, "p.0.a"},
		{`{"p":{"0":"zero"}}`, "p.0"},
		{`{"p":{"q":{"r":{"s":true}}}}`, "p.q.r.s"},
		{`{"p":{"n":null}}`, "p.n"},
		{`{"p":{"s":"\u00e9\n"}}`, "p.s"},
		{`{"traits":{"a":1,"b":{"c":"}"},"k\u0065y":[2]},"x":{}}`, "traits"},
	} {
		f.Add(tc[0], tc[1])
	}
	f.Fuzz(func(t *testing.T, js, path string) {
		p, err := CompilePath(path)
		if err != nil {
			return
		}
		d, err := Parse([]byte(js))
		if err != nil {
			return
		}
		got, want := d.Get(p), gjson.Get(js, path)
		if got.Type != want.Type || got.Raw != want.Raw || got.Str != want.Str || got.Exists() != want.Exists() {
			t.Fatalf("Get(%q) on %s = %s %q, gjson gives %s %q", path, js, got.Type, got.Raw, want.Type, want.Raw)
		}
		var indexed, scanned []string
		okIndexed := got.EachMember(func(k, raw string) bool { indexed = append(indexed, k, raw); return true })
		okScanned := EachMember(got.Raw, func(k, raw string) bool { scanned = append(scanned, k, raw); return true })
		if okIndexed != okScanned || !slices.Equal(indexed, scanned) {
			t.Fatalf("Get(%q) on %s: members %v (%v), a scan of its text gives %v (%v)", path, js, indexed, okIndexed, scanned, okScanned)
		}
	})
}

// FuzzEachMember holds EachMember to gjson's ForEach on valid objects, and
// to stopping cleanly on anything else.
func FuzzEachMember(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x\"y","c":{"d":[1,{"e":"}"}]},"k\u0065y":null, "f" : true ,"g":-1.5e3}`,
		`{}`, ` { } `, `{"a":"\\"}`, `[1]`, `{"a":}`, `{"a":1`, `"x"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		type kv struct{ k, raw string }
		var got []kv
		ok := EachMember(s, func(k, raw string) bool {
			got = append(got, kv{k, raw})
			return true
		})
		r := gjson.Parse(s)
		if !json.Valid([]byte(s)) || !r.IsObject() {
			return // only stopping cleanly is asked of it
		}
		var want []kv
		r.ForEach(func(k, v gjson.Result) bool {
			want = append(want, kv{k.Str, v.Raw})
			return true
		})
		if !ok || len(got) != len(want) {
			t.Fatalf("EachMember(%s) = %v, %v; gjson %v", s, ok, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("member %d of %s: %q, gjson %q", i, s, got[i], want[i])
			}
		}
	})
}

// TestInvalidUTF8IsRefused: an event with a byte that is not UTF-8 is
// refused, saying where, instead of read with U+FFFD in its place (which
// would make "u\xff" and "u\xfe" one user id); a real U+FFFD is kept.
func TestInvalidUTF8IsRefused(t *testing.T) {
	_, err := Parse([]byte("{\"userId\":\"u\xff\",\"traits\":{}}"))
	const want = "not valid Unicode text (UTF-8 broken at byte 12): refused rather than altered, as ids that differ only in such bytes would become one"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
	d, err := Parse([]byte(`{"userId":"u\ufffd","name":"Zoë \u00e9 ` + "\uFFFD" + `"}`))
	if err != nil || d.Top("userId").String() != "u\uFFFD" || d.Top("name").String() != "Zoë é \uFFFD" {
		t.Errorf("valid UTF-8 with U+FFFD: %v", err)
	}
}
