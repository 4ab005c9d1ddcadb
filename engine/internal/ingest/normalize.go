package ingest

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/event"
)

// batchContext is what a batch request gives all its events.
type batchContext struct {
	sentAt, context, integrations gjson.Result
}

// timeLayout is how Segment writes receivedAt and timestamp.
const timeLayout = "2006-01-02T15:04:05.000Z"

// field is a top-level key set to raw JSON.
type field struct {
	key string
	raw string
}

// normalize checks one event and completes it as Segment's API does: the
// type from the endpoint (typ, or the event's own when typ is ""), a
// messageId if it has none, receivedAt, and timestamp corrected for the
// client's clock — receivedAt - (sentAt - timestamp), the client's value
// kept as originalTimestamp — when sentAt is known; an event without a
// timestamp gets receivedAt. The batch's context and integrations fill in
// for an event without its own. A writeKey in the event is dropped.
func normalize(raw []byte, typ string, bc batchContext, received time.Time) (delivery.Item, error) {
	if len(raw) > MaxEvent {
		return delivery.Item{}, fmt.Errorf("event is %d bytes, larger than Segment's %d KB limit", len(raw), MaxEvent>>10)
	}
	if err := event.CheckUTF8(raw); err != nil {
		return delivery.Item{}, fmt.Errorf("event is %w", err)
	}
	// One pass over the top-level keys; rebuild writes them out again.
	var pairs [24]pair
	ev := topLevel(raw, pairs[:0])
	var f [12]gjson.Result
	for i, key := range [...]string{"type", "userId", "anonymousId", "messageId", "timestamp", "sentAt",
		"event", "groupId", "previousId", "context", "integrations", "writeKey"} {
		f[i] = ev.get(key)
	}
	var sets []field
	t := f[0]
	switch {
	case typ != "":
		if t.String() != typ {
			sets = append(sets, field{"type", strconv.Quote(typ)})
		}
	case !t.Exists():
		return delivery.Item{}, fmt.Errorf(`event has no "type" (expected one of alias, group, identify, page, screen, track)`)
	case t.Type != gjson.String || !eventTypes[t.Str]:
		return delivery.Item{}, fmt.Errorf(`event "type" is %s, expected one of alias, group, identify, page, screen, track`, t.Raw)
	default:
		typ = t.Str
	}
	switch {
	case typ == "alias" && (!named(f[1]) || !named(f[8])):
		return delivery.Item{}, fmt.Errorf("alias needs userId and previousId")
	case typ != "alias" && !named(f[1]) && !named(f[2]):
		return delivery.Item{}, fmt.Errorf("%s has no userId or anonymousId: Segment needs one of them", typ)
	case typ == "track" && (f[6].Type != gjson.String || f[6].Str == ""):
		return delivery.Item{}, fmt.Errorf(`track has no "event" (the event's name)`)
	case typ == "group" && !named(f[7]):
		return delivery.Item{}, fmt.Errorf(`group has no "groupId"`)
	}

	var id string
	switch m := f[3]; {
	case m.Type == gjson.String && m.Str != "":
		id = m.Str
	case !m.Exists() || m.Type == gjson.Null || m.Type == gjson.String:
		id = newMessageID()
		sets = append(sets, field{"messageId", strconv.Quote(id)})
	default:
		return delivery.Item{}, fmt.Errorf(`"messageId" is %s, not a string`, m.Raw)
	}

	recv := received.UTC().Format(timeLayout)
	sets = append(sets, field{"receivedAt", strconv.Quote(recv)})
	sent := f[5]
	if !sent.Exists() && bc.sentAt.Exists() {
		sent = bc.sentAt
		sets = append(sets, field{"sentAt", sent.Raw})
	}
	switch ts := f[4]; {
	case !ts.Exists() || ts.Type == gjson.Null:
		sets = append(sets, field{"timestamp", strconv.Quote(recv)})
	case ts.Type == gjson.String:
		at, err := parseTime(ts.Str)
		if err != nil {
			return delivery.Item{}, fmt.Errorf(`"timestamp" is %s, not an ISO 8601 date`, ts.Raw)
		}
		sets = append(sets, field{"originalTimestamp", ts.Raw})
		if sentAt, err := parseTime(sent.Str); sent.Type == gjson.String && err == nil {
			corrected := received.Add(-sentAt.Sub(at))
			sets = append(sets, field{"timestamp", strconv.Quote(corrected.UTC().Format(timeLayout))})
		}
	case ts.Type != gjson.Number:
		return delivery.Item{}, fmt.Errorf(`"timestamp" is %s, not an ISO 8601 date`, ts.Raw)
	}
	if !f[9].Exists() && bc.context.IsObject() {
		sets = append(sets, field{"context", bc.context.Raw})
	}
	if !f[10].Exists() && bc.integrations.IsObject() {
		sets = append(sets, field{"integrations", bc.integrations.Raw})
	}
	return delivery.Item{ID: id, Data: ev.rebuild(len(raw), sets, f[11].Exists()), Ref: "messageId " + id}, nil
}

// pair is one top-level key and its value.
type pair struct {
	key string // unescaped
	raw string // the key as written, quotes included
	val gjson.Result
}

// object is an event's top-level keys in order; a key given twice keeps
// its first value (as gjson, and so the engine, reads it).
type object []pair

func topLevel(raw []byte, buf []pair) object {
	gjson.ParseBytes(raw).ForEach(func(k, v gjson.Result) bool {
		name := k.String()
		for _, p := range buf {
			if p.key == name {
				return true
			}
		}
		buf = append(buf, pair{name, k.Raw, v})
		return true
	})
	return object(buf)
}

func (o object) get(key string) gjson.Result {
	for _, p := range o {
		if p.key == key {
			return p.val
		}
	}
	return gjson.Result{}
}

// named says whether an id field holds something: a non-empty string or a
// number.
func named(r gjson.Result) bool {
	return r.Type == gjson.String && r.Str != "" || r.Type == gjson.Number
}

func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// rebuild writes the object with the fields set: an existing key keeps its
// place with the new value, a new one is added at the end; writeKey is
// left out when dropKey. size is the original's, to size the output.
func (o object) rebuild(size int, sets []field, dropKey bool) []byte {
	out := make([]byte, 0, size+160)
	out = append(out, '{')
	used := make([]bool, len(sets))
	for _, p := range o {
		if dropKey && p.key == "writeKey" {
			continue
		}
		val := p.val.Raw
		for i, s := range sets {
			if s.key == p.key && !used[i] {
				val, used[i] = s.raw, true
			}
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, p.raw...)
		out = append(out, ':')
		out = append(out, val...)
	}
	for i, s := range sets {
		if used[i] {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = strconv.AppendQuote(out, s.key)
		out = append(out, ':')
		out = append(out, s.raw...)
	}
	return append(out, '}')
}
