package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// damagedSpool makes a spool of 3,000 queued events of 1 KB and 40 dead
// letters in a new dir, closed, and returns the dir.
func damagedSpool(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 1000)
	for i := 0; i < 3000; i += 500 {
		var items []delivery.Item
		for j := i; j < i+500; j++ {
			items = append(items, delivery.Item{ID: fmt.Sprint(j), Data: []byte(fmt.Sprintf(`{"type":"track","userId":"u%d","event":"e%d","properties":{"pad":%q}}`, j, j, pad))})
		}
		if _, err := s.Append(context.Background(), items); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		if err := s.PutDeadLetter(delivery.DeadLetter{Event: []byte(`{"n":` + fmt.Sprint(i) + `}`), Error: "refused", Time: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// openSalvaged opens the spool file salvaged at out, moved into a data dir
// of its own, and closes it when the test ends.
func openSalvaged(t *testing.T, out string) *Spool {
	t.Helper()
	dir := t.TempDir()
	if err := os.Rename(out, filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestDamagedSpoolIsRefusedAndSalvaged: a spool file cut short (a crash of
// the disk, a copy that stopped) used to crash every start with SIGBUS; one
// emptied to 0 bytes, or deleted, used to start empty without a word. Each
// is now refused with what is wrong and how to recover, nothing changed;
// Check says the same, and Salvage copies every record it can read into a
// new spool, which opens and holds them.
func TestDamagedSpoolIsRefusedAndSalvaged(t *testing.T) {
	t.Run("truncated", func(t *testing.T) {
		dir := damagedSpool(t)
		path := filepath.Join(dir, FileName)
		f, _ := os.Open(path)
		info, _ := f.Stat()
		pf, err := openPages(f, info.Size())
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		pages := int64(pf.meta.hwm)
		cut := pages / 2 * 4096 // the file holds the first half of its pages
		if err := os.Truncate(path, cut); err != nil {
			t.Fatal(err)
		}
		_, err = Open(dir, Options{})
		var de *DamagedError
		if !errors.As(err, &de) {
			t.Fatalf("Open: %v", err)
		}
		want := fmt.Sprintf("spool: %s: the file is truncated: %d bytes, and its header counts %d pages of 4096 bytes (%d bytes). "+
			"Nothing was changed: see what is wrong with 'intercom-actions spool check --data-dir %s', "+
			"and copy every readable event and dead letter into a new spool with 'intercom-actions spool salvage --data-dir %s'",
			path, cut, pages, pages*4096, dir, dir)
		if err.Error() != want {
			t.Errorf("Open:\n%s\nwant:\n%s", err, want)
		}
		if after, _ := os.Stat(path); after.Size() != cut {
			t.Errorf("the refused file changed: %d bytes", after.Size())
		}
		rep, err := Check(dir)
		if err != nil || len(rep.Problems) == 0 || !strings.HasPrefix(rep.Problems[0], "the file is truncated") || rep.Events+rep.LooseEvents >= 3000 {
			t.Errorf("Check: %v %+v", err, rep)
		}
		out := filepath.Join(t.TempDir(), "salvaged.db")
		got, err := Salvage(dir, out)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("salvaged %d events and %d dead letters of 3000 and 40; %d problems, the first: %s", got.Events, got.DeadLetters, len(got.Problems), got.Problems[0])
		// The records Check could read are the ones salvaged: the first
		// half of the file's pages hold most events (their latest root is
		// lost with the second half: they are found loose).
		if got.Events != rep.Events+rep.LooseEvents || got.DeadLetters != rep.DeadLetters+rep.LooseDeadLetters || got.Events < 1000 {
			t.Errorf("salvaged %+v, check read %+v", got, rep)
		}
		// The salvaged file is a sound spool holding them.
		s := openSalvaged(t, out)
		dead := 0
		s.DeadLetters(func(DeadLetter) error { dead++; return nil })
		if s.Depth() != int64(got.Events) || dead != got.DeadLetters {
			t.Errorf("the salvaged spool holds %d events and %d dead letters, salvage said %+v", s.Depth(), dead, got)
		}
		read := 0
		src := s.Source()
		for int64(read) < s.Depth() {
			ev, err := src.Next(context.Background())
			if err != nil || ev.Err != nil || !strings.HasPrefix(string(ev.Raw), `{"type":"track"`) {
				t.Fatalf("event %d: %v %v %.40s", read, err, ev.Err, ev.Raw)
			}
			read++
		}
	})
	t.Run("zero bytes", func(t *testing.T) {
		dir := damagedSpool(t)
		path := filepath.Join(dir, FileName)
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		want := "spool: " + path + ": empty (0 bytes), and a spool file never is: it was truncated. " +
			"The events and dead letters it held are not in it. Put the file back (from a backup) and start again; " +
			"to start with an empty spool instead, delete " + path
		if de := (*DamagedError)(nil); !errors.As(err, &de) || err.Error() != want {
			t.Errorf("Open:\n%v\nwant:\n%s", err, want)
		}
		if _, err := Salvage(dir, filepath.Join(dir, "out.db")); err == nil || err.Error() != "spool: "+path+" is empty: nothing can be salvaged from it" {
			t.Errorf("Salvage: %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		dir := damagedSpool(t)
		made, _ := os.ReadFile(filepath.Join(dir, MarkerFile))
		os.Remove(filepath.Join(dir, FileName))
		_, err := Open(dir, Options{})
		want := "spool: " + filepath.Join(dir, FileName) + ": missing, though a spool was made in this data dir (spool.created: " + strings.TrimSpace(string(made)) + "). " +
			"The events and dead letters it held are not there. Put the file back (from a backup) and start again; " +
			"to start with an empty spool instead, delete " + filepath.Join(dir, MarkerFile)
		if err == nil || err.Error() != want {
			t.Errorf("Open:\n%v\nwant:\n%s", err, want)
		}
		os.Remove(filepath.Join(dir, MarkerFile)) // as the message says
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
	t.Run("a damaged page", func(t *testing.T) {
		dir := damagedSpool(t)
		path := filepath.Join(dir, FileName)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Page 5's header: its flags say no page type (bbolt panicked in freepages).
		f.WriteAt([]byte{0x7f, 0x7f}, 5*4096+8)
		f.Close()
		_, err = Open(dir, Options{})
		if de := (*DamagedError)(nil); !errors.As(err, &de) || !strings.Contains(err.Error(), ": page 5: not a branch or leaf page (flags 0x7f7f)") {
			t.Errorf("Open: %v", err)
		}
		rep, _ := Check(dir)
		got, err := Salvage(dir, filepath.Join(t.TempDir(), "s.db"))
		// One page of 4 KB is lost: at most the few events it held.
		if err != nil || got.Events != rep.Events+rep.LooseEvents || got.DeadLetters != rep.DeadLetters+rep.LooseDeadLetters ||
			got.Events < 2990 || got.DeadLetters != 40 || len(got.Problems) != 1 {
			t.Errorf("Salvage: %v %+v", err, got)
		}
	})
	t.Run("sound", func(t *testing.T) {
		dir := damagedSpool(t)
		rep, err := Check(dir)
		if err != nil || len(rep.Problems) != 0 || rep.Events != 3000 || rep.DeadLetters != 40 || rep.BadRecords != 0 {
			t.Errorf("Check: %v %+v", err, rep)
		}
		got, err := Salvage(dir, filepath.Join(t.TempDir(), "s.db"))
		if err != nil || got.Events != 3000 || got.DeadLetters != 40 || got.IDs != 3000 || len(got.Problems) != 0 {
			t.Errorf("Salvage: %v %+v", err, got)
		}
	})
}

// damageElements rewrites, on every leaf page of the spool file in dir
// (the live one and any old copy bbolt left), the element headers of the
// records whose key is the key of the first record match accepts: edit
// gets the 16-byte header (flags, pos, ksize, vsize). It returns that key.
func damageElements(t *testing.T, dir string, match func(k, v []byte) bool, edit func(elem []byte)) []byte {
	t.Helper()
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const ps = 4096
	var key []byte
	for pass := 0; pass < 2; pass++ {
		for off := 2 * ps; off+ps <= len(data); off += ps {
			p := data[off : off+ps]
			if le.Uint16(p[8:]) != leafPage || le.Uint32(p[12:]) != 0 {
				continue
			}
			for i := range int(le.Uint16(p[10:])) {
				at := pageHeaderSize + i*elementSize
				if at+elementSize > ps {
					break
				}
				e := p[at : at+elementSize]
				start := at + int(le.Uint32(e[4:]))
				ks, vs := int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
				if le.Uint32(e)&bucketLeafFlag != 0 || start+ks+vs > ps {
					continue
				}
				k, v := p[start:start+ks], p[start+ks:start+ks+vs]
				switch {
				case pass == 0 && key == nil && match(k, v):
					key = bytes.Clone(k)
				case pass == 1 && bytes.Equal(k, key) && match(k, v):
					edit(e)
				}
			}
		}
		if key == nil {
			t.Fatal("no record to damage")
		}
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestDamagedRecordKeys: a damaged page can give a record a key of a
// length no spool writes. `spool check` used to panic on a dead letter's
// short key (it decoded it before testing its length): it counts it as a
// bad record. `spool salvage` used to copy a short message-id age key and
// a short message-id value into the new spool, whose committer then
// panicked at every start (pruning the ids) or on the next event of that
// id: it leaves them behind, counted as unreadable, and the new spool
// takes events, that id's included.
func TestDamagedRecordKeys(t *testing.T) {
	t.Run("a dead letter's key", func(t *testing.T) {
		dir := damagedSpool(t)
		damageElements(t, dir, func(k, v []byte) bool { return len(k) == 8 && bytes.HasPrefix(v, []byte(`{"event":`)) },
			func(e []byte) { le.PutUint32(e[8:], 7) })
		rep, err := Check(dir)
		if err != nil || rep.Events != 3000 || rep.DeadLetters != 40 || rep.BadRecords != 1 {
			t.Errorf("Check: %v %+v", err, rep)
		}
		got, err := Salvage(dir, filepath.Join(t.TempDir(), "s.db"))
		if err != nil || got.Events != 3000 || got.DeadLetters != 39 || got.Unreadable != 1 {
			t.Errorf("Salvage: %v %+v", err, got)
		}
	})
	t.Run("message ids", func(t *testing.T) {
		dir := damagedSpool(t)
		// An age key cut to 5 bytes (its received time is 8), and a
		// message id's value cut to 7 (a received time is 8).
		damageElements(t, dir, func(k, v []byte) bool { return len(k) > 8 && len(v) == 0 },
			func(e []byte) { le.PutUint32(e[8:], 5) })
		id := damageElements(t, dir, func(k, v []byte) bool { return len(k) < 8 && len(v) == 8 && k[0] >= '0' && k[0] <= '9' },
			func(e []byte) { le.PutUint32(e[12:], 7) })
		out := filepath.Join(t.TempDir(), "s.db")
		got, err := Salvage(dir, out)
		if err != nil || got.Events != 3000 || got.DeadLetters != 40 || got.IDs != 2999 || got.Unreadable != 2 || len(got.Problems) != 0 {
			t.Errorf("Salvage: %v %+v", err, got)
		}
		s := openSalvaged(t, out)
		res, err := s.Append(context.Background(), []delivery.Item{{ID: string(id), Data: []byte(`{"type":"track"}`)}, {ID: "new", Data: []byte(`{"type":"track"}`)}})
		if err != nil || res.Stored != 2 || s.Depth() != 3002 {
			t.Errorf("Append to the salvaged spool: %v %+v, %d events", err, res, s.Depth())
		}
	})
}
