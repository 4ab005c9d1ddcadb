package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/intercom-actions/intercom-actions/engine/internal/flock"
)

// MarkerFile is written in the data dir when a spool is made there, so
// that a spool file gone missing later is noticed rather than replaced by
// an empty one.
const MarkerFile = "spool.created"

// DamagedError says what is wrong with a spool file and how to recover:
// the spool is never silently replaced or started empty.
type DamagedError struct {
	Dir      string
	Problems []string // what is wrong, the first first
	Fix      string   // what to do
}

func (e *DamagedError) Error() string {
	what := e.Problems[0]
	if n := len(e.Problems) - 1; n > 0 {
		what += fmt.Sprintf(" (and %d more problems)", n)
	}
	return fmt.Sprintf("spool: %s: %s. %s", filepath.Join(e.Dir, FileName), what, e.Fix)
}

// damaged is the error of a spool file the walk found damaged.
func damaged(dir string, problems []string) *DamagedError {
	return &DamagedError{Dir: dir, Problems: problems, Fix: fmt.Sprintf(
		"Nothing was changed: see what is wrong with 'intercom-actions spool check --data-dir %s', "+
			"and copy every readable event and dead letter into a new spool with 'intercom-actions spool salvage --data-dir %s'", dir, dir)}
}

// ErrNoSpool is the error, wrapped, of Check, Salvage and Open with
// Options.MustExist in a data dir where no spool was made.
var ErrNoSpool = errors.New("no spool")

// present says whether the spool file in dir is there. One missing where
// a spool was made (its marker says so), or empty, is refused with a
// *DamagedError; with mustExist, so is a data dir where none was made
// (ErrNoSpool).
func present(dir string, mustExist bool) (bool, error) {
	path := filepath.Join(dir, FileName)
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if made, err := os.ReadFile(filepath.Join(dir, MarkerFile)); err == nil {
			return false, &DamagedError{Dir: dir,
				Problems: []string{fmt.Sprintf("missing, though a spool was made in this data dir (%s: %s)", MarkerFile, strings.TrimSpace(string(made)))},
				Fix: fmt.Sprintf("The events and dead letters it held are not there. Put the file back (from a backup) and start again; "+
					"to start with an empty spool instead, delete %s", filepath.Join(dir, MarkerFile))}
		}
		if mustExist {
			return false, fmt.Errorf("spool: %w in %s (serve has not run with this --data-dir)", ErrNoSpool, dir)
		}
		return false, nil
	case err != nil:
		return false, fmt.Errorf("spool: %w", err)
	case info.Size() == 0:
		return true, &DamagedError{Dir: dir, Problems: []string{"empty (0 bytes), and a spool file never is: it was truncated"},
			Fix: fmt.Sprintf("The events and dead letters it held are not in it. Put the file back (from a backup) and start again; "+
				"to start with an empty spool instead, delete %s", path)}
	}
	return true, nil
}

// openLocked opens the spool file in dir and takes the lock bbolt takes on
// it, so that it is read whole by one process; held says another process
// has it (f is then nil).
func openLocked(dir string) (f *os.File, held bool, err error) {
	f, err = os.Open(filepath.Join(dir, FileName))
	if err != nil {
		return nil, false, fmt.Errorf("spool: %w", err)
	}
	held, err = flock.TryLock(f)
	if err != nil || held {
		f.Close()
		if err != nil {
			return nil, false, fmt.Errorf("spool: locking %s: %w", f.Name(), err)
		}
		return nil, true, nil
	}
	return f, false, nil
}

// openToRead is openLocked for Check and Salvage, which need the spool
// closed: another process holding it is ErrLocked.
func openToRead(dir string) (*os.File, error) {
	f, held, err := openLocked(dir)
	if err == nil && held {
		err = fmt.Errorf("%w (%s)", ErrLocked, dir)
	}
	return f, err
}

// inspect reads the header of the spool file f: its pages, and the
// problem of a file shorter than its header says (the first problem).
// A file that is not a bbolt file at all, or whose header copies are both
// damaged, gives a nil *pageFile and that problem; err is for a file that
// cannot be read.
func inspect(f *os.File) (*pageFile, []string, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	pf, err := openPages(f, info.Size())
	if err != nil {
		return nil, []string{err.Error()}, nil
	}
	if need := int64(pf.meta.hwm) * pf.pageSize; need > info.Size() {
		return pf, []string{fmt.Sprintf("the file is truncated: %d bytes, and its header counts %d pages of %d bytes (%d bytes)",
			info.Size(), pf.meta.hwm, pf.pageSize, need)}, nil
	}
	return pf, nil, nil
}

// preflight checks the spool file in dir before bbolt maps it: missing
// where a spool was made, empty, truncated or damaged are refused with a
// *DamagedError (see present for mustExist). A file another process has
// open is left to bbolt's lock, taken next.
func preflight(dir string, mustExist bool) error {
	if exists, err := present(dir, mustExist); err != nil || !exists {
		return err
	}
	f, held, err := openLocked(dir)
	if err != nil || held {
		return err
	}
	defer f.Close()
	defer flock.Unlock(f)
	pf, problems, err := inspect(f)
	if err != nil {
		return err
	}
	if len(problems) == 0 { // a truncated file is not walked: its pages past the end are lost
		w := &walk{pf: pf}
		w.run()
		problems = w.problems
	}
	if len(problems) > 0 {
		return damaged(dir, problems)
	}
	return nil
}

// openBolt opens the file with bbolt, turning a panic of bbolt on a file
// the walk found sound (it checks more) into a *DamagedError.
func openBolt(dir string, opts *bolt.Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, damaged(dir, []string{fmt.Sprint(r)})
		}
	}()
	return bolt.Open(filepath.Join(dir, FileName), 0o600, opts)
}

// mark writes the marker file, if missing, once the spool is made.
func mark(dir string, now time.Time) error {
	path := filepath.Join(dir, MarkerFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "made on %s\n", now.UTC().Format(time.RFC3339))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Report is what Check found in a spool file.
type Report struct {
	Pages, PageSize int64
	Events          int // queued events readable
	DeadLetters     int // dead letters readable
	BadRecords      int // readable records that do not decode (kept: they are dead-lettered when read)
	// Loose counts the events and dead letters found on pages the damage
	// cut off from the tree (see Salvage): not in Events and DeadLetters.
	LooseEvents, LooseDeadLetters int
	Problems                      []string // none for a sound file
}

// Check reads the spool file in dir without changing it: every page (see
// the walker), then, when they are sound, bbolt's own consistency check
// (Tx.Check) and each record. It needs the spool closed (serve stopped).
func Check(dir string) (Report, error) {
	if _, err := present(dir, true); err != nil {
		return Report{}, err
	}
	f, err := openToRead(dir)
	if err != nil {
		return Report{}, err
	}
	defer f.Close()
	defer flock.Unlock(f)
	pf, problems, err := inspect(f)
	if pf == nil || err != nil {
		return Report{Problems: problems}, err
	}
	rep := Report{Pages: int64(pf.meta.hwm), PageSize: pf.pageSize, Problems: problems}
	w := &walk{pf: pf, record: func(bucket string, k, v []byte) error {
		switch bucket {
		case string(bucketEvents):
			rep.Events++
			if _, err := decodeRecord(v); err != nil {
				rep.BadRecords++
			}
		case string(bucketDead):
			rep.DeadLetters++
			if len(k) != 8 {
				rep.BadRecords++
			} else if _, err := decodeDead(k, v); err != nil {
				rep.BadRecords++
			}
		}
		return nil
	}}
	w.run()
	rep.Problems = append(rep.Problems, w.problems...)
	if len(rep.Problems) > 0 {
		w.loose(func(bucket string, _, _ []byte) error {
			if bucket == string(bucketEvents) {
				rep.LooseEvents++
			} else {
				rep.LooseDeadLetters++
			}
			return nil
		})
		return rep, nil
	}
	flock.Unlock(f) // bbolt takes it
	db, err := openBolt(dir, &bolt.Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if err != nil {
		return rep, err
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			rep.Problems = append(rep.Problems, "bbolt: "+err.Error())
		}
		return nil
	})
	return rep, err
}

// Salvaged says what Salvage copied.
type Salvaged struct {
	Events      int // queued events copied
	DeadLetters int // dead letters copied
	IDs         int // message ids remembered for de-duplication
	// Loose counts the events and dead letters of Events and DeadLetters
	// found on pages the damage cut off from the tree: such a page may be
	// an old copy, so some of its events may have been sent already.
	LooseEvents, LooseDeadLetters int
	// Unreadable counts the records read whose key or value has a length
	// no spool writes (a damaged page): left behind.
	Unreadable int
	Problems   []string // what could not be read
}

// Salvage copies every record that can be read from the spool file in dir
// — queued events, dead letters, the message ids of de-duplication, the
// keys of the dead letters of the events queued (see putDead) — into
// a new spool file at out, which must not exist. It reads with the walker,
// page by page, so a truncated or damaged file gives up only the pages
// that are lost. The file in dir is not changed.
func Salvage(dir, out string) (Salvaged, error) {
	var res Salvaged
	if exists, err := present(dir, true); err != nil {
		if !exists {
			return res, err
		}
		return res, fmt.Errorf("spool: %s is empty: nothing can be salvaged from it", filepath.Join(dir, FileName))
	}
	if _, err := os.Stat(out); err == nil {
		return res, fmt.Errorf("spool: %s exists: salvage writes a new file", out)
	}
	f, err := openToRead(dir)
	if err != nil {
		return res, err
	}
	defer f.Close()
	defer flock.Unlock(f)
	pf, header, err := inspect(f)
	if err != nil {
		return res, err
	}
	if pf == nil {
		return res, fmt.Errorf("spool: %s: %s: nothing can be salvaged from it", filepath.Join(dir, FileName), header[0])
	}
	db, err := bolt.Open(out, 0o600, &bolt.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		return res, fmt.Errorf("spool: %w", err)
	}
	defer db.Close()

	type kv struct {
		bucket string
		k, v   []byte
	}
	var batch []kv
	var size int
	flush := func() error {
		err := db.Update(func(tx *bolt.Tx) error {
			for _, r := range batch {
				b, err := tx.CreateBucketIfNotExists([]byte(r.bucket))
				if err != nil {
					return err
				}
				if err := b.Put(r.k, r.v); err != nil {
					return err
				}
			}
			return nil
		})
		batch, size = batch[:0], 0
		return err
	}
	var seq, deadSeq, maxDead, count, bytes, deadBytes uint64
	sequences := map[string]uint64{}
	w := &walk{pf: pf,
		sequence: func(bucket string, s uint64) { sequences[bucket] = s },
		record: func(bucket string, k, v []byte) error {
			// A record of a shape no spool writes (a damaged page) is left
			// behind: the new spool would trip on it.
			switch bucket {
			case string(bucketEvents):
				if len(k) != 8 {
					res.Unreadable++
					return nil
				}
				res.Events++
				count++
				bytes += uint64(len(v))
				seq = max(seq, binary.BigEndian.Uint64(k))
			case string(bucketDead):
				if len(k) != 8 {
					res.Unreadable++
					return nil
				}
				res.DeadLetters++
				deadBytes += uint64(len(v))
				maxDead = max(maxDead, binary.BigEndian.Uint64(k))
			case string(bucketDeadKeys):
				if len(k) < 9 || len(v) != 8 {
					res.Unreadable++
					return nil
				}
			case string(bucketIDs):
				if len(v) != 8 { // the time it was received
					res.Unreadable++
					return nil
				}
				res.IDs++
			case string(bucketIDTime):
				if len(k) <= 8 { // the time it was received, then the id
					res.Unreadable++
					return nil
				}
			case string(bucketMeta):
				if string(k) == string(keySeq) && len(v) == 8 {
					seq = max(seq, binary.BigEndian.Uint64(v))
				}
				return nil // recomputed
			default:
				return nil
			}
			batch = append(batch, kv{bucket, append([]byte(nil), k...), append([]byte(nil), v...)})
			if size += len(k) + len(v); size > 8<<20 {
				return flush()
			}
			return nil
		}}
	w.run()
	if len(w.problems) > 0 && w.err == nil {
		evs, dls := res.Events, res.DeadLetters
		w.loose(w.record)
		res.LooseEvents, res.LooseDeadLetters = res.Events-evs, res.DeadLetters-dls
	}
	if w.err != nil {
		return res, fmt.Errorf("spool: writing %s: %w", out, w.err)
	}
	if err := flush(); err != nil {
		return res, fmt.Errorf("spool: writing %s: %w", out, err)
	}
	deadSeq = max(sequences[string(bucketDead)], maxDead)
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEvents, bucketIDs, bucketIDTime, bucketDead, bucketDeadKeys, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := pruneDeadKeys(tx); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDead).SetSequence(deadSeq); err != nil {
			return err
		}
		m := tx.Bucket(bucketMeta)
		for k, v := range map[string]uint64{string(keySeq): seq, string(keyIDCount): uint64(res.IDs),
			string(keyBytes): bytes, string(keyCount): count, string(keyDeadBytes): deadBytes} {
			if err := m.Put([]byte(k), u64(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("spool: writing %s: %w", out, err)
	}
	res.Problems = w.problems
	if len(res.Problems) == 0 { // truncated past the last page in use
		res.Problems = header
	}
	return res, db.Close()
}

// pruneDeadKeys forgets the keys of dead letters whose event is not in the
// spool (one lost to the damage): they would never be settled.
func pruneDeadKeys(tx *bolt.Tx) error {
	keys, events := tx.Bucket(bucketDeadKeys), tx.Bucket(bucketEvents)
	var gone [][]byte
	keys.ForEach(func(k, _ []byte) error {
		if events.Get(k[:8]) == nil {
			gone = append(gone, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range gone {
		if err := keys.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
