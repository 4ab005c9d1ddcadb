package delivery

import (
	"context"
	"errors"
)

// Item is an event ingestion accepted, to be stored.
type Item struct {
	// ID is the event's messageId, for de-duplication; "" stores it
	// whatever it is (a replayed dead letter).
	ID string
	// Data is the event's JSON.
	Data []byte
	// Only, when set, limits dispatch to this rule (a replayed dead letter).
	Only string
	// Ref says where the event came from, for logs and dead letters.
	Ref string
}

// Stored says what a Store did with the items it was given.
type Stored struct {
	Stored     int // items written
	Duplicates int // items whose ID was seen within the window: not written again
}

// Store keeps accepted events durably before ingestion answers: serve's
// spool, or a Kafka topic.
type Store interface {
	Append(ctx context.Context, items []Item) (Stored, error)
}

// ErrFull means a Store is full: the items were not stored, and the
// client should send them again later.
var ErrFull = errors.New("spool: full")

// Refusal is a Store's refusal of items for a reason of its own, such as
// serve's while too many actions wait for their contact: the client should
// send them again later (ingestion answers 503 with Msg).
type Refusal struct {
	Reason string // for metrics, e.g. "waiting_full"
	Msg    string // for the client
}

func (r *Refusal) Error() string { return r.Msg }
