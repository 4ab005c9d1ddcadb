// Package spool is serve's durable queue: events are acknowledged only
// once they are written and fsynced under the data dir, and stay there
// until the dispatcher has settled them (sent, skipped or dead-lettered),
// so a crash or a restart loses none. It also keeps the dead letters, for
// `deadletter list|show|replay`: each failure of an event once, though a
// crash between its dead letter and its settle dispatches it again (see
// PutDeadLetter).
//
// It is a bbolt database (one file, ACID transactions, one writer). Many
// concurrent Append calls share one transaction and so one fsync (group
// commit): a committer goroutine takes whatever requests are waiting,
// writes them in one transaction, commits, and answers them all; requests
// that arrive meanwhile make the next group. Settling rides the same
// commits.
//
// The spool is bounded: past Options.MaxBytes of pending events and dead
// letters together, Append returns delivery.ErrFull (serve answers 503
// with Retry-After). A messageId seen
// within Options.DedupWindow is stored once, so a client that retries a
// batch whose answer it lost does not get its events dispatched twice.
package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxBytes    = 1 << 30        // 1 GiB of pending events and dead letters
	DefaultDedupWindow = 24 * time.Hour // as Segment's de-duplication
	DefaultDedupMax    = 1_000_000      // message ids remembered at most
)

// FileName is the spool's database file in the data dir.
const FileName = "spool.db"

// ErrClosed means the spool is closed.
var ErrClosed = errors.New("spool: closed")

// ErrLocked means another process has the data dir open.
var ErrLocked = errors.New("spool: the data dir is in use by another process")

// Options configures a Spool.
type Options struct {
	// MaxBytes bounds the bytes of events stored and not yet settled and
	// of the dead letters kept, together (default DefaultMaxBytes).
	MaxBytes int64
	// DedupWindow is how long a messageId is remembered (default 24h).
	DedupWindow time.Duration
	// DedupMax bounds the number of message ids remembered; the oldest go
	// first (default DefaultDedupMax).
	DedupMax int
	// Clock returns the current time (default time.Now).
	Clock func() time.Time
	// LockTimeout is how long Open waits for another process to release
	// the data dir (default 100ms).
	LockTimeout time.Duration
	// RetryInterval is how often, while writes fail (a full or broken
	// disk), a write is tried again to see whether they work (default 1s).
	RetryInterval time.Duration
	// OnWriteError, if set, hears when writes start failing (with the
	// error) and when they work again (nil).
	OnWriteError func(error)
	// MustExist refuses a data dir where no spool was made (ErrNoSpool),
	// rather than make one there: for the commands that read a spool.
	MustExist bool

	// failWrites, if set, fails every commit whose transaction it returns an
	// error for: the tests' full disk.
	failWrites func() error
}

var (
	bucketEvents = []byte("events") // seq → record
	bucketIDs    = []byte("ids")    // messageId → received (Unix ns)
	bucketIDTime = []byte("idtime") // received (Unix ns) + messageId → nothing: the ids by age
	bucketDead   = []byte("dead")   // id → delivery.DeadLetter JSON
	// seq, rule and action → dead letter id: the dead letters of the
	// events not yet settled (see putDead)
	bucketDeadKeys = []byte("deadkeys")
	bucketMeta     = []byte("meta") // counters

	keySeq       = []byte("seq")    // the last event seq used
	keyIDCount   = []byte("idn")    // entries in ids
	keyBytes     = []byte("bytes")  // bytes of pending events
	keyCount     = []byte("count")  // pending events
	keyDeadBytes = []byte("dbytes") // bytes of dead letters
)

// Spool is an open spool. Its methods are safe for concurrent use.
type Spool struct {
	db   *bolt.DB
	opts Options

	reqs chan *appendReq
	kick chan struct{} // settles or replays are waiting
	quit chan struct{}
	exit chan struct{}

	settleMu    sync.Mutex
	settles     []uint64
	settledNext chan struct{} // closed when the settles queued so far are committed

	// Owned by the committer; mirrored in the atomics for readers.
	seq       uint64
	idCount   int64
	bytes     atomic.Int64
	count     atomic.Int64
	deadBytes atomic.Int64

	writeErr atomic.Pointer[error] // the last commit's error; nil once one succeeds

	newData   chan struct{} // closed and replaced when events are committed
	newDataMu sync.Mutex

	commits atomic.Int64 // transactions committed (each one fsync)
	full    atomic.Bool  // an Append was refused, and nothing was settled since

	closeOnce sync.Once
	closed    atomic.Bool
}

// appendReq is a request to the committer: items to append, a dead
// letter to keep, or dead letters to replay.
type appendReq struct {
	items  []delivery.Item
	size   int64
	dead   []byte     // a dead letter's JSON to keep
	key    []byte     // the dead letter's deadKey, nil if it has none
	replay *replayReq // dead letters to put back in the queue
	remove *removeReq // dead letters to delete
	res    delivery.Stored
	err    error
	done   chan struct{}
}

// Open opens (creating it if need be) the spool in dir.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.DedupWindow <= 0 {
		opts.DedupWindow = DefaultDedupWindow
	}
	if opts.DedupMax <= 0 {
		opts.DedupMax = DefaultDedupMax
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 100 * time.Millisecond
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = time.Second
	}
	if err := preflight(dir, opts.MustExist); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	db, err := openBolt(dir, &bolt.Options{
		Timeout:         opts.LockTimeout,
		NoFreelistSync:  true, // rebuilt at open: fewer pages written per commit
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 64 << 20,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w (%s)", ErrLocked, dir)
	}
	if err != nil {
		if de := (*DamagedError)(nil); errors.As(err, &de) {
			return nil, err
		}
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{
		db: db, opts: opts,
		reqs: make(chan *appendReq, 1024), kick: make(chan struct{}, 1),
		quit: make(chan struct{}), exit: make(chan struct{}),
		newData: make(chan struct{}), settledNext: make(chan struct{}),
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEvents, bucketIDs, bucketIDTime, bucketDead, bucketDeadKeys, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		m := tx.Bucket(bucketMeta)
		s.seq = getUint(m, keySeq)
		s.idCount = int64(getUint(m, keyIDCount))
		s.bytes.Store(int64(getUint(m, keyBytes)))
		s.count.Store(int64(getUint(m, keyCount)))
		if m.Get(keyDeadBytes) == nil { // a spool of an earlier version: count them once
			var n uint64
			tx.Bucket(bucketDead).ForEach(func(_, v []byte) error { n += uint64(len(v)); return nil })
			if err := m.Put(keyDeadBytes, u64(n)); err != nil {
				return err
			}
		}
		s.deadBytes.Store(int64(getUint(m, keyDeadBytes)))
		return nil
	})
	if err == nil {
		err = mark(dir, opts.Clock())
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	go s.committer()
	return s, nil
}

// Close stops the committer once the requests already made are written,
// and closes the database.
func (s *Spool) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.quit)
		<-s.exit
		err = s.db.Close()
	})
	return err
}

// Append stores items durably (written and fsynced) before it returns,
// in one transaction shared with the other Appends waiting meanwhile. It
// returns delivery.ErrFull, storing nothing, when the items would take the
// pending events and the dead letters past MaxBytes.
func (s *Spool) Append(ctx context.Context, items []delivery.Item) (delivery.Stored, error) {
	r := &appendReq{items: items}
	for _, it := range items {
		r.size += recordSize(it)
	}
	if s.bytes.Load()+s.deadBytes.Load()+r.size > s.opts.MaxBytes {
		s.full.Store(true)
		return delivery.Stored{}, delivery.ErrFull // fast path; the committer checks again
	}
	err := s.do(ctx, r)
	if errors.Is(err, delivery.ErrFull) {
		s.full.Store(true)
	}
	return r.res, err
}

// Full says whether the last Append was refused for want of room and no
// event was settled (nor dead letter deleted) since.
func (s *Spool) Full() bool { return s.full.Load() }

// WriteError returns the error of the last write when it failed (a full
// or broken disk): nothing can be stored, settled or dead-lettered until a
// write works again, which the spool tries every Options.RetryInterval.
// It returns nil while writes work.
func (s *Spool) WriteError() error {
	if p := s.writeErr.Load(); p != nil {
		return *p
	}
	return nil
}

// do hands r to the committer and waits until it is written or refused.
func (s *Spool) do(ctx context.Context, r *appendReq) error {
	if s.closed.Load() {
		return ErrClosed
	}
	r.done = make(chan struct{})
	select {
	case s.reqs <- r:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.done: // once queued it is written or refused, whatever ctx says
	case <-s.exit:
		select {
		case <-r.done:
		default:
			return ErrClosed
		}
	}
	return r.err
}

// Settle removes the event seq: it was sent, skipped or dead-lettered. It
// is written with the next commit; a crash before that makes the event
// come again on the next start.
func (s *Spool) Settle(seq uint64) {
	s.settleMu.Lock()
	s.settles = append(s.settles, seq)
	s.settleMu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// SettleSync is Settle, returning once the settle is committed: a crash
// after it does not bring the event back. It returns at once after Close,
// and when the commit fails (a full disk): the settle is then written by
// the next commit that works, and a crash before it brings the event back.
func (s *Spool) SettleSync(seq uint64) {
	s.settleMu.Lock()
	s.settles = append(s.settles, seq)
	wait := s.settledNext
	s.settleMu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	select {
	case <-wait:
	case <-s.exit:
	}
}

// Depth returns the number of events stored and not settled.
func (s *Spool) Depth() int64 { return s.count.Load() }

// Bytes returns the bytes of events stored and not settled.
func (s *Spool) Bytes() int64 { return s.bytes.Load() }

// Commits returns the number of transactions committed, each with its
// fsync: fewer than the Appends when they share them.
func (s *Spool) Commits() int64 { return s.commits.Load() }

// DeadBytes returns the bytes of the dead letters kept: they count toward
// MaxBytes with the pending events.
func (s *Spool) DeadBytes() int64 { return s.deadBytes.Load() }

// MaxBytes returns the bound on Bytes and DeadBytes together.
func (s *Spool) MaxBytes() int64 { return s.opts.MaxBytes }

// OldestAge returns how long the oldest unsettled event has waited, or 0.
func (s *Spool) OldestAge() time.Duration {
	var age time.Duration
	s.db.View(func(tx *bolt.Tx) error {
		_, v := tx.Bucket(bucketEvents).Cursor().First()
		if v != nil {
			if rec, err := decodeRecord(v); err == nil {
				age = s.opts.Clock().Sub(time.Unix(0, rec.received))
			}
		}
		return nil
	})
	return max(age, 0)
}

// committer writes the waiting appends and settles, one transaction (and
// one fsync) per group.
func (s *Spool) committer() {
	defer close(s.exit)
	var group []*appendReq
	retry := time.NewTicker(s.opts.RetryInterval)
	defer retry.Stop()
	for {
		group = group[:0]
		probe := false
		select {
		case r := <-s.reqs:
			group = append(group, r)
		case <-s.kick:
		case <-retry.C:
			probe = s.writeErr.Load() != nil // see whether writes work again
			if !probe {
				continue
			}
		case <-s.quit:
			// Write what was asked before the close.
			for {
				select {
				case r := <-s.reqs:
					group = append(group, r)
					continue
				default:
				}
				break
			}
			s.commit(group, false)
			return
		}
	more:
		for len(group) < 4096 {
			select {
			case r := <-s.reqs:
				group = append(group, r)
			default:
				break more
			}
		}
		s.commit(group, probe)
	}
}

// commit writes one group of appends and the pending settles; with probe,
// it writes the counters even when there is nothing else.
func (s *Spool) commit(group []*appendReq, probe bool) {
	s.settleMu.Lock()
	settles := s.settles
	s.settles = nil
	waiters := s.settledNext
	s.settledNext = make(chan struct{})
	s.settleMu.Unlock()
	if len(group) == 0 && len(settles) == 0 && !probe {
		close(waiters)
		return
	}
	now := s.opts.Clock()
	seq, idCount := s.seq, s.idCount
	bytes, count, dead := s.bytes.Load(), s.count.Load(), s.deadBytes.Load()
	stored := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		seq, idCount = s.seq, s.idCount
		bytes, count, dead = s.bytes.Load(), s.count.Load(), s.deadBytes.Load()
		stored = false
		if s.opts.failWrites != nil {
			if err := s.opts.failWrites(); err != nil {
				return err
			}
		}
		events, ids, idTime := tx.Bucket(bucketEvents), tx.Bucket(bucketIDs), tx.Bucket(bucketIDTime)
		events.FillPercent, idTime.FillPercent = 0.95, 0.95 // keys only grow: pack the pages
		for _, k := range settles {
			key := u64(k)
			if v := events.Get(key); v != nil {
				bytes -= int64(len(v))
				count--
				if err := events.Delete(key); err != nil {
					return err
				}
				if err := forgetDeadKeys(tx, key); err != nil {
					return err
				}
			}
		}
		put := func(it delivery.Item) error {
			seq++
			rec := encodeRecord(record{received: now.UnixNano(), only: it.Only, ref: it.Ref, data: it.Data})
			if err := events.Put(u64(seq), rec); err != nil {
				return err
			}
			bytes += int64(len(rec))
			count++
			stored = true
			return nil
		}
		for _, r := range group {
			r.res, r.err = delivery.Stored{}, nil
			switch {
			case r.dead != nil:
				added, err := putDead(tx, r.dead, r.key)
				if err != nil {
					return err
				}
				dead += added
				continue
			case r.replay != nil:
				if err := r.replay.run(tx, put, &dead); err != nil {
					return err
				}
				continue
			case r.remove != nil:
				if err := r.remove.run(tx, &dead); err != nil {
					return err
				}
				continue
			case bytes+dead+r.size > s.opts.MaxBytes:
				r.err = delivery.ErrFull
				continue
			}
			for _, it := range r.items {
				if it.ID != "" {
					if v := ids.Get([]byte(it.ID)); v != nil && now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) < s.opts.DedupWindow {
						r.res.Duplicates++
						continue
					}
				}
				if err := put(it); err != nil {
					return err
				}
				r.res.Stored++
				if it.ID != "" {
					if old := ids.Get([]byte(it.ID)); old != nil { // expired: forget its old age entry
						idTime.Delete(append(append([]byte{}, old...), it.ID...))
					} else {
						idCount++
					}
					t := u64(uint64(now.UnixNano()))
					if err := ids.Put([]byte(it.ID), t); err != nil {
						return err
					}
					if err := idTime.Put(append(t, it.ID...), nil); err != nil {
						return err
					}
				}
			}
		}
		idCount -= pruneIDs(ids, idTime, now.Add(-s.opts.DedupWindow), idCount-int64(s.opts.DedupMax))
		m := tx.Bucket(bucketMeta)
		for k, v := range map[string]uint64{string(keySeq): seq, string(keyIDCount): uint64(idCount), string(keyBytes): uint64(bytes), string(keyCount): uint64(count), string(keyDeadBytes): uint64(dead)} {
			if err := m.Put([]byte(k), u64(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("spool: write: %w", err)
		for _, r := range group {
			r.res, r.err = delivery.Stored{}, err
		}
		// Nothing was written: the settles wait for the next commit that
		// works. Their waiters go on (a worker must not hang on a full disk):
		// a crash before that commit brings their events back, sent again
		// rather than lost.
		close(waiters)
		s.settleMu.Lock()
		s.settles = append(settles, s.settles...)
		s.settleMu.Unlock()
		if s.writeErr.Swap(&err) == nil && s.opts.OnWriteError != nil {
			s.opts.OnWriteError(err)
		}
		// The settles are tried again with the next commit: a request, or
		// the retry ticker's probe.
	} else {
		s.commits.Add(1)
		if len(settles) > 0 || dead < s.deadBytes.Load() {
			s.full.Store(false)
		}
		s.seq, s.idCount = seq, idCount
		s.bytes.Store(bytes)
		s.count.Store(count)
		s.deadBytes.Store(dead)
		close(waiters) // once the counters say what was committed
		if s.writeErr.Swap(nil) != nil && s.opts.OnWriteError != nil {
			s.opts.OnWriteError(nil)
		}
	}
	for _, r := range group {
		close(r.done)
	}
	if err == nil && stored {
		s.announce()
	}
}

// pruneIDs forgets message ids older than before, and the oldest excess
// ones, at most 10,000 per commit; it returns how many it forgot.
func pruneIDs(ids, idTime *bolt.Bucket, before time.Time, excess int64) int64 {
	var n int64
	c := idTime.Cursor()
	for k, _ := c.First(); k != nil && n < 10_000; k, _ = c.First() {
		if n >= excess && int64(binary.BigEndian.Uint64(k[:8])) >= before.UnixNano() {
			break
		}
		id := k[8:]
		if v := ids.Get(id); v != nil && string(v) == string(k[:8]) {
			ids.Delete(id)
		}
		c.Delete()
		n++
	}
	return n
}

// announce wakes the readers waiting for new events.
func (s *Spool) announce() {
	s.newDataMu.Lock()
	close(s.newData)
	s.newData = make(chan struct{})
	s.newDataMu.Unlock()
}

func (s *Spool) waitNew() <-chan struct{} {
	s.newDataMu.Lock()
	defer s.newDataMu.Unlock()
	return s.newData
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getUint(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}
