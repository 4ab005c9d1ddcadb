package delivery

import (
	"context"
	"time"
)

// Sink is where a run's outcomes go.
type Sink struct {
	// DeadLetters keeps what finally failed; nil discards (the failures
	// are still counted and given to OnResult).
	DeadLetters DeadLetters
	// OnResult, if set, is called once per settled event, from several
	// goroutines: it must be safe for concurrent use. It is called too for
	// an event left unsettled because its dead letter could not be written
	// (Result.Unsettled).
	OnResult func(Result)
	// DeadLetterRetry, if set, is the wait between the tries of a dead
	// letter that could not be written (a full or broken disk), while the
	// run goes on: its event is settled only once it is written (serve's
	// spool, whose one reader cannot give an event again before a restart).
	// Unset, the event is left unsettled at once, for a source that gives
	// it again (a Kafka partition not committed past it, a checkpoint);
	// either way an event whose dead letter is not written is not settled
	// if its source can give it again.
	DeadLetterRetry time.Duration
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
