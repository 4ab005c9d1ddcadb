//go:build race

package engine

// raceEnabled: the race detector is on; it allocates, and sync.Pool drops
// items on purpose, so allocation counts mean nothing.
const raceEnabled = true
