package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// Source gives the spool's events to a dispatcher, oldest first, waiting
// for new ones when it has given them all. Each event is Redeliverable:
// settled in the spool only when the dispatcher has sent, skipped or
// dead-lettered it; one left unsettled by a stop comes again from the next
// Source, after a restart. Its Done returns once the settle is committed
// (SettleSync), so a crash brings back only the events in flight; the
// workers of a dispatcher share those commits.
type Source struct {
	// Settled, if set, is called as each event is settled with how long it
	// was in the spool (from its Append to its settling), e.g. for a metric.
	Settled func(waited time.Duration)

	s    *Spool
	next uint64 // the lowest seq not yet given
	buf  []delivery.Event
}

// Source returns a reader of the events not settled, from the oldest. A
// spool has one reader at a time (one dispatcher).
func (s *Spool) Source() *Source { return &Source{s: s} }

// readBatch is how many events Next reads per read transaction.
const readBatch = 256

// Next returns the next event, waiting for one if there is none; it
// returns ctx's error when ctx is done, and ErrClosed after Close.
func (src *Source) Next(ctx context.Context) (delivery.Event, error) {
	for len(src.buf) == 0 {
		wake := src.s.waitNew() // before reading, so a commit in between is not missed
		if err := src.fill(); err != nil {
			return delivery.Event{}, err
		}
		if len(src.buf) > 0 {
			break
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return delivery.Event{}, ctx.Err()
		case <-src.s.exit:
			return delivery.Event{}, ErrClosed
		}
	}
	ev := src.buf[0]
	src.buf[0] = delivery.Event{}
	src.buf = src.buf[1:]
	return ev, nil
}

// fill reads the next events into buf.
func (src *Source) fill() error {
	if src.s.closed.Load() {
		return ErrClosed
	}
	return src.s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(u64(src.next)); k != nil && len(src.buf) < readBatch; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			src.next = seq + 1
			rec, err := decodeRecord(v)
			ev := delivery.Event{Ref: rec.ref, Only: rec.only, Key: strconv.FormatUint(seq, 10), Redeliverable: true}
			if ev.Ref == "" {
				ev.Ref = fmt.Sprintf("spool:%d", seq)
			}
			if err != nil {
				ev.Raw, ev.Err = bytes.Clone(v), fmt.Errorf("spool record %d: %w", seq, err)
			} else {
				ev.Raw = bytes.Clone(rec.data)
			}
			s, settled, received := src.s, src.Settled, rec.received
			ev.Done = func() {
				s.SettleSync(seq)
				if settled != nil {
					settled(s.opts.Clock().Sub(time.Unix(0, received)))
				}
			}
			src.buf = append(src.buf, ev)
		}
		return nil
	})
}
