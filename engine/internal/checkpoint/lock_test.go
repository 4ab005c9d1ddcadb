package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestLockKeepsACheckpointToOneHolder: a second Acquire is refused with the
// holder's process id while the first holds it; after Release the lock
// file is gone and the next Acquire succeeds.
func TestLockKeepsACheckpointToOneHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.ndjson")
	first, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(path)
	var locked *ErrLocked
	if !errors.As(err, &locked) || locked.PID != os.Getpid() || locked.Path != path {
		t.Fatalf("second Acquire: %v", err)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after Release: %v", err)
	}
	again, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	again.Release()
}

// TestStarted: progress with nothing settled is nothing to resume.
func TestStarted(t *testing.T) {
	for _, c := range []struct {
		p    []Progress
		want bool
	}{
		{nil, false},
		{[]Progress{{Path: "/a", Size: 10}}, false},
		{[]Progress{{Path: "/a"}, {Path: "/b", Mark: Mark{Settled: []int{3}}}}, true},
		{[]Progress{{Path: "/a", Mark: Mark{Line: 1}}}, true},
		{[]Progress{{Path: "/a", Done: true}}, true},
	} {
		if got := Started(c.p); got != c.want {
			t.Errorf("Started(%+v) = %v", c.p, got)
		}
	}
}
