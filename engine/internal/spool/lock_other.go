//go:build !unix

package spool

import "os"

// tryLock does not lock where flock is missing: bbolt's own lock, taken
// next, still keeps a second process out.
func tryLock(*os.File) bool { return true }

func unlock(*os.File) {}
