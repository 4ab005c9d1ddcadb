package flock

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTryLockKeepsAFileToOneHolder: of two files open on one path, the
// second TryLock says held while the first holds the lock, and takes it
// once the first lets go.
func TestTryLockKeepsAFileToOneHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b := open(), open()
	if held, err := TryLock(a); held || err != nil {
		t.Fatalf("first TryLock: held %v, %v", held, err)
	}
	if held, err := TryLock(b); !held || err != nil {
		t.Fatalf("second TryLock while the first holds it: held %v, %v", held, err)
	}
	if err := Unlock(a); err != nil {
		t.Fatal(err)
	}
	if held, err := TryLock(b); held || err != nil {
		t.Fatalf("second TryLock after Unlock: held %v, %v", held, err)
	}
	Unlock(b)
}
