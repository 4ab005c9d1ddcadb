package action

import (
	"fmt"
	"reflect"
	"unsafe"
)

// Planning does not copy the event: a planned action's strings (an
// external_id, a metadata value's JSON text) are slices of the event's
// bytes. Detach gives actions strings of their own when the caller cannot
// promise the event outlives them, copying only what they keep — usually a
// fraction of the event — into one buffer.

// Detach makes every string held by actions (their fields and warnings)
// that lies in src's memory a copy, so that src may change once Detach
// returns. The copies share a buffer, made at about a quarter of src;
// strings from elsewhere (rule literals, converted values) are left as they
// are, and with none in src nothing is allocated.
func Detach(actions []Action, src []byte) {
	if len(actions) == 0 || len(src) == 0 {
		return
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(src)))
	v := visitor{lo: lo, hi: lo + uintptr(len(src)), size: max(len(src)/4, 64)}
	for i := range actions {
		a := &actions[i]
		if a.Kind != nil && a.Fields != nil && len(a.Kind.slots) > 0 {
			v.slots(a.Kind.pointer(a.Fields), a.Kind.slots)
		}
		for j := range a.Warnings {
			v.string(&a.Warnings[j])
		}
	}
}

// visitor copies the strings in [lo, hi) into buf.
type visitor struct {
	lo, hi uintptr
	buf    []byte // the copies
	size   int    // buf's first capacity
}

func (v *visitor) string(s *string) {
	p := uintptr(unsafe.Pointer(unsafe.StringData(*s)))
	if len(*s) == 0 || p < v.lo || p >= v.hi {
		return
	}
	if v.buf == nil {
		v.buf = make([]byte, 0, v.size)
	}
	start := len(v.buf)
	v.buf = append(v.buf, *s...) // if buf moves, the copies made so far keep the old array
	*s = unsafe.String(&v.buf[start], len(*s))
}

// slots visits the strings at p laid out as slots say.
func (v *visitor) slots(p unsafe.Pointer, slots []slot) {
	for i := range slots {
		sl := &slots[i]
		at := unsafe.Add(p, sl.off)
		switch sl.kind {
		case reflect.String:
			v.string((*string)(at))
		case reflect.Slice:
			h := (*struct {
				data     unsafe.Pointer
				len, cap int
			})(at)
			for j := range h.len {
				v.slots(unsafe.Add(h.data, uintptr(j)*sl.size), sl.elem)
			}
		case reflect.Array:
			for j := range sl.n {
				v.slots(unsafe.Add(at, uintptr(j)*sl.size), sl.elem)
			}
		case reflect.Pointer:
			if q := *(*unsafe.Pointer)(at); q != nil {
				v.slots(q, sl.elem)
			}
		}
	}
}

// slot is a place in a value where strings live: a string at off, or a
// slice, array or pointer at off whose elements (size bytes apart; n of
// them in an array) hold strings at elem. Nested structs are flattened
// into their parent's slots.
type slot struct {
	off  uintptr
	kind reflect.Kind
	size uintptr
	n    int
	elem []slot
}

// slotsOf lays out where values of type t hold strings, from t's type, once
// at Register. at names t for the panic: a map or an interface could hide
// strings Detach would miss, so a fields struct with one is refused, as
// any broken declaration is.
func slotsOf(t reflect.Type, at string) []slot {
	switch t.Kind() {
	case reflect.String:
		return []slot{{kind: reflect.String}}
	case reflect.Struct:
		var out []slot
		for i := range t.NumField() {
			f := t.Field(i)
			for _, s := range slotsOf(f.Type, at+"."+f.Name) {
				s.off += f.Offset
				out = append(out, s)
			}
		}
		return out
	case reflect.Slice, reflect.Array, reflect.Pointer:
		elem := slotsOf(t.Elem(), at+"[]")
		if elem == nil {
			return nil
		}
		s := slot{kind: t.Kind(), size: t.Elem().Size(), elem: elem}
		if t.Kind() == reflect.Array {
			s.n = t.Len()
		}
		return []slot{s}
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return nil
	}
	panic(fmt.Sprintf("action: %s is a %s: a fields struct holds strings, numbers, booleans, and structs, slices and pointers of them", at, t.Kind()))
}
