package rest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// maxMergeHops bounds the 410s one call follows: Intercom's Link resolves
// chains of merges itself (up to 3 hops), so a second 410 is already odd.
const maxMergeHops = 3

// linkRE finds the contact id of a Link header's canonical target:
// `</contacts/{id}>; rel="canonical"`.
var linkRE = regexp.MustCompile(`<(?:[a-z]+://[^/>]+)?/contacts/([A-Za-z0-9_-]+)>\s*;\s*rel="?canonical"?`)

// canonicalContact is the contact id a 410's Link header names, or "".
func canonicalContact(link string) string {
	if m := linkRE.FindStringSubmatch(link); m != nil {
		return m[1]
	}
	return ""
}

// mergedInto is the id a 410 contact_merged answer names, or "".
func mergedInto(err error) string {
	var ae *intercom.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusGone {
		return ae.MergedInto
	}
	return ""
}

// follow makes a call on a contact's path (/contacts/{id}...), following
// a 410 contact_merged (2.16 on): the cache's keys of the old id move to
// the contact it was merged into, and the call is made again on that
// contact's path. GET /contacts/find_by_external_id/{id} becomes GET
// /contacts/{id} of the contact named.
func (c *Client) follow(ctx context.Context, cl call) (reply, error) {
	var total reply
	for hop := 0; ; hop++ {
		rep, err := c.do(ctx, cl)
		total.status = rep.status
		total.attempts += rep.attempts
		into := mergedInto(err)
		if into == "" || hop == maxMergeHops {
			return total, err
		}
		old, rest := splitContactPath(cl.path)
		if old == "find_by_external_id" { // no id of a contact: nothing cached to move
			cl.path, cl.endpoint = contactPath(into), epGetContact
		} else {
			cl.path = contactPath(into) + rest
			c.cache.repoint(old, into)
		}
		c.log.DebugContext(ctx, "intercom: contact was merged; following its Link", "contact", old, "into", into)
	}
}

// splitContactPath splits "/contacts/{id}/rest" into the id (as escaped
// in the path: Intercom's ids need no escaping) and "/rest".
func splitContactPath(path string) (id, rest string) {
	p := strings.TrimPrefix(path, "/contacts/")
	id, rest, found := strings.Cut(p, "/")
	if found {
		rest = "/" + rest
	}
	if q := strings.IndexByte(id, '?'); q >= 0 {
		id, rest = id[:q], id[q:]+rest
	}
	return id, rest
}

// FindContactByExternalID reads the user with external_id externalID
// (GET /contacts/find_by_external_id/{id}, 2.13 on), following a merge.
func (c *Client) FindContactByExternalID(ctx context.Context, externalID string) (*intercom.Contact, error) {
	path := "/contacts/find_by_external_id/" + url.PathEscape(externalID)
	return c.contact(ctx, call{http.MethodGet, path, epFindByExternal, nil, nil})
}

// UnarchiveContact restores the archived contact id
// (POST /contacts/{id}/unarchive).
func (c *Client) UnarchiveContact(ctx context.Context, id string) error {
	_, err := c.do(ctx, call{http.MethodPost, contactPath(id) + "/unarchive", epUnarchive, nil, nil})
	return err
}

// Version is the Intercom-Version the client sends.
func (c *Client) Version() intercom.Version { return intercom.Version(c.version) }
