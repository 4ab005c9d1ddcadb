// Package flock takes an advisory lock of the operating system on an open
// file, without waiting: flock on Unix, LockFileEx on Windows, on the byte
// bbolt locks (so a lock taken here and bbolt's keep each other out). The
// system drops it when the holder exits, however it exits.
package flock
