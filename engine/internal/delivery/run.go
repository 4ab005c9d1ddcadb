package delivery

import "context"

// Sink is where a run's outcomes go.
type Sink struct {
	// DeadLetters keeps what finally failed; nil discards (the failures
	// are still counted and given to OnResult).
	DeadLetters DeadLetters
	// OnResult, if set, is called once per settled event, from several
	// goroutines: it must be safe for concurrent use.
	OnResult func(Result)
}

// Run is a source's events being sent.
type Run interface {
	// Stop ends the run gracefully: reading stops, the events being sent
	// finish, the events read and not started are left unsettled if
	// Redeliverable (else dead-lettered as not sent), and Wait returns
	// ErrStopped. It may be called more than once, from any goroutine.
	Stop()
	// Wait waits for the run to end and returns its summary and why it
	// ended: nil at the end of its source, ErrStopped after Stop, the
	// context's error after an abort, or a reason it stopped by itself
	// (Intercom refusing the token).
	Wait() (Summary, error)
	// Summary returns the counts so far.
	Summary() Summary
}

// Runner starts runs; the delivery core is one. Cancelling ctx aborts
// the run: requests in flight are cut off (an action cut off after its
// request was sent is dead-lettered as ErrOutcomeUnknown).
type Runner interface {
	Start(ctx context.Context, src Source, sink Sink) Run
}
