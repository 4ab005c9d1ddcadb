package processor

import (
	"fmt"
	"time"
)

// What the options of Intercom's answers that need their own handling
// take (archived contacts, search lag, events in one second).

// The values of the archived-contacts option.
const (
	UnarchiveArchived  = "unarchive"   // unarchive an archived contact an identify matches, then update it
	DeadLetterArchived = "dead-letter" // leave it archived; dead-letter the identify
)

// DefaultSearchWait is how long an action whose contact a search did not
// find waits by default: Intercom's description says its search can lag a
// new contact by "a few minutes". maxSearchWait bounds the option.
const (
	DefaultSearchWait = 3 * time.Minute
	maxSearchWait     = 30 * time.Minute
)

// checkArchived accepts the values of the archived-contacts option.
func checkArchived(v string) error {
	switch v {
	case "", UnarchiveArchived, DeadLetterArchived:
		return nil
	}
	return &OptionError{Option: "archived-contacts", Detail: fmt.Sprintf(" %q: want %s or %s", v, UnarchiveArchived, DeadLetterArchived)}
}

// setSearchWait sets the search-wait option. Its 0 (wait contact-wait
// only) is kept as a nanosecond, since Config's zero SearchWait is the
// default: any wait no longer than ContactWait adds nothing to it.
func setSearchWait(c *Config, v string) error {
	if err := parseDuration(v, &c.SearchWait); err != nil {
		return err
	}
	if c.SearchWait == 0 {
		c.SearchWait = time.Nanosecond
	}
	return nil
}
