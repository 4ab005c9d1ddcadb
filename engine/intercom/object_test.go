package intercom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// jsonString is s as encoding/json writes it with HTML escaping off.
func jsonString(t testing.TB, s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// sameJSON compares AppendString's output with encoding/json's, byte for
// byte but for how U+FFFD is written: an invalid byte becomes the escape
// \ufffd in AppendString (and in encoding/json before Go 1.27), the
// character itself in encoding/json since; both mean the same to every
// JSON reader.
func sameJSON(got, want string) bool {
	return strings.ReplaceAll(got, `\ufffd`, "\ufffd") == strings.ReplaceAll(want, `\ufffd`, "\ufffd")
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnew\nline\rcr",
		"\x00\x01\x1f\x7f", "\b\f", "é ü 日本", "\u2028\u2029", "bad \xff utf-8 \xc3", "emoji 🎉",
	} {
		if got, want := string(AppendString(nil, s)), jsonString(t, s); !sameJSON(got, want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestAppendStringEveryPlaceInAWord puts each byte that needs a look at
// every place of the eight-byte words AppendString skips whole, after and
// before runs of plain bytes.
func TestAppendStringEveryPlaceInAWord(t *testing.T) {
	for _, special := range []string{`"`, `\`, "\x00", "\x1f", "\x7f", "é", "\u2028", "\xff", "🎉"} {
		for at := range 18 {
			s := strings.Repeat("a", at) + special + strings.Repeat("b", 9) + special
			if got, want := string(AppendString(nil, s)), jsonString(t, s); !sameJSON(got, want) {
				t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
			}
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("a\"b\\c\x00\u2028\xff<>&")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(AppendString(nil, s)), jsonString(t, s); !sameJSON(got, want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestObject(t *testing.T) {
	o := Object{{Key: "b", Raw: "1"}, {Key: "a\n", Raw: `"x"`}, {Key: "c", Raw: "true"}}
	o.Set("b", "2")
	o.Set("d", "null")
	o.Delete("c")
	if raw, ok := o.Get("b"); !ok || raw != "2" {
		t.Errorf("Get(b) = %q, %v", raw, ok)
	}
	got, err := json.Marshal(struct {
		O Object `json:"o"`
	}{o})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"o":{"b":2,"a\n":"x","d":null}}`; string(got) != want {
		t.Errorf("JSON = %s, want %s (keys in order, escaped as JSON)", got, want)
	}
}

func TestConflictID(t *testing.T) {
	conflict := &APIError{Status: 409, Code: "conflict", Message: "A contact matching those details already exists with id=65c0-1_a"}
	if id := ConflictID(fmt.Errorf("create contact: %w", conflict)); id != "65c0-1_a" {
		t.Errorf("ConflictID = %q", id)
	}
	for _, err := range []error{
		&APIError{Status: 409, Message: "conflict without an id"},
		&APIError{Status: 400, Message: "already exists with id=x"},
		errors.New("already exists with id=x"),
		nil,
	} {
		if id := ConflictID(err); id != "" {
			t.Errorf("ConflictID(%v) = %q, want none", err, id)
		}
	}
	if StatusOf(fmt.Errorf("x: %w", conflict)) != 409 || StatusOf(errors.New("x")) != 0 {
		t.Error("StatusOf")
	}
}

func TestCacheKeys(t *testing.T) {
	if UserEmailKey("Ann@Example.com") != UserEmailKey("ann@example.com") || LeadEmailKey("A@b.c") == UserEmailKey("a@b.c") ||
		ExternalIDKey("U-1") == ExternalIDKey("u-1") || CompanyKey("x") == ExternalIDKey("x") {
		t.Error("cache keys: emails fold case, ids do not, kinds are apart")
	}
}

func TestObjectCompactsNestedValues(t *testing.T) {
	o := Object{{Key: "price", Raw: "{ \"amount\" : 5,\n \"currency\": \"E U R\" }"}, {Key: "tags", Raw: `[ "a b" ]`}, {Key: "s", Raw: `"x y"`}}
	got, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"price":{"amount":5,"currency":"E U R"},"tags":["a b"],"s":"x y"}`; string(got) != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
}
