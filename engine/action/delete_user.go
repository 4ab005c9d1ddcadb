package action

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// DeleteUser deletes the user with an external_id, as for a user-deletion
// request: it searches by external_id and deletes the contact if exactly one
// matches; otherwise the error wraps ErrContactNotFound. A user created so
// recently that search does not show it yet is found through the cache.
func DeleteUser(ctx context.Context, api intercom.API, externalID string) error {
	if externalID == "" {
		return errors.New("delete user: no external_id")
	}
	ans, err := api.SearchContacts(ctx, intercom.Eq("external_id", externalID), searchPerPage)
	if err != nil {
		return fmt.Errorf("delete user: search contacts: %w", err)
	}
	var id string
	switch {
	case len(ans.Data) == 1 && ans.TotalCount == 1:
		id = ans.Data[0].ID
	case ans.TotalCount > 1:
		return fmt.Errorf("delete user: %w", notFound(fmt.Sprintf("%d contacts match", ans.TotalCount), "external_id", externalID))
	default:
		e, ok := api.Cached(intercom.ExternalIDKey(externalID))
		if !ok {
			return fmt.Errorf("delete user: %w", notFound("", "external_id", externalID))
		}
		id = e.ID
	}
	if err := api.DeleteContact(ctx, id); err != nil {
		if intercom.StatusOf(err) == http.StatusNotFound {
			api.Forget(id)
			return fmt.Errorf("delete user: %w: %w", notFound("", "external_id", externalID), err)
		}
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	return nil
}
