// Package rest is the Intercom REST API client: it implements intercom.API
// over HTTP with typed calls and typed errors, an OAuth 2.0 bearer token,
// regions, a pinned API version, retries with backoff, client-side rate
// limiting from Intercom's X-RateLimit-* headers, and a bounded cache of
// contact and company ids that saves searches and sidesteps the lag of
// Intercom's search index. It knows no actions: their call sequences live
// with the actions (engine/action) and call it through intercom.API.
//
//	c, err := rest.New(rest.Config{
//		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}),
//	})
//	contact, err := c.GetContact(ctx, id)
//
// A Client is safe for concurrent use. Ordering the actions of one user is
// the caller's job (a dispatcher's).
package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/pause"
)

// DefaultVersion is the Intercom-Version sent when Config.Version is empty:
// the version whose request bodies and answers this client is written and
// tested for.
const DefaultVersion = string(intercom.DefaultVersion)

// modulePath is this project's module, for the User-Agent's version.
const modulePath = "github.com/intercom-actions/intercom-actions"

// DefaultUserAgent is the User-Agent sent when Config.UserAgent is empty:
// "intercom-actions/" and the project's version as the Go build records it
// (the module version of a release or `go install ...@version`, "dev" for
// a build from a source tree).
var DefaultUserAgent = "intercom-actions/" + moduleVersion()

// moduleVersion is this module's version in the running binary: the main
// module's, or, when another program embeds the client, the dependency's.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := ""
	if bi.Main.Path == modulePath {
		v = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == modulePath {
			v = d.Version
		}
	}
	if v == "" || v == "(devel)" {
		return "dev"
	}
	return v
}

// Defaults for the zero values of Config.
const (
	DefaultMaxRetries = 8                      // retries of a failed call
	DefaultMinBackoff = 200 * time.Millisecond // first backoff
	DefaultMaxBackoff = 30 * time.Second       // longest backoff
	DefaultCacheSize  = 100_000                // id cache entries
	DefaultTimeout    = 30 * time.Second       // per HTTP request, for the default HTTP client
)

// maxRateLimitWait bounds a wait for X-RateLimit-Reset or Retry-After, in
// case the server's clock and ours disagree.
const maxRateLimitWait = time.Minute

// maxRateLimited bounds the total time one call keeps waiting out 429s. A
// 429 is always temporary, so it does not use up MaxRetries (a storm of them
// would otherwise dead-letter good events); only this much waiting does.
const maxRateLimited = 15 * time.Minute

// maxResponse bounds the response body read.
const maxResponse = 16 << 20

// regions maps region names to API base URLs.
var regions = []struct {
	names []string
	url   string
}{
	{[]string{"us", "north_america"}, "https://api.intercom.io"},
	{[]string{"eu", "europe"}, "https://api.eu.intercom.io"},
	{[]string{"au", "australia"}, "https://api.au.intercom.io"},
}

// RegionURL returns the API base URL of an Intercom region: "us" or
// "north_america", "eu" or "europe", "au" or "australia" (case-insensitive).
func RegionURL(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	var all []string
	for _, r := range regions {
		for _, rn := range r.names {
			if n == rn {
				return r.url, nil
			}
			all = append(all, rn)
		}
	}
	return "", fmt.Errorf("unknown intercom region %q (expected one of %s)", name, strings.Join(all, ", "))
}

// Config configures a Client. Only TokenSource is required.
type Config struct {
	// BaseURL is the API base URL (default https://api.intercom.io; see RegionURL).
	BaseURL string
	// TokenSource gives the bearer token; use oauth2.StaticTokenSource for a
	// workspace access token such as INTERCOM_ACCESS_TOKEN.
	TokenSource oauth2.TokenSource
	// HTTPClient is the HTTP client to use (optional); its Transport is
	// wrapped with one that adds the bearer token, and only to requests for
	// BaseURL's scheme and host; a redirect to another host (or from https
	// to http) is refused, so the token never leaves for it. The default
	// has a 30 s timeout.
	HTTPClient *http.Client
	// Version is the Intercom-Version header (default DefaultVersion).
	Version string
	// UserAgent is the User-Agent header (default DefaultUserAgent, e.g.
	// "intercom-actions/v1.2.0").
	UserAgent string
	// MaxRetries is how many times a failed call is retried (default 8;
	// negative for none).
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff with full
	// jitter between retries (defaults 200ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// CacheSize is the number of contact and company id cache entries
	// (default 100,000; negative disables the cache).
	CacheSize int
	// Logger receives debug logs of retries and of stale cache entries
	// (contact ids only, never tokens or traits), and a warning when the API
	// cannot be reached. Default: discard.
	Logger *slog.Logger
	// OnUnreachable, if set, is called at once when a request cannot reach
	// the API at all (connection refused, DNS, TLS: see
	// Unreachable), and then at most every UnreachableEvery while
	// that goes on, so a caller can say so before the retries run out,
	// instead of the Logger's warning. It must not block.
	OnUnreachable func(err error)
	// Pause, if set, holds calls while Intercom cannot take them instead
	// of failing them: a 401 waits until the token works again (unless the
	// Gate stops on a refusal), and a retryable failure (connection errors,
	// timeouts, 5xx, 429) is retried past MaxRetries, at MaxBackoff, for as
	// long as the Gate's OutageLimit lets it. Nil: a 401 fails at once and
	// MaxRetries bounds the retries.
	Pause *pause.Gate
}

// UnreachableEvery is how often a continuing failure to reach the API is
// reported (to Config.OnUnreachable, else logged).
const UnreachableEvery = 10 * time.Second

// Client calls the Intercom REST API. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	hc         *http.Client
	version    string
	userAgent  string
	maxRetries int
	// rateLimitedMax bounds the waiting out of 429s (maxRateLimited): past
	// it a call fails, or with a Pause, Intercom counts as unreachable.
	rateLimitedMax time.Duration
	minBackoff     time.Duration
	maxBackoff     time.Duration
	log            *slog.Logger
	limit          limiter
	cache          *cache

	onUnreachable func(error)
	pause         *pause.Gate
	lastWarned    atomic.Int64 // Unix ns of the last unreachable report

	calls, retries, rateLimited atomic.Int64
	endpoints                   map[string]*atomic.Int64 // fixed at New; read-only
	otherMu                     sync.Mutex
	other                       map[string]int64 // endpoints not in the fixed set
}

// Endpoint keys, as counted in Stats.Endpoints.
const (
	epMe             = "GET /me"
	epCreateContact  = "POST /contacts"
	epGetContact     = "GET /contacts/{id}"
	epUpdateContact  = "PUT /contacts/{id}"
	epDeleteContact  = "DELETE /contacts/{id}"
	epSearchContacts = "POST /contacts/search"
	epMergeContacts  = "POST /contacts/merge"
	epAttachCompany  = "POST /contacts/{id}/companies"
	epDetachCompany  = "DELETE /contacts/{id}/companies/{id}"
	epUpsertCompany  = "POST /companies"
	epFindCompany    = "GET /companies"
	epSubmitEvent    = "POST /events"
	epTag            = "POST /tags"
	epTagContact     = "POST /contacts/{id}/tags"
	epUntagContact   = "DELETE /contacts/{id}/tags/{id}"
	epAddNote        = "POST /contacts/{id}/notes"
	epFindByExternal = "GET /contacts/find_by_external_id/{id}"
	epUnarchive      = "POST /contacts/{id}/unarchive"

	epListDataAttributes  = "GET /data_attributes"
	epCreateDataAttribute = "POST /data_attributes"
)

var endpointKeys = []string{
	epMe, epCreateContact, epGetContact, epUpdateContact, epDeleteContact,
	epSearchContacts, epMergeContacts, epAttachCompany, epDetachCompany, epUpsertCompany,
	epFindCompany, epSubmitEvent, epTag, epTagContact, epUntagContact, epAddNote, epFindByExternal, epUnarchive,
	epListDataAttributes, epCreateDataAttribute,
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.TokenSource == nil {
		return nil, errors.New("intercom: no token source")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = regions[0].url
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("intercom: base url: %w", err)
	}
	if base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("intercom: base url %q: want an http or https url with a host", cfg.BaseURL)
	}
	c := &Client{
		base:           base,
		version:        cfg.Version,
		maxRetries:     cfg.MaxRetries,
		rateLimitedMax: maxRateLimited,
		minBackoff:     cfg.MinBackoff,
		maxBackoff:     cfg.MaxBackoff,
		log:            cfg.Logger,
		endpoints:      make(map[string]*atomic.Int64, len(endpointKeys)),

		onUnreachable: cfg.OnUnreachable,
		pause:         cfg.Pause,
		other:         map[string]int64{},
	}
	if c.version == "" {
		c.version = DefaultVersion
	}
	if c.userAgent = cfg.UserAgent; c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.minBackoff <= 0 {
		c.minBackoff = DefaultMinBackoff
	}
	if c.maxBackoff <= 0 {
		c.maxBackoff = DefaultMaxBackoff
	}
	if c.maxBackoff < c.minBackoff {
		c.maxBackoff = c.minBackoff
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	c.cache = newCache(size)
	for _, k := range endpointKeys {
		c.endpoints[k] = new(atomic.Int64)
	}

	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		hc = http.Client{Timeout: DefaultTimeout, Transport: t}
	}
	if hc.Transport == nil {
		hc.Transport = http.DefaultTransport
	}
	source := cfg.TokenSource
	if _, swappable := source.(*SwappableToken); !swappable { // it reuses its tokens itself
		source = oauth2.ReuseTokenSource(nil, source)
	}
	hc.Transport = &bearerTransport{
		source: source,
		base:   hc.Transport,
		scheme: base.Scheme,
		host:   base.Host,
	}
	hc.CheckRedirect = sameHostRedirects(base, hc.CheckRedirect)
	c.hc = &hc
	return c, nil
}

// bearerTransport adds "Authorization: Bearer <token>" to the requests
// for one scheme and host, the API's, and to no other: unlike
// oauth2.Transport, which adds it to every request it carries, redirected
// ones included.
type bearerTransport struct {
	source       oauth2.TokenSource
	base         http.RoundTripper
	scheme, host string
}

// RoundTrip sends req, with the token when it goes to the API's host.
func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != t.scheme || !strings.EqualFold(req.URL.Host, t.host) {
		return t.base.RoundTrip(req)
	}
	tok, err := t.source.Token()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("access token: %w", err)
	}
	r := req.Clone(req.Context()) // a RoundTripper must not change the request it is given
	tok.SetAuthHeader(r)
	return t.base.RoundTrip(r)
}

// sameHostRedirects returns a CheckRedirect that refuses a redirect to
// another scheme or host than base's, then applies next (the given HTTP
// client's own policy), if any.
func sameHostRedirects(base *url.URL, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != base.Scheme || !strings.EqualFold(req.URL.Host, base.Host) {
			return fmt.Errorf("redirect to %s://%s refused: the access token is only sent to %s",
				req.URL.Scheme, req.URL.Host, base.Scheme+"://"+base.Host)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// Stats counts the HTTP calls of a Client since New.
type Stats struct {
	Calls       int64            // HTTP requests sent, retries included
	Retries     int64            // requests that were retries
	RateLimited int64            // 429 answers
	Endpoints   map[string]int64 // requests per endpoint, e.g. "PUT /contacts/{id}"
}

// Stats returns the call counts so far.
func (c *Client) Stats() Stats {
	s := Stats{
		Calls:       c.calls.Load(),
		Retries:     c.retries.Load(),
		RateLimited: c.rateLimited.Load(),
		Endpoints:   map[string]int64{},
	}
	for k, n := range c.endpoints {
		if v := n.Load(); v > 0 {
			s.Endpoints[k] = v
		}
	}
	c.otherMu.Lock()
	for k, v := range c.other {
		s.Endpoints[k] = v
	}
	c.otherMu.Unlock()
	return s
}

// String formats the stats on one line, endpoints in name order.
func (s Stats) String() string {
	keys := make([]string, 0, len(s.Endpoints))
	for k := range s.Endpoints {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d calls (%d retries, %d rate limited)", s.Calls, s.Retries, s.RateLimited)
	for _, k := range keys {
		fmt.Fprintf(&b, "; %s: %d", k, s.Endpoints[k])
	}
	return b.String()
}

func (c *Client) countEndpoint(key string) {
	if n, ok := c.endpoints[key]; ok {
		n.Add(1)
		return
	}
	c.otherMu.Lock()
	c.other[key]++
	c.otherMu.Unlock()
}

// call is one API call: its request and where its answer goes.
type call struct {
	method   string
	path     string // escaped path below the base URL, e.g. "/contacts/abc"
	endpoint string // Stats key
	body     any    // marshalled to JSON; nil for no body
	out      any    // decoded from a 2xx answer's JSON; nil to discard
}

// reply says how a call went.
type reply struct {
	status   int
	attempts int // requests sent
}

// do runs a call through the rate limiter and the retry loop. With a
// Pause, a refused token waits for a good one and an outage is waited out
// (see Config.Pause).
func (c *Client) do(ctx context.Context, cl call) (reply, error) {
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return reply{}, fmt.Errorf("intercom: %s: encode body: %w", cl.endpoint, err)
		}
	}
	u := c.base.String() + cl.path
	tally := intercom.TallyFrom(ctx)
	gate := c.pause
	maxRetries := c.maxRetries
	probe := cl.endpoint == epMe // a check of the token: few retries, never held by the Pause
	if probe {
		gate, maxRetries = nil, min(maxRetries, probeRetries)
	}
	var rep reply
	var limitedFor time.Duration // waited out on 429s so far
	attempt := 0                 // failures other than 429, for MaxRetries and backoff
	var firstFail time.Time      // of the failures in a row, for the Pause's outage
	for try := 0; ; try++ {
		if err := c.limit.acquire(ctx); err != nil {
			return rep, fmt.Errorf("intercom: %s: %w", cl.endpoint, err)
		}
		var gen uint64 // the token's generation this request goes with
		if gate != nil {
			gen = gate.Generation()
		}
		status, hdr, respBody, unsent, err := c.send(ctx, cl, u, body)
		rep.attempts++
		if tally != nil {
			tally.Add(1)
		}
		if try > 0 {
			c.retries.Add(1)
		}
		c.limit.release(hdr, c.now())
		var wait time.Duration
		var failure error // retryable: wait, then try again
		limited := false
		if status == 0 { // no answer
			if ctx.Err() != nil {
				if unsent && tally != nil { // cut off before it had a connection: it never reached Intercom
					tally.AddUndelivered(1)
				}
				return rep, fmt.Errorf("intercom: %s: %w", cl.endpoint, ctx.Err())
			}
			err = fmt.Errorf("intercom: %s: %w", cl.endpoint, err)
			if !probe && c.reportUnreachable(ctx, err) && tally != nil { // a check's caller says so itself
				tally.AddUndelivered(1)
			}
			if !Retryable(err) {
				return rep, err
			}
			failure = err
		} else {
			rep.status = status
			if status >= 200 && status < 300 {
				err = c.answer(cl, status, hdr, respBody, err)
				if err != nil && cl.reads() && attempt < maxRetries {
					attempt++ // a read changed nothing: it is asked again
					c.log.DebugContext(ctx, "intercom: retrying a damaged answer", "endpoint", cl.endpoint, "try", try+1, "error", err)
					continue
				}
				if err != nil {
					return rep, err
				}
				if gate != nil {
					gate.Answered()
				}
				return rep, nil
			}
			apiErr := parseAPIError(status, hdr, respBody, c.now())
			if status == http.StatusUnauthorized && gate != nil && !gate.StopsOnRefusal() {
				if tally != nil {
					tally.AddUndelivered(1) // refused: it changed nothing
				}
				gate.Refused(apiErr, gen)
				if err := gate.AwaitToken(ctx); err != nil {
					return rep, fmt.Errorf("intercom: %s: %w (the token was refused: %s)", cl.endpoint, err, apiErr.Message)
				}
				continue // with the token that works now
			}
			limited = status == http.StatusTooManyRequests
			if limited {
				c.rateLimited.Add(1)
			}
			switch {
			case !Retryable(apiErr):
				if gate != nil {
					gate.Answered()
				}
				return rep, apiErr
			case limited && limitedFor >= c.rateLimitedMax && gate == nil:
				return rep, apiErr
			}
			failure, wait = apiErr, apiErr.RetryAfter
		}
		if firstFail.IsZero() {
			firstFail = time.Now()
		}
		if limited {
			if gate != nil {
				// 429s past what the client waits out are an outage (the
				// Pause says so: paused, Intercom unreachable); OutageLimit
				// bounds them as it does other failures.
				var err error
				if limitedFor >= c.rateLimitedMax {
					err = gate.Outage(firstFail, failure)
				} else {
					err = gate.Bound(firstFail, failure)
				}
				if err != nil {
					return rep, err
				}
			}
			if wait <= 0 {
				wait = c.backoff(try)
			}
			limitedFor += max(wait, time.Millisecond)
		} else {
			switch {
			case attempt >= maxRetries && gate == nil:
				return rep, failure
			case attempt >= maxRetries: // an outage: waited out
				if err := gate.Outage(firstFail, failure); err != nil {
					return rep, err
				}
			case gate != nil: // still retrying, within the Gate's bound
				if err := gate.Bound(firstFail, failure); err != nil {
					return rep, err
				}
			}
			if wait <= 0 {
				wait = c.backoff(attempt)
			}
			attempt++
		}
		c.log.DebugContext(ctx, "intercom: retrying",
			"endpoint", cl.endpoint, "status", status, "try", try+1, "wait", wait, "error", failure)
		if err := gate.Sleep(ctx, wait); err != nil {
			return rep, fmt.Errorf("intercom: %s: %w", cl.endpoint, err)
		}
	}
}

// reads says whether the call only reads (GET, a search): sending it
// again cannot apply anything twice.
func (cl call) reads() bool { return cl.method == http.MethodGet || cl.endpoint == epSearchContacts }

// probeRetries bounds the retries of a check of the token (GET /me).
const probeRetries = 2

// answer reads a 2xx answer into cl.out. An answer cut off (readErr) or
// not JSON (a proxy's page, say) comes after Intercom may have applied
// the request: its error is delivery.ErrOutcomeUnknown, never a plain
// failure or a success.
func (c *Client) answer(cl call, status int, hdr http.Header, body []byte, readErr error) error {
	if readErr != nil {
		return fmt.Errorf("intercom: %s: %w: the %d answer was cut off after %d bytes (%v); Intercom may have applied the request: check before sending it again",
			cl.endpoint, delivery.ErrOutcomeUnknown, status, len(body), readErr)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !json.Valid(body) {
		return fmt.Errorf("intercom: %s: %w: the %d answer is not JSON (Content-Type %q, %d bytes), so it may not come from Intercom; Intercom may have applied the request: check before sending it again",
			cl.endpoint, delivery.ErrOutcomeUnknown, status, hdr.Get("Content-Type"), len(body))
	}
	if cl.out != nil {
		if err := json.Unmarshal(body, cl.out); err != nil {
			return fmt.Errorf("intercom: %s: decode answer: %w", cl.endpoint, err)
		}
	}
	return nil
}

// send makes one HTTP request and reads the whole answer. Its bool is true
// when it failed before any of the request was sent: an http.Transport
// looked for a connection for it and got none. The status is 0 when no
// answer came; with an answer whose body could not be read whole, the
// error says why, with the part read.
func (c *Client) send(ctx context.Context, cl call, u string, body []byte) (int, http.Header, []byte, bool, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var getConn, gotConn atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) { getConn.Store(true) },
		GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) },
	})
	req, err := http.NewRequestWithContext(ctx, cl.method, u, rd)
	if err != nil {
		return 0, nil, nil, false, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Intercom-Version", c.version)
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.calls.Add(1)
	c.countEndpoint(cl.endpoint)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, getConn.Load() && !gotConn.Load(), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		if ctx.Err() != nil {
			return 0, resp.Header, nil, false, fmt.Errorf("read answer: %w", ctx.Err())
		}
		return resp.StatusCode, resp.Header, b, false, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, resp.Header, b, false, nil
}

func (c *Client) now() time.Time { return time.Now() }

// reportUnreachable warns, at once and then every UnreachableEvery, when
// err says the API could not be reached at all, and says whether it did.
func (c *Client) reportUnreachable(ctx context.Context, err error) bool {
	why := Unreachable(err)
	if why == "" {
		return false
	}
	now := c.now().UnixNano()
	last := c.lastWarned.Load()
	if last != 0 && now-last < int64(UnreachableEvery) || !c.lastWarned.CompareAndSwap(last, now) {
		return true
	}
	if c.onUnreachable != nil {
		c.onUnreachable(err)
	} else {
		c.log.WarnContext(ctx, "intercom: cannot reach the API", "base", c.base.String(), "reason", why, "error", err)
	}
	return true
}

// backoff is the wait before retry attempt+1: exponential from MinBackoff,
// capped at MaxBackoff, with full jitter (uniform between MinBackoff and the
// cap).
func (c *Client) backoff(attempt int) time.Duration {
	ceil := c.maxBackoff
	if attempt < 32 {
		if d := c.minBackoff << attempt; d > 0 && d < ceil {
			ceil = d
		}
	}
	if ceil <= c.minBackoff {
		return c.minBackoff
	}
	return c.minBackoff + rand.N(ceil-c.minBackoff+1)
}

// noPause is the Gate of a wait no pause holds (a nil one): the rate
// limiter's, which a run's stop does not end.
var noPause *pause.Gate

// SwappableToken is a token source whose token can be replaced while the
// client runs: a token read again after Intercom refused it. The client
// asks it at every request (it does not wrap it in a reusing source).
type SwappableToken struct {
	mu  sync.Mutex
	src oauth2.TokenSource
}

// NewSwappableToken returns a SwappableToken giving src's tokens.
func NewSwappableToken(src oauth2.TokenSource) *SwappableToken {
	return &SwappableToken{src: oauth2.ReuseTokenSource(nil, src)}
}

// Set makes src give the tokens from now on.
func (s *SwappableToken) Set(src oauth2.TokenSource) {
	s.mu.Lock()
	s.src = oauth2.ReuseTokenSource(nil, src)
	s.mu.Unlock()
}

// Token returns the current source's token.
func (s *SwappableToken) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	src := s.src
	s.mu.Unlock()
	return src.Token()
}

// RegionOf is the region name (us, eu or au) of a workspace region as GET
// /me gives it ("US", "Europe", "Australia"; or a name RegionURL takes);
// ok is false for one it does not know.
func RegionOf(workspaceRegion string) (string, bool) {
	n := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(workspaceRegion)), " ", "_")
	for _, r := range regions {
		for _, rn := range r.names {
			if n == rn {
				return r.names[0], true
			}
		}
	}
	return "", false
}

// RegionOfURL is the region name (us, eu or au) whose API base URL is
// base; ok is false for any other URL (a simulator, a proxy).
func RegionOfURL(base string) (string, bool) {
	b := strings.TrimRight(strings.ToLower(strings.TrimSpace(base)), "/")
	for _, r := range regions {
		if b == r.url {
			return r.names[0], true
		}
	}
	return "", false
}
