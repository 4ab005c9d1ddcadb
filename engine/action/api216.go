package action

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// This file holds what call sequences do differently for Intercom's
// answers that need their own handling (API 2.13 to 2.16): a merged
// contact's old id, an archived contact, the cap on event names, and
// finding a user by external_id without search.

// followMerge asks Intercom, from 2.16, where the cached contact id that
// answered 404 went: when it was merged into another contact, GET
// /contacts/{id} answers 410 with a Link to that contact, which the API
// follows (its cache then maps the old id's keys to the contact merged
// into). It says whether that happened: the action then runs again with
// the cache, without a search (which lags a merge by minutes).
func (c *Call) followMerge(ctx context.Context, id string) bool {
	if !c.API.Version().MergedAnswers410() {
		return false
	}
	ct, err := c.API.GetContact(ctx, id)
	return err == nil && ct.ID != "" && ct.ID != id
}

// ErrArchived means a contact matching an identify is archived in
// Intercom, and the executor was told not to unarchive it
// (Executor.KeepArchived): the identify is dead-lettered.
var ErrArchived = errors.New("the contact is archived in Intercom")

// unarchive handles a 409 on create that names an archived contact:
// Intercom keeps it, archived, and refuses a new one with its details. As
// Intercom itself does when such a contact comes back through the
// Messenger, it is unarchived (POST /contacts/{id}/unarchive), and the
// caller then updates it; with Executor.KeepArchived, it is left as it is
// and the identify fails with ErrArchived.
func (c *Call) unarchive(ctx context.Context, id string, conflict error) error {
	if c.keepArchived {
		return fmt.Errorf("%w (id %s), and archived contacts are not unarchived (--archived-contacts dead-letter): %w", ErrArchived, id, conflict)
	}
	c.log.DebugContext(ctx, "intercom: contact is archived; unarchiving it", "contact", id)
	if err := c.API.UnarchiveContact(ctx, id); err != nil {
		return fmt.Errorf("create contact: %w; unarchive contact %s: %w", conflict, id, err)
	}
	return nil
}

// ErrEventNameCap means Intercom refused a data event because the
// workspace has its most active event names (120): retrying cannot help
// until event names are archived in Intercom's settings.
var ErrEventNameCap = errors.New("the workspace has Intercom's most active event names (120); archive unused event names in Intercom's settings to track new ones")

// eventNameCap wraps a 422 from POST /events that names the cap on event
// names as ErrEventNameCap; other errors are returned as they are.
func eventNameCap(err error) error {
	var ae *intercom.APIError
	if errors.As(err, &ae) && ae.Status == intercom.StatusUnprocessableEntity && strings.Contains(strings.ToLower(ae.Message), "event name") {
		return fmt.Errorf("%w: %w", ErrEventNameCap, err)
	}
	return err
}

// findUserByExternalID finds a user by external_id: from 2.13 with GET
// /contacts/find_by_external_id/{id}, which does not lag writes as search
// does (a 404: there is none); before, with a search. found is "" when no
// user has it.
func (c *Call) findUserByExternalID(ctx context.Context, ext string) (found string, err error) {
	if c.API.Version().FindByExternalID() {
		ct, err := c.API.FindContactByExternalID(ctx, ext)
		switch {
		case err == nil:
			return ct.ID, nil
		case intercom.StatusOf(err) == intercom.StatusNotFound:
			return "", nil
		}
		return "", fmt.Errorf("find contact by external_id: %w", err)
	}
	ans, err := c.API.SearchContacts(ctx, intercom.Eq("external_id", ext), searchPerPage)
	if err != nil {
		return "", fmt.Errorf("search contacts: %w", err)
	}
	if len(ans.Data) == 1 && ans.TotalCount == 1 {
		return ans.Data[0].ID, nil
	}
	return "", nil
}

// searchMissed is a contact a search of Intercom's contacts did not find.
// Intercom's search lags writes by up to a few minutes (its description's
// words), so it may find the contact later: see SearchMissed.
type searchMissed struct{ error }

func (e searchMissed) Unwrap() error { return e.error }

// SearchMissed reports whether err (wrapping ErrContactNotFound) is a
// contact a search did not find: one created moments ago, outside this
// process, may still show up, so a caller may look again once Intercom's
// search has caught up (a few minutes), rather than only until an identify.
func SearchMissed(err error) bool {
	var m searchMissed
	return errors.As(err, &m)
}
