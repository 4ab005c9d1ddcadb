// Package simhook lets a test binary watch every exchange of every
// simulator it starts, without each test passing simulator.Options.Observe:
// the contract check (engine/simulator/contract) installs its observer here
// from a TestMain, and the intercom-actions binary, when a test that runs
// it asks, one that logs them for the test (engine/cli). It holds the
// observer as an untyped value, a func(simulator.Exchange), because the
// simulator imports this package.
package simhook

import "sync/atomic"

var observer atomic.Value // holds a box

type box struct{ f any }

// SetObserver makes f the observer of every simulator's exchanges (nil:
// none) and returns the one it replaces.
func SetObserver(f any) (old any) {
	if prev, ok := observer.Swap(box{f}).(box); ok {
		return prev.f
	}
	return nil
}

// Observer is the observer set by SetObserver, nil when none is.
func Observer() any {
	if b, ok := observer.Load().(box); ok {
		return b.f
	}
	return nil
}
