package dispatch

import (
	"hash/fnv"
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/action"
)

// placeEvents places the planned track_events of an event in time (see
// samesecond): an event of one name for one contact in a second another
// already has is counted (Summary.SameSecond), since Intercom would store
// only one of them, and with Config.SpreadSameSecond it is moved to the
// next free second (Summary.Spread). It runs where events are planned, in
// input order, so the seconds given depend only on the input; an event
// planned again (a retry, a redelivery) keeps the second it was given.
func (d *Dispatcher) placeEvents(p *planned) {
	if d.cfg.Seconds == nil {
		return
	}
	var id string
	for _, a := range p.actions {
		contact, name, at, ok := action.EventSecond(a)
		if !ok {
			continue
		}
		if id == "" {
			id = eventIdentity(p.ev.Raw)
		}
		placed := d.cfg.Seconds.Place(contact, name, at, id+"\x00"+a.Rule, d.cfg.SpreadSameSecond)
		if placed.At != at {
			action.MoveEvent(a, placed.At)
		}
		if placed.Same {
			d.count(func(s *Summary) {
				s.SameSecond++
				if placed.Moved {
					s.Spread++
				}
			})
		}
	}
}

// eventIdentity names an event for placing it again at the same second:
// its messageId, else a hash of its bytes.
func eventIdentity(raw []byte) string {
	if id := gjson.GetBytes(raw, "messageId"); id.Type == gjson.String && id.Str != "" {
		return "m:" + id.Str
	}
	h := fnv.New64a()
	h.Write(raw)
	return "h:" + strconv.FormatUint(h.Sum64(), 16)
}
