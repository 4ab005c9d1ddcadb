package contract

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// decodeYAML reads a YAML document into plain values: map[string]any,
// []any, string, bool, nil and, for numbers, int64 or float64. A key given
// twice in one mapping keeps its last value, as js-yaml does in the JSON
// mode that Fern reads override files with (Intercom's overrides file
// repeats some schemas, and the later one is the one Fern applies).
func decodeYAML(src []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 {
		return nil, nil
	}
	return plain(&doc)
}

func plain(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return plain(n.Content[0])
	case yaml.AliasNode:
		return plain(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				return nil, fmt.Errorf("line %d: YAML merge keys are not supported", k.Line)
			}
			val, err := plain(v)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := plain(c)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		err := n.Decode(&b)
		return b, err
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		var f float64
		err := n.Decode(&f)
		return f, err
	case "!!float":
		var f float64
		err := n.Decode(&f)
		return f, err
	}
	return n.Value, nil // strings, and timestamps as written
}

// applyOverrides deep-merges overrides onto doc the way Fern applies an
// openapi-overrides file (mergeWithOverrides in fern-api/fern): mappings
// merge key by key; a list merges with a list item by item when both hold
// only objects and is replaced otherwise; any other value replaces; and
// finally every key whose value is null, in doc or in the overrides, is
// removed, so `x: null` deletes x. doc is changed in place and returned.
func applyOverrides(doc, overrides any) any {
	return omitNulls(merge(doc, overrides))
}

// merge is lodash's mergeWith with Fern's customizer, for plain values.
func merge(dst, src any) any {
	switch s := src.(type) {
	case map[string]any:
		d, ok := dst.(map[string]any)
		if !ok {
			d = map[string]any{}
		}
		for k, v := range s {
			d[k] = merge(d[k], v)
		}
		return d
	case []any:
		d, ok := dst.([]any)
		if !ok {
			d = nil
		} else if !allObjects(d) || !allObjects(s) {
			d = nil // a list of scalars is replaced
		}
		for i, v := range s {
			if i < len(d) {
				d[i] = merge(d[i], v)
			} else {
				d = append(d, merge(nil, v))
			}
		}
		if d == nil {
			d = []any{}
		}
		return d
	}
	return src
}

// allObjects is JavaScript's `every(e => typeof e === "object")`, in which
// null and lists are objects too.
func allObjects(s []any) bool {
	for _, v := range s {
		switch v.(type) {
		case map[string]any, []any, nil:
		default:
			return false
		}
	}
	return true
}

// omitNulls removes every map key whose value is null, at any depth (list
// items that are null stay, as in Fern's omitDeepBy).
func omitNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
				continue
			}
			t[k] = omitNulls(e)
		}
	case []any:
		for i, e := range t {
			t[i] = omitNulls(e)
		}
	}
	return v
}
