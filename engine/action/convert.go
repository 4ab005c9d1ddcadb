package action

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/event"
)

func describe(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return fmt.Sprintf("the string %q", v.Str)
	case gjson.Number:
		return "the number " + v.Raw
	case gjson.True, gjson.False:
		return "the boolean " + v.Raw
	}
	if v.IsArray() {
		return "an array"
	}
	return "an object"
}

func toString(v gjson.Result) (string, error) {
	switch v.Type {
	case gjson.String:
		return v.Str, nil
	case gjson.Number, gjson.True, gjson.False:
		return v.Raw, nil
	}
	return "", fmt.Errorf("expected a string, got %s", describe(v))
}

func toEnum(v gjson.Result, allowed []string) (string, error) {
	if v.Type == gjson.String {
		for _, a := range allowed {
			if v.Str == a {
				return a, nil
			}
		}
	}
	return "", fmt.Errorf("expected one of %s, got %s", strings.Join(allowed, ", "), describe(v))
}

func toNumber(v gjson.Result) (json.Number, error) {
	s := v.Raw
	switch v.Type {
	case gjson.Number:
	case gjson.String:
		s = strings.TrimSpace(v.Str)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return "", fmt.Errorf("expected a number, got %s", describe(v))
		}
		if !jsonNumber.MatchString(s) { // "+12", ".5", "007": send the number itself
			s = strconv.FormatFloat(f, 'f', -1, 64)
		}
	default:
		return "", fmt.Errorf("expected a number, got %s", describe(v))
	}
	return json.Number(s), nil
}

// jsonNumber is the JSON number grammar.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func toInteger(v gjson.Result) (int64, error) {
	n, err := toNumber(v)
	if err != nil {
		return 0, fmt.Errorf("expected a whole number, got %s", describe(v))
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, nil
	}
	f, _ := strconv.ParseFloat(string(n), 64)
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("expected a whole number, got %s", describe(v))
	}
	return int64(f), nil
}

func toBool(v gjson.Result) (bool, error) {
	switch v.Type {
	case gjson.True:
		return true, nil
	case gjson.False:
		return false, nil
	case gjson.String:
		if b, err := strconv.ParseBool(strings.TrimSpace(v.Str)); err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("expected a boolean, got %s", describe(v))
}

// millisAfter: numbers at or above it are Unix milliseconds, not seconds
// (1e11 seconds is the year 5138; 1e11 milliseconds is March 1973).
const millisAfter = 1e11

// timeLayouts are the ISO-8601 forms accepted, most common first.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02",
}

func toUnixSeconds(v gjson.Result) (int64, error) {
	fail := func() (int64, error) {
		return 0, fmt.Errorf("expected an ISO-8601 date-time or Unix time, got %s", describe(v))
	}
	var num float64
	switch v.Type {
	case gjson.Number:
		num = v.Num
	case gjson.String:
		s := strings.TrimSpace(v.Str)
		if looksNumeric(s) { // checked first: a failed ParseFloat allocates its error
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				num = f
				break
			}
		}
		if sec, ok := rfc3339Seconds(s); ok {
			return sec, nil
		}
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t.Unix(), nil
			}
		}
		return fail()
	default:
		return fail()
	}
	if num < 0 || math.IsInf(num, 0) || math.IsNaN(num) {
		return fail()
	}
	if num >= millisAfter {
		num /= 1000
	}
	return int64(num), nil
}

// rfc3339Seconds reads the usual form of a Segment timestamp,
// 2006-01-02T15:04:05[.999999999](Z|±07:00), as Unix seconds, without
// time.Parse's general machinery. It gives exactly what time.Parse with
// time.RFC3339Nano gives (FuzzRFC3339Seconds holds it to that), and ok
// false for anything else, which the layouts then try.
func rfc3339Seconds(s string) (sec int64, ok bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	year, ok1 := digitsAt(s, 0, 4)
	month, ok2 := digitsAt(s, 5, 2)
	day, ok3 := digitsAt(s, 8, 2)
	hour, ok4 := digitsAt(s, 11, 2)
	minute, ok5 := digitsAt(s, 14, 2)
	second, ok6 := digitsAt(s, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || second > 59 {
		return 0, false
	}
	rest := s[19:]
	if rest[0] == '.' { // the fraction: Unix seconds leave it out
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 {
			return 0, false
		}
		rest = rest[n:]
	}
	var offset int64
	switch {
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digitsAt(rest, 1, 2)
		om, ok2 := digitsAt(rest, 4, 2)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	return daysSinceEpoch(year, month, day)*86400 + hour*3600 + minute*60 + second - offset, true
}

// digitsAt reads the n decimal digits at s[i:].
func digitsAt(s string, i, n int) (int64, bool) {
	var v int64
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// daysIn is the number of days of month in year (proleptic Gregorian).
func daysIn(month, year int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch counts the days from 1970-01-01 to a date of years 0
// to 9999 (Howard Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int64) int64 {
	if month <= 2 {
		year--
	}
	era := year / 400
	if year < 0 {
		era = (year - 399) / 400
	}
	yoe := year - era*400
	doy := (153*((month+9)%12)+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// looksNumeric reports whether s is made of digits, with at most a sign,
// a point and an exponent: what could be a Unix time.
func looksNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return false
		}
	}
	return true
}

// toFlatObject keeps the flat values of an object, in the event's order.
// It walks the members' JSON text without decoding them, from the event's
// index when it has one: only their first byte says what they are.
func toFlatObject(f *Field, v *event.Value, warn func(string), mem *Arena) (intercom.Object, error) {
	if !v.IsObject() {
		return nil, fmt.Errorf("expected an object, got %s", describe(v.Result))
	}
	n := v.Len()
	if n < 0 {
		n = 8 // not indexed: a literal or a deeper object
	}
	out := mem.object(n)
	v.EachMember(func(k, raw string) bool {
		switch raw[0] {
		case '"':
			if raw != `""` {
				out = append(out, intercom.Member{Key: k, Raw: raw})
			}
		case 'n': // null
		case '{', '[':
			if f.Type == TypeMetadata && raw[0] == '{' && RichObject(gjson.Parse(raw)) {
				out = append(out, intercom.Member{Key: k, Raw: raw})
				return true
			}
			why := "nested object; Intercom takes only flat values"
			if raw[0] == '[' {
				why = "array; Intercom takes only flat values"
			}
			warn(f.dropped(k, why))
		default: // a number, true or false
			out = append(out, intercom.Member{Key: k, Raw: raw})
		}
		return true
	})
	if len(out) == 0 {
		return nil, nil // nothing left to send: the field is left out, not {}
	}
	return out, nil
}

// dropped is the warning that field left out key, and why. It is written
// for every event whose object holds a nested value, so the usual key
// (printable ASCII, no quote or backslash) is quoted in the same
// concatenation, without strconv.Quote.
func dropped(field, key, why string) string {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return field + ": dropped " + strconv.Quote(key) + " (" + why + ")"
		}
	}
	return field + `: dropped "` + key + `" (` + why + ")"
}

// RichObject recognises the objects Intercom takes in event metadata: a
// rich link {url, value} and a monetary amount {amount, currency}.
func RichObject(v gjson.Result) bool {
	n, url, value, amount, currency := 0, false, false, false, false
	v.ForEach(func(k, x gjson.Result) bool {
		n++
		switch k.Str {
		case "url":
			url = x.Type == gjson.String
		case "value":
			value = x.Type == gjson.String
		case "amount":
			amount = x.Type == gjson.Number
		case "currency":
			currency = x.Type == gjson.String
		}
		return n <= 2
	})
	return n == 2 && (url && value || amount && currency)
}

// toStrings reads a string, or a list of strings, as texts in order:
// numbers and booleans become their JSON text, nulls, empty or blank
// strings and repeats are left out, and objects and lists inside the list
// are dropped with a warning.
func toStrings(f *Field, v gjson.Result, warn func(string)) ([]string, error) {
	if !v.IsArray() {
		s, err := toString(v)
		if err != nil {
			return nil, fmt.Errorf("expected a string or a list of strings, got %s", describe(v))
		}
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		return []string{s}, nil
	}
	var out []string
	i := 0
	v.ForEach(func(_, item gjson.Result) bool {
		switch item.Type {
		case gjson.String, gjson.Number, gjson.True, gjson.False:
			if s, _ := toString(item); strings.TrimSpace(s) != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		case gjson.JSON:
			warn(fmt.Sprintf("%s: dropped item %d (%s; expected text)", f.Name, i, describe(item)))
		}
		i++
		return true
	})
	return out, nil
}
