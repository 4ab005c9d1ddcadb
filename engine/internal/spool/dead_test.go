package spool

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// deadLetters lists the dead letters kept.
func deadLetters(t *testing.T, s *Spool) []DeadLetter {
	t.Helper()
	var out []DeadLetter
	if err := s.DeadLetters(func(dl DeadLetter) error { out = append(out, dl); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// deadKeys counts the keys of the dead letters of unsettled events.
func deadKeys(t *testing.T, s *Spool) int {
	t.Helper()
	n := 0
	s.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucketDeadKeys).Stats().KeyN; return nil })
	return n
}

// queued opens the spool in dir (closed by the test's end, or before it:
// a crash), appends the events ev(1) to ev(n) and returns them as its
// Source gives them.
func queued(t *testing.T, dir string, n int) (*Spool, []delivery.Event) {
	t.Helper()
	s := open(t, dir, Options{})
	var items []delivery.Item
	for i := 1; i <= n; i++ {
		items = append(items, ev(i))
	}
	if _, err := s.Append(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	return s, drain(t, s, n)
}

var errRefused = errors.New("intercom: 422 parameter_invalid")

// refuse keeps the dead letter of e's rule and action, refused at at.
func refuse(t *testing.T, s *Spool, e delivery.Event, rule, action string, at time.Time) {
	t.Helper()
	if err := s.PutDeadLetter(delivery.NewDeadLetter(e, rule, action, errRefused, at)); err != nil {
		t.Fatal(err)
	}
}

// editFile changes the closed spool file in dir with fn.
func editFile(t *testing.T, dir string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// TestDeadLetterOnceAcrossACrash: an event's failed action is
// dead-lettered, and the spool closes before the event is settled (a
// crash between the two commits). The event comes back at the next open,
// its action fails again, and its dead letter is not kept a second time:
// one dead letter, the dead bytes unchanged. Another action of the event,
// failing only the second time, is kept; the settle forgets what was kept
// for the event.
func TestDeadLetterOnceAcrossACrash(t *testing.T) {
	dir := t.TempDir()
	s, first := queued(t, dir, 2)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, e := range first {
		refuse(t, s, e, "Track Event", "track_event", at)
	}
	first[1].Done() // the second event is settled; the first is not: the crash
	kept := s.DeadBytes()
	s.Close()

	s = open(t, dir, Options{})
	again := drain(t, s, 1)
	if again[0].Ref != first[0].Ref || again[0].Key != first[0].Key || again[0].Key == "" {
		t.Fatalf("after the reopen: %q (key %q), want %q again (key %q)", again[0].Ref, again[0].Key, first[0].Ref, first[0].Key)
	}
	later := at.Add(time.Minute)
	refuse(t, s, again[0], "Track Event", "track_event", later)
	if got := deadLetters(t, s); len(got) != 2 || s.DeadBytes() != kept {
		t.Errorf("after the same failure again: %d dead letters (want 2: one an event), %d dead bytes (want %d)", len(got), s.DeadBytes(), kept)
	}
	refuse(t, s, again[0], "Identify User", "identify_user", later)
	again[0].Done()
	if got := deadLetters(t, s); len(got) != 3 || got[2].Rule != "Identify User" || !got[0].Time.Equal(at) {
		t.Errorf("dead letters: %+v", got)
	}
	if n := deadKeys(t, s); n != 0 || s.Depth() != 0 {
		t.Errorf("%d dead-letter keys left once every event is settled, %d events", n, s.Depth())
	}
}

// TestDeadLetterReplayedBeforeTheCrashIsNotKeptAgain: a dead letter
// replayed (or deleted) while its event was still unsettled is not kept
// again when the event comes back after a crash: what was done with it
// stands, and the replay is the one retry of the failure.
func TestDeadLetterReplayedBeforeTheCrashIsNotKeptAgain(t *testing.T) {
	dir := t.TempDir()
	s, evs := queued(t, dir, 1)
	refuse(t, s, evs[0], "Track Event", "track_event", time.Now())
	if res, err := s.Replay(context.Background(), nil, false); err != nil || len(res.Replayed) != 1 {
		t.Fatalf("replay: %+v %v", res, err)
	}
	s.Close()

	s = open(t, dir, Options{})
	again := drain(t, s, 2) // the event again, then its replay
	if again[0].Key != evs[0].Key || again[1].Only != "Track Event" {
		t.Fatalf("events: %+v", again)
	}
	refuse(t, s, again[0], "Track Event", "track_event", time.Now())
	if got := deadLetters(t, s); len(got) != 0 || s.DeadBytes() != 0 {
		t.Errorf("dead letters: %+v, %d bytes", got, s.DeadBytes())
	}
}

// TestDeadLetterWithoutKeyIsKept: a dead letter without its event's key
// (an older spool's, or one from elsewhere) is kept as it comes, each
// time.
func TestDeadLetterWithoutKeyIsKept(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	dl := delivery.DeadLetter{Event: []byte(`{"type":"track"}`), Ref: "messageId a", Rule: "Track Event", Action: "track_event", Error: "refused", Time: time.Unix(0, 0).UTC()}
	for range 2 {
		if err := s.PutDeadLetter(dl); err != nil {
			t.Fatal(err)
		}
	}
	if got := deadLetters(t, s); len(got) != 2 {
		t.Errorf("%d dead letters, want 2", len(got))
	}
}

// TestSpoolWithoutDeadKeysOpens: a spool file of an earlier version, with
// no keys of dead letters, opens with its dead letters and their bytes;
// its dead letters are kept once from then on.
func TestSpoolWithoutDeadKeysOpens(t *testing.T) {
	dir := t.TempDir()
	s, evs := queued(t, dir, 1)
	old := delivery.NewDeadLetter(evs[0], "Track Event", "track_event", errRefused, time.Now())
	old.Key = "" // as an earlier version kept it
	s.PutDeadLetter(old)
	kept := s.DeadBytes()
	s.Close()
	editFile(t, dir, func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketDeadKeys) })

	s = open(t, dir, Options{})
	if got := deadLetters(t, s); len(got) != 1 || s.DeadBytes() != kept || s.Depth() != 1 {
		t.Fatalf("%d dead letters of %d bytes (want 1 of %d), %d events", len(got), s.DeadBytes(), kept, s.Depth())
	}
	e := drain(t, s, 1)[0]
	for range 2 {
		refuse(t, s, e, "Track Event", "track_event", time.Now())
	}
	if got := deadLetters(t, s); len(got) != 2 {
		t.Errorf("%d dead letters, want 2: the earlier version's, then one", len(got))
	}
}

// TestSalvageKeepsTheDeadKeys: a salvaged spool still keeps its queued
// events' dead letters once; the keys of events it does not hold are
// left out.
func TestSalvageKeepsTheDeadKeys(t *testing.T) {
	dir := t.TempDir()
	s, evs := queued(t, dir, 2)
	for _, e := range evs {
		refuse(t, s, e, "Track Event", "track_event", time.Now())
	}
	s.Close()
	editFile(t, dir, func(tx *bolt.Tx) error { // the key of an event lost to the damage
		return tx.Bucket(bucketDeadKeys).Put(deadKey(delivery.DeadLetter{Key: "99", Rule: "R"}), u64(7))
	})
	ndir := t.TempDir()
	if _, err := Salvage(dir, filepath.Join(ndir, FileName)); err != nil {
		t.Fatal(err)
	}
	s = open(t, ndir, Options{})
	if n := deadKeys(t, s); n != 2 {
		t.Errorf("%d keys salvaged, want the 2 of the events queued", n)
	}
	again := drain(t, s, 2)
	refuse(t, s, again[0], "Track Event", "track_event", time.Now())
	if got := deadLetters(t, s); len(got) != 2 {
		t.Errorf("%d dead letters after the salvage and the same failure again, want 2", len(got))
	}
}
