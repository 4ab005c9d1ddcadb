package action

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestDetachCoversEveryString fills every string a registered action's
// fields struct can hold (in nested structs, slices and pointers) with
// slices of one buffer, detaches, then overwrites the buffer: every value
// must be unchanged and none may still point into the buffer. It covers
// any action added later without being told of it. The warnings are many
// enough to outgrow the buffer Detach first makes.
func TestDetachCoversEveryString(t *testing.T) {
	for _, k := range Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			src := []byte(strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 10))
			next := 0
			take := func() string {
				s := unsafe.String(&src[next], 3)
				next += 3
				return s
			}
			fields := k.New()
			fill(reflect.ValueOf(fields).Elem(), take)
			a := []Action{{Rule: "r", Kind: k, Fields: fields}}
			for range 80 { // 240 bytes: Detach's buffer starts at a quarter of the event
				a[0].Warnings = append(a[0].Warnings, take())
			}
			want := stringsIn(a)
			for i := range want {
				want[i] = strings.Clone(want[i])
			}
			if len(want) < 2 {
				t.Fatalf("filled only %d strings", len(want))
			}

			Detach(a, src)
			for i := range src {
				src[i] = '!'
			}
			got := stringsIn(a)
			if !slices.Equal(got, want) {
				t.Errorf("after Detach and overwriting the event:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestDetachLeavesOtherStrings: strings not in the event (rule literals,
// converted values) are not copied, and with none in the event nothing is
// allocated.
func TestDetachLeavesOtherStrings(t *testing.T) {
	literal := "user"
	fields := &IdentifyContact{Role: literal}
	a := []Action{{Kind: identifyContact, Fields: fields}}
	event := []byte(`{"type":"identify"}`)
	if n := testing.AllocsPerRun(10, func() { Detach(a, event) }); n != 0 {
		t.Errorf("%v allocations, want none", n)
	}
	if unsafe.StringData(fields.Role) != unsafe.StringData(literal) {
		t.Error("Detach copied a string that was not in the event")
	}
}

// TestRegisterRefusesHiddenStrings: a fields struct with a map or an
// interface could hold strings Detach cannot find; Register refuses it.
func TestRegisterRefusesHiddenStrings(t *testing.T) {
	type withMap struct {
		Name  string
		Attrs map[string]string
	}
	defer func() {
		want := "action: action.withMap.Attrs is a map: a fields struct holds strings, numbers, booleans, and structs, slices and pointers of them"
		if got := fmt.Sprint(recover()); got != want {
			t.Errorf("panic %q\nwant  %q", got, want)
		}
	}()
	slotsOf(reflect.TypeFor[withMap](), reflect.TypeFor[withMap]().String())
}

// fill sets every string reachable in v, unexported fields included, to
// take(); slices get two elements and pointers a new value.
func fill(v reflect.Value, take func() string) {
	if !v.CanSet() {
		v = reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(take())
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), take)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), take)
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), take)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), take)
	}
}

// stringsIn lists, by reflection, the value of every string the actions
// hold, in order.
func stringsIn(actions []Action) []string {
	var out []string
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			out = append(out, v.String())
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		}
	}
	for _, a := range actions {
		walk(reflect.ValueOf(a.Fields))
		walk(reflect.ValueOf(a.Warnings))
	}
	return out
}
