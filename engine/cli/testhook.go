package cli

import "github.com/intercom-actions/intercom-actions/engine/internal/delivery"

// holdAfterDeadLetterEnv, set to anything in the environment of a binary
// built with -tags testhooks, makes serve or send hold for good once its
// first dead letter is kept, before that event is settled, having said so
// on stderr (holdingLine): the tests kill it there, a crash between the
// two writes.
const holdAfterDeadLetterEnv = "INTERCOM_ACTIONS_TEST_HOLD_AFTER_DEAD_LETTER"

// holdingLine is what the held process writes to stderr.
const holdingLine = "testhook: a dead letter is kept and its event not settled: holding"

// afterDeadLetter, if set, is called after each dead letter is kept and
// before its event is settled. It is nil but in a binary built with
// -tags testhooks (testhook_on.go), as the tests' subprocesses are.
var afterDeadLetter func()

// hookDeadLetters is dl, calling afterDeadLetter after each dead letter it
// keeps when that is set.
func hookDeadLetters(dl delivery.DeadLetters) delivery.DeadLetters {
	if afterDeadLetter == nil {
		return dl
	}
	return delivery.DeadLetterFunc(func(d delivery.DeadLetter) error {
		err := dl.Put(d)
		if err == nil {
			afterDeadLetter()
		}
		return err
	})
}
