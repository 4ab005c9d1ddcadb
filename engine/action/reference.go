package action

import (
	"fmt"
	"strings"
)

// Reference renders every registered action as Markdown: one section per
// action with its trigger preset, call sequence and fields. It is
// engine/action/README.md, which a test keeps equal to it.
func Reference() string {
	var b strings.Builder
	for _, a := range Kinds() {
		fmt.Fprintf(&b, "### `%s` — %s\n\n%s\n\n", a.Name, a.Title, a.Doc)
		if a.Trigger != "" {
			fmt.Fprintf(&b, "Preset trigger: `%s`. ", a.Trigger)
		} else {
			b.WriteString("No preset trigger: a rule must give one. ")
		}
		fmt.Fprintf(&b, "Calls: %s.\n\n", a.Calls)
		b.WriteString("| field | type | required | default path | notes |\n|---|---|---|---|---|\n")
		for _, f := range a.Fields {
			typ := string(f.Type)
			if f.Type == TypeEnum {
				typ = "`" + strings.Join(f.Enum, "` \\| `") + "`"
			}
			req := ""
			if f.Required {
				req = "yes"
			}
			def := ""
			if f.Default != "" {
				def = "`" + f.Default + "`"
			}
			doc := f.Doc
			if f.Lookup {
				doc = "*(lookup)* " + doc
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.Name, typ, req, def, doc)
		}
		b.WriteString("\n")
	}
	b.WriteString("*(lookup)* fields find the contact; they are not sent as attributes.\n\nField types and how values are converted:\n\n")
	for _, t := range []struct {
		t   Type
		doc string
	}{
		{TypeString, "text; numbers and booleans become their JSON text"},
		{TypeEnum, "text that must be one of the listed values"},
		{TypeNumber, "a JSON number, or text holding one; sent as written"},
		{TypeInteger, "a whole number (or text holding one); 12.5 is left out with a warning"},
		{TypeBoolean, "`true`/`false`, or the text `\"true\"`/`\"false\"`"},
		{TypeDatetime, "ISO-8601 / RFC 3339 text, Unix seconds, or Unix milliseconds (numbers ≥ 1e11), as number or text; sent as Unix seconds"},
		{TypeAttributes, "a flat object; nested objects and lists are dropped with a warning unless the rule flattens them (`flatten`, `lists: index`: tags_0, tags_1, with `_` since Intercom's names take no `[`) or sends them as JSON text (`nested: stringify`), see \"Rule files\"; nulls are left out, and an object with nothing left is not sent"},
		{TypeMetadata, "like attributes, but Intercom's rich link `{url, value}` and amount `{amount, currency}` objects are kept whole, flattened or not; at most 10 keys, the first in the event's order (a rule's `keep: [...]` puts the keys it names first), the rest dropped with a warning"},
		{TypeStrings, "a string, or a list of them (numbers and booleans become their text); empty and repeated items are left out, objects and lists in the list dropped with a warning; a list with no text leaves the field out"},
	} {
		fmt.Fprintf(&b, "- **%s**: %s.\n", t.t, t.doc)
	}
	b.WriteString("\nA missing value, `null` or `\"\"` leaves an optional field out of the request (never sent as null or \"\"); a value that cannot be converted is left out with a warning, or fails the rule when the field is required.\n")
	return b.String()
}
