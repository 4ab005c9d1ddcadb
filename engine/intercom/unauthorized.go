package intercom

import "errors"

// ErrUnauthorized is what an *APIError with status 401 is (errors.Is):
// Intercom refused the access token, and every further call with it would
// fail the same way, so delivery pauses (or a run stops) rather than fail
// every event.
var ErrUnauthorized = errors.New("intercom refused the access token")

// Is reports whether e is target's kind of failure: ErrUnauthorized for a
// 401.
func (e *APIError) Is(target error) bool {
	return target == ErrUnauthorized && e.Status == 401
}
