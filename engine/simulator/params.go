package simulator

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// params is a decoded JSON object body, one raw value per key.
type params map[string]json.RawMessage

// parseParams decodes a JSON object body.
func parseParams(body []byte) (params, *apiError) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil, errBadRequest("Request body is empty: a JSON object is required")
	}
	if !json.Valid(b) {
		return nil, errBadRequest("Request body is not valid JSON")
	}
	if b[0] != '{' {
		return nil, errBadRequest("Request body must be a JSON object")
	}
	var p params
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, errBadRequest("Request body is not valid JSON")
	}
	return p, nil
}

// only rejects the first (alphabetically) key not in allowed.
func (p params) only(allowed ...string) *apiError {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return errInvalid("%s is not a valid parameter", k)
		}
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	return len(b) == 0 || string(b) == "null"
}

// str reads a string or null (as "") parameter.
func (p params) str(key string) (v string, ok bool, e *apiError) {
	raw, ok := p[key]
	if !ok || isNull(raw) {
		return "", ok, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", true, errInvalid("%s must be a string", key)
	}
	return v, true, nil
}

// integer reads an integer or null (as 0) parameter.
func (p params) integer(key string) (v int64, ok bool, e *apiError) {
	raw, ok := p[key]
	if !ok || isNull(raw) {
		return 0, ok, nil
	}
	v, good := parseInteger(raw)
	if !good {
		return 0, true, errInvalid("%s must be an integer", key)
	}
	return v, true, nil
}

// numericString reads a string of an integer, such as an admin id from
// 2.16, or null (as 0).
func (p params) numericString(key string) (v int64, ok bool, e *apiError) {
	s, ok, e := p.str(key)
	if e != nil || s == "" {
		return 0, ok, e
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, true, errInvalid("%s must be a string of an id", key)
	}
	return n, true, nil
}

func parseInteger(raw json.RawMessage) (int64, bool) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var n any
	if err := d.Decode(&n); err != nil {
		return 0, false
	}
	num, ok := n.(json.Number)
	if !ok {
		return 0, false
	}
	v, err := num.Int64()
	return v, err == nil
}

// number reads a number or null (as 0) parameter.
func (p params) number(key string) (v float64, ok bool, e *apiError) {
	raw, ok := p[key]
	if !ok || isNull(raw) {
		return 0, ok, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, true, errInvalid("%s must be a number", key)
	}
	return v, true, nil
}

// boolean reads a boolean or null (as false) parameter.
func (p params) boolean(key string) (v bool, ok bool, e *apiError) {
	raw, ok := p[key]
	if !ok || isNull(raw) {
		return false, ok, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, true, errInvalid("%s must be a boolean", key)
	}
	return v, true, nil
}

// object reads a JSON object (or null, as nil) parameter.
func (p params) object(key string) (m map[string]any, ok bool, e *apiError) {
	raw, ok := p[key]
	if !ok || isNull(raw) {
		return nil, ok, nil
	}
	if b := bytes.TrimSpace(raw); b[0] != '{' {
		return nil, true, errInvalid("%s must be an object", key)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, true, errInvalid("%s must be an object", key)
	}
	return m, true, nil
}

// flat reads an object whose values are strings, numbers, booleans or null.
func (p params) flat(key string) (map[string]any, bool, *apiError) {
	m, ok, e := p.object(key)
	if e != nil || m == nil {
		return m, ok, e
	}
	for _, k := range sortedKeys(m) {
		if !isScalar(m[k]) {
			return nil, true, errInvalid("%s.%s must be a string, number, boolean or null: nested objects and arrays are not allowed", key, k)
		}
	}
	return m, true, nil
}

func isScalar(v any) bool {
	switch v.(type) {
	case nil, string, float64, bool:
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validEmail is a light check: one "@" with text either side and no spaces.
func validEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && strings.Count(s, "@") == 1 && !strings.ContainsAny(s, " \t\r\n")
}
