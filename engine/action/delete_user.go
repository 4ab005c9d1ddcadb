package action

import (
	"context"
	"errors"
	"fmt"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// DeleteUser deletes the user with an external_id, as for a user-deletion
// request: it finds the user with GET /contacts/find_by_external_id/{id}
// (from 2.13; before, a search by external_id that must match exactly one
// contact, and a user created so recently that search does not show it yet
// is found through the cache) and deletes it. deleted is false, with no error, when no contact
// has the external_id (or it was deleted meanwhile): the user is already
// absent, so the request is done, as Segment (since 2025) and RudderStack
// treat it. Several contacts with the external_id is an error wrapping
// ErrContactNotFound.
func DeleteUser(ctx context.Context, api intercom.API, externalID string) (deleted bool, err error) {
	if externalID == "" {
		return false, errors.New("delete user: no external_id")
	}
	if api.Version().FindByExternalID() {
		ct, err := api.FindContactByExternalID(ctx, externalID)
		switch {
		case intercom.StatusOf(err) == intercom.StatusNotFound:
			return false, nil // already absent: this lookup does not lag
		case err != nil:
			return false, fmt.Errorf("delete user: find contact by external_id: %w", err)
		}
		return deleteContact(ctx, api, ct.ID)
	}
	ans, err := api.SearchContacts(ctx, intercom.Eq("external_id", externalID), searchPerPage)
	if err != nil {
		return false, fmt.Errorf("delete user: search contacts: %w", err)
	}
	var id string
	switch {
	case len(ans.Data) == 1 && ans.TotalCount == 1:
		id = ans.Data[0].ID
	case ans.TotalCount > 1:
		return false, fmt.Errorf("delete user: %w", notFound(fmt.Sprintf("%d contacts match", ans.TotalCount), "external_id", externalID))
	default:
		e, ok := api.Cached(intercom.ExternalIDKey(externalID))
		if !ok {
			return false, nil // already absent
		}
		id = e.ID
	}
	return deleteContact(ctx, api, id)
}

// deleteContact deletes the user id; gone meanwhile is absent all the same.
func deleteContact(ctx context.Context, api intercom.API, id string) (deleted bool, err error) {
	if err := api.DeleteContact(ctx, id); err != nil {
		if intercom.StatusOf(err) == intercom.StatusNotFound {
			api.Forget(id)
			return false, nil // deleted meanwhile: absent all the same
		}
		return false, fmt.Errorf("delete user %s: %w", id, err)
	}
	return true, nil
}
