//go:build unix

package spool

import (
	"os"
	"syscall"
)

// tryLock takes the lock bbolt takes on its file (flock), without waiting,
// so that the file is read whole by one process; false if another holds
// it. unlock releases it.
func tryLock(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

func unlock(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
