package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine/internal/flock"
)

// A Lock keeps a checkpoint to one run: Acquire takes it, or says which
// process holds it.
//
// It is an advisory lock of the operating system (flock on Unix,
// LockFileEx on Windows) on a file beside the checkpoint (its path and
// ".lock"), not a file whose existence is the lock: the system drops it
// when the holder exits, however it exits (a kill -9 or a crash included),
// so a dead run never leaves a stale lock that a person must remove, and
// there is no process id to compare with one that may have been reused.
// The holder's process id is written in the file only to name it in the
// refusal.
type Lock struct {
	f *os.File
}

// ErrLocked is the error of Acquire when another process holds the lock.
type ErrLocked struct {
	Path string // the checkpoint
	PID  int    // the holder's process id, 0 if unknown
}

func (e *ErrLocked) Error() string {
	holder := "another send"
	if e.PID > 0 {
		holder = "another send (process " + strconv.Itoa(e.PID) + ")"
	}
	return fmt.Sprintf("%s is in use by %s that is still running: two runs over one checkpoint would send the same events twice; wait for it to finish, or stop it (Ctrl-C) and then add --resume", e.Path, holder)
}

// Acquire takes the lock of the checkpoint at path, without waiting: an
// *ErrLocked if another process holds it.
func Acquire(path string) (*Lock, error) {
	lockPath := path + ".lock"
	for {
		f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("checkpoint lock: %w", err)
		}
		held, err := flock.TryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("checkpoint lock %s: %w", lockPath, err)
		}
		if held {
			data := make([]byte, 32)
			n, _ := f.ReadAt(data, 0)
			f.Close()
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data[:n])))
			return nil, &ErrLocked{Path: path, PID: pid}
		}
		// The holder before us removes the file before it lets go: a lock
		// on a file no longer at lockPath keeps nothing; take the new one.
		if same, err := stillAt(f, lockPath); err != nil || !same {
			f.Close()
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("checkpoint lock: %w", err)
			}
			continue
		}
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		return &Lock{f: f}, nil
	}
}

// stillAt says whether f is the file at path.
func stillAt(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// Release removes the lock file and lets go of the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	var err error
	if runtime.GOOS != "windows" { // Windows does not remove an open file: it stays, unlocked
		err = os.Remove(l.f.Name()) // while held: see Acquire
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
