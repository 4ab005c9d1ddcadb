package action

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// ErrContactNotFound means an action needs an existing contact and none was
// found (or several were). The contact may simply not exist yet: a caller
// that orders actions per contact can wait for a pending identify and retry.
// Errors wrap it with the lookup keys, e.g. `contact not found (external_id "u-1")`.
var ErrContactNotFound = errors.New("contact not found")

// ErrCompanyNotFound means an action names a company (by your company_id)
// that Intercom does not have; unlike a missing contact, waiting will not
// bring it. Errors wrap it with the company_id, e.g.
// `company not found (company_id "acme")`.
var ErrCompanyNotFound = errors.New("company not found")

// Result is what executing one action did.
type Result struct {
	Calls int // HTTP requests sent for the action, retries included
	// Undelivered are the Calls that failed before reaching Intercom
	// (connection refused, DNS, TLS), so cannot have changed anything.
	Undelivered int
	// Saved counts, by reason, the calls not sent because Intercom already
	// holds what they would send (see intercom.Tally.AddSaved); nil for none.
	Saved     map[string]int
	ContactID string // Intercom id of the contact acted on, when known
	CompanyID string // Intercom id of the company, when one was acted on
	// Warnings say what the call sequence left out, e.g. a custom
	// attribute the workspace does not have (see Executor.Attributes).
	Warnings []string
}

// Executor runs planned actions' call sequences against an Intercom API.
type Executor struct {
	API intercom.API
	// Log receives debug logs of stale cache entries and conflicts, and
	// warnings of custom attributes dropped (ids and attribute names only);
	// nil discards.
	Log *slog.Logger
	// IndexWait is the first wait for Intercom's search index after a 409
	// that names no contact (the user exists, but search does not show it
	// yet): the search is tried again after IndexWait, then twice as long,
	// IndexTries times in all (defaults 1s and 4: 15s at most).
	IndexWait  time.Duration
	IndexTries int
	// Attributes, when not nil, makes the custom attributes of contacts
	// and companies ones the workspace has before they are sent: it
	// creates or drops the missing ones, as its mode says. Share one
	// across the Executors of a run. Nil sends them as mapped.
	Attributes *Attributes
	// Merges, when not nil, merges the first calls of the actions announced
	// to it (Announce) whose kind declares a merge key: a backfill's
	// upserts of one company become one. Share one across the Executors of
	// a run; nil sends every action's calls on its own.
	Merges *Merges
	// KeepArchived leaves an archived contact that an identify matches
	// archived, and fails the identify with ErrArchived; by default it is
	// unarchived and updated, as Intercom does when such a contact comes
	// back through the Messenger.
	KeepArchived bool

	sleep func(ctx context.Context, d time.Duration) error // tests replace it
}

// Defaults of Executor.IndexWait and IndexTries.
const (
	DefaultIndexWait  = time.Second
	DefaultIndexTries = 4
)

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Execute runs a's call sequence. Ids come from the API's cache where it
// has them; when a cached id turns out to be gone (a 404), it is forgotten
// and the sequence runs again without the cache. A contact that must exist
// but is not found gives an error wrapping ErrContactNotFound; API errors
// are *intercom.APIError in the chain.
func (e Executor) Execute(ctx context.Context, a Action) (Result, error) {
	if a.Kind == nil {
		return Result{}, errors.New("action has no kind")
	}
	var tally intercom.Tally
	ctx = intercom.WithTally(ctx, &tally)
	defer e.Merges.Forget(a) // run, a is no part to carry any more, whatever its Run did
	c := &Call{API: e.API, log: e.Log, attrs: e.Attributes, merges: e.Merges, useCache: true, keepArchived: e.KeepArchived,
		indexWait: e.IndexWait, indexTries: e.IndexTries, sleep: e.sleep}
	if c.indexWait <= 0 {
		c.indexWait = DefaultIndexWait
	}
	if c.indexTries <= 0 {
		c.indexTries = DefaultIndexTries
	}
	if c.sleep == nil {
		c.sleep = sleep
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	err := a.Kind.run(ctx, c, a.Fields)
	var stale *staleCache
	if errors.As(err, &stale) {
		c.Result = Result{}
		if !stale.company && c.followMerge(ctx, stale.id) {
			c.log.DebugContext(ctx, "intercom: cached id was merged into another contact; using that one",
				"action", a.Kind.Name, "rule", a.Rule, "id", stale.id)
		} else {
			c.log.DebugContext(ctx, "intercom: cached id is gone; looking it up again",
				"action", a.Kind.Name, "rule", a.Rule, "id", stale.id)
			e.API.Forget(stale.id)
			c.useCache = false
		}
		err = a.Kind.run(ctx, c, a.Fields)
	}
	c.Result.Calls = tally.Calls()
	c.Result.Undelivered = tally.Undelivered()
	c.Result.Saved = tally.Saved()
	if err != nil {
		return c.Result, fmt.Errorf("%s: %w", a.Kind.Name, err)
	}
	return c.Result, nil
}

// Announce tells the Executor's Merges, if any, of a planned action, in
// input order, before it runs (see Merges).
func (e Executor) Announce(a Action) { e.Merges.Announce(a) }

// Forget tells the Executor's Merges, if any, that an announced action
// will not run.
func (e Executor) Forget(a Action) { e.Merges.Forget(a) }

// Call is one execution of an action's call sequence: the API, the result
// it records, and the shared ways of finding contacts.
type Call struct {
	API    intercom.API
	Result Result

	log      *slog.Logger
	attrs    *Attributes
	merges   *Merges
	useCache bool // false on the second run, after a cached id proved gone

	keepArchived bool // see Executor.KeepArchived

	indexWait  time.Duration
	indexTries int
	sleep      func(context.Context, time.Duration) error
}

// customAttributes returns the custom attributes obj of a model ("contact"
// or "company") as the Executor's Attributes make them: unchanged without
// one, else without the attributes the workspace lacks and could not get,
// each dropped with a warning in the result.
func (c *Call) customAttributes(ctx context.Context, model string, obj intercom.Object) (intercom.Object, error) {
	return c.attrs.filter(ctx, c.API, c.log, model, obj, func(w string) {
		c.Result.Warnings = append(c.Result.Warnings, w)
	})
}

// warner returns a function that adds a warning to the result and logs
// it: something the call sequence left out.
func (c *Call) warner(ctx context.Context) func(string) {
	return func(w string) {
		c.Result.Warnings = append(c.Result.Warnings, w)
		c.log.WarnContext(ctx, "intercom: "+w)
	}
}

// Merged sends, for a Run whose kind declares a MergeKey, the call that
// the Executor's Merges lets carry the parts of other actions of the kind
// with the same key (fields is the Run's *T). It waits while a call of the
// key is in flight; then, if an earlier call carried the part, it returns
// that call's outcome for it without calling send; else it calls send with
// the Fields of the parts to carry (the key's parts announced and not yet
// sent, fields among them, in input order), which returns one outcome
// each, and returns fields' own. merged is false when fields is no part
// (no Merges, or the action was not announced): the Run then sends its
// call on its own. err is ctx's, should it end while the part waits.
func (c *Call) Merged(ctx context.Context, fields any, send func(parts []any) []MergeOutcome) (out MergeOutcome, merged bool, err error) {
	return c.merges.turn(ctx, fields, send)
}

// source says where an id came from.
type source int

const (
	fromAction source = iota // given in the action
	fromCache
	fromSearch
)

// staleCache is a 404 for an id the cache gave: the contact or company is
// gone (deleted or merged), so the action is run again without the cache.
type staleCache struct {
	id      string
	err     error
	company bool // a company's id, not a contact's
}

func (e *staleCache) Error() string { return e.err.Error() }
func (e *staleCache) Unwrap() error { return e.err }

// stale wraps a 404 for an id that came from the cache as *staleCache.
func stale(err error, src source, id string) error {
	if src == fromCache && intercom.StatusOf(err) == intercom.StatusNotFound {
		return &staleCache{id: id, err: err}
	}
	return err
}

// staleCompany is stale for a company's id.
func staleCompany(err error, src source, id string) error {
	err = stale(err, src, id)
	var s *staleCache
	if errors.As(err, &s) {
		s.company = true
	}
	return err
}

// cached returns the cache's entry for key, unless this run avoids the cache.
func (c *Call) cached(key intercom.CacheKey) (intercom.Cached, bool) {
	if !c.useCache {
		return intercom.Cached{}, false
	}
	return c.API.Cached(key)
}

// notFound wraps ErrContactNotFound with the lookup keys, given as
// name/value pairs; empty values are left out. A detail, if not empty, is
// added after the keys.
func notFound(detail string, kv ...string) error {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			parts = append(parts, fmt.Sprintf("%s %q", kv[i], kv[i+1]))
		}
	}
	s := strings.Join(parts, ", ")
	if detail != "" {
		if s != "" {
			s += ": "
		}
		s += detail
	}
	if s == "" {
		return ErrContactNotFound
	}
	return fmt.Errorf("%w (%s)", ErrContactNotFound, s)
}
