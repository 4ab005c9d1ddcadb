package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// DeadLetter is a stored dead letter and its id in the spool.
type DeadLetter struct {
	ID uint64 `json:"id"`
	delivery.DeadLetter
}

// PutDeadLetter keeps a dead letter, durably, before it returns (with the
// next group commit). It suits delivery.DeadLetterFunc.
//
// A dead letter of an event of this spool (its Key, from Source) is kept
// once per event, rule and action: when its event, dispatched before a
// crash that came before its settle, is dispatched again and fails alike,
// the dead letter kept the first time stands, and PutDeadLetter keeps
// nothing. So does it when that one was replayed or deleted meanwhile.
func (s *Spool) PutDeadLetter(dl delivery.DeadLetter) error {
	b, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	return s.do(context.Background(), &appendReq{dead: b, key: deadKey(dl)})
}

// deadKey is the key of dl in bucketDeadKeys — its event's seq (8 bytes,
// big endian, as in bucketEvents), then its rule (length first) and its
// action — or nil when its Key is not a seq of this spool's (a dead letter
// from elsewhere is kept as it comes).
func deadKey(dl delivery.DeadLetter) []byte {
	seq, err := strconv.ParseUint(dl.Key, 10, 64)
	if err != nil || seq == 0 {
		return nil
	}
	k := make([]byte, 0, 8+binary.MaxVarintLen64+len(dl.Rule)+len(dl.Action))
	k = binary.BigEndian.AppendUint64(k, seq)
	k = binary.AppendUvarint(k, uint64(len(dl.Rule)))
	k = append(k, dl.Rule...)
	return append(k, dl.Action...)
}

// putDead keeps the dead letter data, unless its key says one of its
// event, rule and action was kept already; it returns the bytes it added.
// The key is kept while the event is in the spool, and forgotten when it
// is settled (forgetDeadKeys), in the transaction that settles it: a crash
// can bring the event back only while its key is there.
func putDead(tx *bolt.Tx, data, key []byte) (int64, error) {
	keys := tx.Bucket(bucketDeadKeys)
	if key != nil && keys.Get(key) != nil {
		return 0, nil
	}
	b := tx.Bucket(bucketDead)
	id, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	if err := b.Put(u64(id), data); err != nil {
		return 0, err
	}
	if key != nil && tx.Bucket(bucketEvents).Get(key[:8]) != nil { // not settled yet: a crash can bring it back, so keep its key
		if err := keys.Put(key, u64(id)); err != nil {
			return 0, err
		}
	}
	return int64(len(data)), nil
}

// forgetDeadKeys forgets the keys of the dead letters of the event seq (8
// bytes), as it is settled.
func forgetDeadKeys(tx *bolt.Tx, seq []byte) error {
	keys := tx.Bucket(bucketDeadKeys)
	var found [][]byte // deleting while a cursor walks would skip keys
	c := keys.Cursor()
	for k, _ := c.Seek(seq); k != nil && bytes.HasPrefix(k, seq); k, _ = c.Next() {
		found = append(found, bytes.Clone(k))
	}
	for _, k := range found {
		if err := keys.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// deadChunk is how many dead letters DeadLetters reads per read
// transaction: its memory, whatever their number.
const deadChunk = 256

// DeadLetters calls fn with each dead letter kept, oldest first, until fn
// returns an error. It reads them a few at a time, so its memory does not
// grow with their number, and holds no transaction while fn runs (fn may
// be slow: a client reading a list).
func (s *Spool) DeadLetters(fn func(DeadLetter) error) error {
	var from uint64
	for {
		var chunk []DeadLetter
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketDead).Cursor()
			for k, v := c.Seek(u64(from)); k != nil && len(chunk) < deadChunk; k, v = c.Next() {
				dl, err := decodeDead(k, v)
				if err != nil {
					return err
				}
				chunk = append(chunk, dl)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, dl := range chunk {
			if err := fn(dl); err != nil {
				return err
			}
		}
		if len(chunk) < deadChunk {
			return nil
		}
		from = chunk[len(chunk)-1].ID + 1
	}
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

func (r *replayReq) run(tx *bolt.Tx, put func(delivery.Item) error, deadBytes *int64) error {
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
		*deadBytes -= int64(len(v))
		if err := dead.Delete(u64(id)); err != nil {
			return err
		}
		r.out.Replayed = append(r.out.Replayed, id)
	}
	return nil
}

// Deleted says what DeleteDeadLetters or PurgeDeadLetters did.
type Deleted struct {
	Deleted []uint64 `json:"deleted"`           // the dead letters deleted
	Missing []uint64 `json:"missing,omitempty"` // asked for, but no such dead letter
}

// DeleteDeadLetters deletes the dead letters ids, durably, in one
// transaction; their bytes no longer count toward MaxBytes.
func (s *Spool) DeleteDeadLetters(ctx context.Context, ids []uint64) (Deleted, error) {
	r := &appendReq{remove: &removeReq{ids: ids}}
	err := s.do(ctx, r)
	return r.remove.out, err
}

// purgeChunk is how many dead letters one transaction of PurgeDeadLetters
// looks at, so that a large purge does not hold them all in one
// transaction's memory.
const purgeChunk = 10_000

// PurgeDeadLetters deletes the dead letters made before before, a chunk
// per transaction, and returns how many it deleted.
func (s *Spool) PurgeDeadLetters(ctx context.Context, before time.Time) (int, error) {
	n := 0
	var from uint64
	for {
		rm := &removeReq{before: before, from: from, purge: true}
		if err := s.do(ctx, &appendReq{remove: rm}); err != nil {
			return n, err
		}
		n += len(rm.out.Deleted)
		if rm.next == 0 {
			return n, nil
		}
		from = rm.next
	}
}

// removeReq deletes dead letters for the committer: ids, or with purge
// those older than before, from the id from, at most purgeChunk looked at.
type removeReq struct {
	ids    []uint64
	purge  bool
	before time.Time
	from   uint64
	next   uint64 // purge: where the next chunk starts; 0 when done
	out    Deleted
}

func (r *removeReq) run(tx *bolt.Tx, deadBytes *int64) error {
	r.out, r.next = Deleted{}, 0
	dead := tx.Bucket(bucketDead)
	del := func(id uint64, size int) error {
		*deadBytes -= int64(size)
		r.out.Deleted = append(r.out.Deleted, id)
		return dead.Delete(u64(id))
	}
	if !r.purge {
		for _, id := range r.ids {
			v := dead.Get(u64(id))
			if v == nil {
				r.out.Missing = append(r.out.Missing, id)
				continue
			}
			if err := del(id, len(v)); err != nil {
				return err
			}
		}
		return nil
	}
	type letter struct {
		id   uint64
		size int
	}
	var old []letter // deleting while a cursor walks would skip keys
	c := dead.Cursor()
	seen := 0
	for k, v := c.Seek(u64(r.from)); k != nil; k, v = c.Next() {
		if seen == purgeChunk {
			r.next = binary.BigEndian.Uint64(k)
			break
		}
		seen++
		var at struct {
			Time time.Time `json:"time"`
		}
		if json.Unmarshal(v, &at) == nil && at.Time.Before(r.before) {
			old = append(old, letter{binary.BigEndian.Uint64(k), len(v)})
		}
	}
	for _, l := range old {
		if err := del(l.id, l.size); err != nil {
			return err
		}
	}
	return nil
}
