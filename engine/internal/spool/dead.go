package spool

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// DeadLetter is a stored dead letter and its id in the spool.
type DeadLetter struct {
	ID uint64 `json:"id"`
	delivery.DeadLetter
}

// PutDeadLetter keeps a dead letter, durably, before it returns (with the
// next group commit). It suits delivery.NewDeadLetterStore.
func (s *Spool) PutDeadLetter(dl delivery.DeadLetter) error {
	b, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	return s.do(context.Background(), &appendReq{dead: b})
}

func putDead(tx *bolt.Tx, data []byte) error {
	b := tx.Bucket(bucketDead)
	id, err := b.NextSequence()
	if err != nil {
		return err
	}
	return b.Put(u64(id), data)
}

// DeadLetters calls fn with each dead letter kept, oldest first, until fn
// returns an error.
func (s *Spool) DeadLetters(fn func(DeadLetter) error) error {
	var list []DeadLetter
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDead).ForEach(func(k, v []byte) error {
			dl, err := decodeDead(k, v)
			if err != nil {
				return err
			}
			list = append(list, dl)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, dl := range list {
		if err := fn(dl); err != nil {
			return err
		}
	}
	return nil
}

// DeadLetterByID returns the dead letter id, and whether there is one.
func (s *Spool) DeadLetterByID(id uint64) (DeadLetter, bool, error) {
	var dl DeadLetter
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketDead).Get(u64(id))
		if v == nil {
			return nil
		}
		var err error
		dl, err = decodeDead(u64(id), v)
		ok = err == nil
		return err
	})
	return dl, ok, err
}

func decodeDead(k, v []byte) (DeadLetter, error) {
	dl := DeadLetter{ID: binary.BigEndian.Uint64(k)}
	if err := json.Unmarshal(v, &dl.DeadLetter); err != nil {
		return dl, fmt.Errorf("spool: dead letter %d: %w", dl.ID, err)
	}
	return dl, nil
}

// ReplayResult says what Replay did.
type ReplayResult struct {
	Replayed []uint64 // put back in the queue (and removed from the dead letters)
	Unknown  []uint64 // left: outcome unknown, and includeUnknown was false
	Missing  []uint64 // asked for, but no such dead letter
}

// Replay puts dead letters back in the queue, to be dispatched again —
// each limited to its failed rule — and removes them from the dead letters,
// in one transaction. ids nil means all. A dead letter whose outcome is
// unknown (Intercom may have applied it) is replayed only with
// includeUnknown.
func (s *Spool) Replay(ctx context.Context, ids []uint64, includeUnknown bool) (ReplayResult, error) {
	r := &appendReq{replay: &replayReq{ids: ids, all: ids == nil, includeUnknown: includeUnknown}}
	err := s.do(ctx, r)
	return r.replay.out, err
}

// replayReq is a Replay for the committer.
type replayReq struct {
	ids            []uint64
	all            bool
	includeUnknown bool
	out            ReplayResult
}

func (r *replayReq) run(tx *bolt.Tx, put func(delivery.Item) error) error {
	r.out = ReplayResult{}
	dead := tx.Bucket(bucketDead)
	ids := r.ids
	if r.all {
		ids = nil
		dead.ForEach(func(k, _ []byte) error {
			ids = append(ids, binary.BigEndian.Uint64(k))
			return nil
		})
	}
	for _, id := range ids {
		v := dead.Get(u64(id))
		if v == nil {
			r.out.Missing = append(r.out.Missing, id)
			continue
		}
		dl, err := decodeDead(u64(id), v)
		if err != nil {
			return err
		}
		if dl.Outcome == delivery.OutcomeUnknown && !r.includeUnknown {
			r.out.Unknown = append(r.out.Unknown, id)
			continue
		}
		raw := []byte(dl.Event)
		var s string
		if json.Unmarshal(dl.Event, &s) == nil { // the event was not JSON: kept as a string
			raw = []byte(s)
		}
		ref := dl.Ref
		if ref == "" {
			ref = fmt.Sprintf("dead letter %d", id)
		}
		if err := put(delivery.Item{Data: raw, Only: dl.Rule, Ref: ref + " (replayed)"}); err != nil {
			return err
		}
		if err := dead.Delete(u64(id)); err != nil {
			return err
		}
		r.out.Replayed = append(r.out.Replayed, id)
	}
	return nil
}
