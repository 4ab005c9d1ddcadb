// Package ingest receives events over HTTP as Segment's HTTP Tracking API
// does, so that unmodified Segment libraries (analytics-go, analytics-node,
// analytics.js with a custom host, ...) can send to serve, and as the
// webhook destinations of Segment and RudderStack forward them. Each event
// is checked, completed as Segment completes it (messageId, receivedAt,
// timestamp corrected from sentAt) and written to a Store (the spool); the
// request is answered only once the Store has it durably.
//
// Endpoints: POST /v1/identify, /v1/track, /v1/group, /v1/page,
// /v1/screen, /v1/alias and /v1/batch (also /v1/import), and the short
// forms /v1/i, /v1/t, /v1/g, /v1/p, /v1/s, /v1/a and /v1/b; POST
// /v1/webhook takes a forwarded event (or an array of them).
//
// Answers are JSON: {"success":true} when every event was taken (a
// duplicate messageId counts as taken: it is dispatched once), 400 with
// {"success":false,"error":...} for a request that is not usable (bad JSON,
// over Segment's limits, no event taken), 401 for an unknown write key or a
// bad webhook signature, 503 with Retry-After when the spool is full or
// cannot be written. A batch with some bad items takes the others and lists
// the rejected ones: {"success":true,"rejected":[{"index":3,"error":...}]}.
package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// Segment's limits.
const (
	MaxEvent = 32 << 10  // bytes of one event
	MaxBatch = 500 << 10 // bytes of one batch request
)

// Store keeps events durably; *spool.Spool is one.
type Store interface {
	Append(ctx context.Context, items []delivery.Item) (delivery.Stored, error)
}

// Observer hears what the handler does, for metrics; every method must be
// safe for concurrent use.
type Observer interface {
	// Received counts events taken from a request to endpoint ("track",
	// "batch", "webhook", ...), duplicates included.
	Received(endpoint string, events int)
	// Rejected counts events (or whole requests, as 1) refused for reason,
	// one of the Reason constants.
	Rejected(reason string, events int)
	// Duplicates counts events whose messageId was seen within the window.
	Duplicates(events int)
	// Acked observes how long a request took to be answered 200.
	Acked(d time.Duration)
}

// Reasons a request or an event is rejected, as counted by Observer.
const (
	ReasonMethod       = "method"        // not POST
	ReasonNotFound     = "not_found"     // no such endpoint
	ReasonWriteKey     = "write_key"     // missing or unknown write key
	ReasonSignature    = "signature"     // webhook signature missing or wrong
	ReasonBody         = "body"          // unreadable body or bad gzip
	ReasonTooLarge     = "too_large"     // over Segment's limits
	ReasonJSON         = "json"          // not JSON, or not the expected shape
	ReasonInvalidEvent = "invalid_event" // an event Segment would refuse
	ReasonFull         = "spool_full"    // the spool is at its bound
	ReasonWrite        = "write_failed"  // the spool could not be written
	ReasonClientGone   = "client_gone"   // the client went away before its answer: nothing to answer
)

// Config configures a Handler.
type Config struct {
	Store Store
	// WriteKeys are the accepted write keys (HTTP Basic user, or the body's
	// writeKey); empty accepts any key, or none.
	WriteKeys []string
	// WebhookSecret, if set, is the shared secret of /v1/webhook: a request
	// must carry X-Signature, the hex HMAC-SHA1 of its body (as Segment's
	// webhook destinations sign), and no write key is asked. If empty,
	// /v1/webhook takes write keys like the other endpoints.
	WebhookSecret string
	// Observer, if set, hears about every request (metrics).
	Observer Observer
	// Log receives a line per rejected request (no event contents, never a
	// key); nil discards.
	Log *slog.Logger
	// RetryAfter is the Retry-After of a 503 (default 5s).
	RetryAfter time.Duration
	// Clock returns the current time (default time.Now).
	Clock func() time.Time
}

// Handler serves the ingestion endpoints. Create it with New.
type Handler struct {
	cfg  Config
	keys map[string]bool
}

// New returns a Handler for cfg.
func New(cfg Config) *Handler {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	h := &Handler{cfg: cfg, keys: map[string]bool{}}
	for _, k := range cfg.WriteKeys {
		if k != "" {
			h.keys[k] = true
		}
	}
	return h
}

// endpoints maps the path after /v1/ to the event type it takes ("" for
// a batch, "*" for the webhook).
var endpoints = map[string]string{
	"identify": "identify", "i": "identify",
	"track": "track", "t": "track",
	"group": "group", "g": "group",
	"page": "page", "p": "page",
	"screen": "screen", "s": "screen",
	"alias": "alias", "a": "alias",
	"batch": "", "b": "", "import": "",
	"webhook": "*",
}

// eventTypes are the types an event in a batch may have.
var eventTypes = map[string]bool{"identify": true, "track": true, "group": true, "page": true, "screen": true, "alias": true}

// rejection is a refused request: its status, reason and message.
type rejection struct {
	status int
	reason string
	msg    string
}

func (r *rejection) Error() string { return r.msg }

func reject(status int, reason, format string, args ...any) *rejection {
	return &rejection{status, reason, fmt.Sprintf(format, args...)}
}

// ServeHTTP handles one request to /v1/....
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.cfg.Clock()
	name := strings.TrimPrefix(r.URL.Path, "/v1/")
	typ, ok := endpoints[name]
	if !ok {
		h.fail(w, r, reject(http.StatusNotFound, ReasonNotFound, "no such endpoint %s (see https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/)", r.URL.Path), 1)
		return
	}
	if name == "b" || name == "import" {
		name = "batch"
	} else if len(name) == 1 {
		name = typ
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, r, reject(http.StatusMethodNotAllowed, ReasonMethod, "%s takes POST, not %s", r.URL.Path, r.Method), 1)
		return
	}
	limit := MaxEvent
	if typ == "" || typ == "*" {
		limit = MaxBatch
	}
	body, rej := readBody(w, r, limit)
	if rej != nil {
		if rej.reason == ReasonClientGone {
			h.gone(r, 1)
			return
		}
		h.fail(w, r, rej, 1)
		return
	}
	if rej := h.authenticate(r, body, typ == "*"); rej != nil {
		h.fail(w, r, rej, 1)
		return
	}
	received := h.cfg.Clock().UTC()
	var items []delivery.Item
	var rejected []itemError
	switch typ {
	case "":
		items, rejected, rej = h.batch(body, received)
	case "*":
		items, rejected, rej = h.webhook(body, received)
	default:
		items, rej = h.single(body, typ, received)
	}
	if rej != nil {
		h.fail(w, r, rej, 1)
		return
	}
	if len(rejected) > 0 {
		h.cfg.Observer.Rejected(ReasonInvalidEvent, len(rejected))
		h.cfg.Log.Info("ingest: events rejected", "endpoint", r.URL.Path, "rejected", len(rejected), "taken", len(items), "first", rejected[0].Error)
	}
	if len(items) == 0 {
		writeJSON(w, http.StatusBadRequest, answer{Error: "no event was taken: every event of the request was rejected", Rejected: rejected})
		return
	}
	res, err := h.cfg.Store.Append(r.Context(), items)
	var refusal *delivery.Refusal
	switch {
	case errors.As(err, &refusal):
		h.fail(w, r, reject(http.StatusServiceUnavailable, refusal.Reason, "%s", refusal.Msg), len(items))
		return
	case errors.Is(err, delivery.ErrFull):
		h.fail(w, r, reject(http.StatusServiceUnavailable, ReasonFull, "the spool is full: events are being sent to Intercom more slowly than they arrive; retry later"), len(items))
		return
	case err != nil && r.Context().Err() != nil && errors.Is(err, r.Context().Err()):
		h.gone(r, len(items)) // not a failure of the spool: no one waits for the answer
		return
	case err != nil:
		h.cfg.Log.Error("ingest: spool write failed", "error", err)
		h.fail(w, r, reject(http.StatusServiceUnavailable, ReasonWrite, "the events could not be stored; retry later"), len(items))
		return
	}
	h.cfg.Observer.Received(name, len(items))
	if res.Duplicates > 0 {
		h.cfg.Observer.Duplicates(res.Duplicates)
	}
	h.cfg.Observer.Acked(h.cfg.Clock().Sub(start))
	writeJSON(w, http.StatusOK, answer{Success: true, Rejected: rejected})
}

// answer is the JSON body of every answer.
type answer struct {
	Success  bool        `json:"success"`
	Error    string      `json:"error,omitempty"`
	Rejected []itemError `json:"rejected,omitempty"`
}

// itemError is one rejected event of a batch.
type itemError struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// gone counts a request whose client went away (it closed the connection
// or gave up) while its body was read or its events stored: nothing is
// answered, and it is no failure of serve, so it is logged at debug
// only. The client did not get an answer: it sends again, and the
// messageId keeps an event stored meanwhile from going twice.
func (h *Handler) gone(r *http.Request, events int) {
	h.cfg.Observer.Rejected(ReasonClientGone, events)
	h.cfg.Log.Debug("ingest: the client went away before its answer", "endpoint", r.URL.Path, "events", events, "error", context.Cause(r.Context()))
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, rej *rejection, events int) {
	h.cfg.Observer.Rejected(rej.reason, events)
	h.cfg.Log.Info("ingest: request rejected", "endpoint", r.URL.Path, "status", rej.status, "reason", rej.reason, "error", rej.msg)
	switch rej.status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(int((h.cfg.RetryAfter+time.Second-1)/time.Second)))
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="write key"`)
	}
	writeJSON(w, rej.status, answer{Error: rej.msg})
}

func writeJSON(w http.ResponseWriter, status int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(a)
	w.Write(append(b, '\n'))
}

// readBody reads the body, gunzipping it if need be, refusing more than
// limit bytes (compressed or not: a gzip bomb stops at the limit).
func readBody(w http.ResponseWriter, r *http.Request, limit int) ([]byte, *rejection) {
	raw := &readErr{r: r.Body}
	in := io.Reader(http.MaxBytesReader(w, io.NopCloser(raw), int64(limit)+1))
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, reject(http.StatusBadRequest, ReasonBody, "body is not valid gzip: %v", err)
		}
		defer zr.Close()
		in = zr
	default:
		return nil, reject(http.StatusBadRequest, ReasonBody, "Content-Encoding %q is not supported (gzip is)", enc)
	}
	body, err := io.ReadAll(io.LimitReader(in, int64(limit)+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || len(body) > limit:
		what := "an event"
		if limit == MaxBatch {
			what = "a batch"
		}
		return nil, reject(http.StatusBadRequest, ReasonTooLarge, "body is larger than Segment's %d KB limit for %s", limit>>10, what)
	case raw.err != nil || r.Context().Err() != nil:
		// The connection ended before the body did (a body shorter than
		// its Content-Length, a reset): the client is gone.
		return nil, reject(http.StatusBadRequest, ReasonClientGone, "the client went away: %v", err)
	case err != nil:
		return nil, reject(http.StatusBadRequest, ReasonBody, "could not read the body: %v", err)
	}
	return body, nil
}

// readErr keeps the error, other than io.EOF, of the body as the
// connection gives it (before any gunzipping).
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// authenticate checks the write key, or for the webhook with a secret,
// the signature.
func (h *Handler) authenticate(r *http.Request, body []byte, webhook bool) *rejection {
	if webhook && h.cfg.WebhookSecret != "" {
		sig := strings.TrimSpace(r.Header.Get("X-Signature"))
		if sig == "" {
			return reject(http.StatusUnauthorized, ReasonSignature, "no X-Signature header: this webhook needs the shared secret's signature")
		}
		mac := hmac.New(sha1.New, []byte(h.cfg.WebhookSecret))
		mac.Write(body)
		want := hex.EncodeToString(mac.Sum(nil))
		if subtle.ConstantTimeCompare([]byte(strings.ToLower(sig)), []byte(want)) != 1 {
			return reject(http.StatusUnauthorized, ReasonSignature, "X-Signature does not match the body signed with the shared secret")
		}
		return nil
	}
	if len(h.keys) == 0 {
		return nil
	}
	key, _, ok := r.BasicAuth()
	if !ok || key == "" {
		key = gjson.GetBytes(body, "writeKey").String()
	}
	if key == "" {
		return reject(http.StatusUnauthorized, ReasonWriteKey, "no write key: send it as the HTTP Basic user name, or as writeKey in the body")
	}
	if !h.keys[key] {
		return reject(http.StatusUnauthorized, ReasonWriteKey, "unknown write key")
	}
	return nil
}

// single takes the event of /v1/track and the like.
func (h *Handler) single(body []byte, typ string, received time.Time) ([]delivery.Item, *rejection) {
	if !isObject(body) {
		return nil, reject(http.StatusBadRequest, ReasonJSON, "body is not a JSON object: %s", jsonProblem(body))
	}
	it, err := normalize(body, typ, batchContext{}, received)
	if err != nil {
		return nil, reject(http.StatusBadRequest, ReasonInvalidEvent, "%v", err)
	}
	return []delivery.Item{it}, nil
}

// batch takes the events of /v1/batch: {"batch":[...], "sentAt", "context", ...}.
func (h *Handler) batch(body []byte, received time.Time) ([]delivery.Item, []itemError, *rejection) {
	if !isObject(body) {
		return nil, nil, reject(http.StatusBadRequest, ReasonJSON, "body is not a JSON object: %s", jsonProblem(body))
	}
	top := gjson.GetManyBytes(body, "batch", "sentAt", "context", "integrations")
	if !top[0].IsArray() {
		return nil, nil, reject(http.StatusBadRequest, ReasonJSON, `body has no "batch" array of events`)
	}
	bc := batchContext{sentAt: top[1], context: top[2], integrations: top[3]}
	return h.events(top[0], "", bc, received)
}

// webhook takes a forwarded event, or an array of them.
func (h *Handler) webhook(body []byte, received time.Time) ([]delivery.Item, []itemError, *rejection) {
	trimmed := bytes.TrimSpace(body)
	switch {
	case isObject(trimmed):
		it, err := normalize(trimmed, "", batchContext{}, received)
		if err != nil {
			return nil, nil, reject(http.StatusBadRequest, ReasonInvalidEvent, "%v", err)
		}
		return []delivery.Item{it}, nil, nil
	case len(trimmed) > 0 && trimmed[0] == '[' && gjson.ValidBytes(trimmed):
		return h.events(gjson.ParseBytes(trimmed), "", batchContext{}, received)
	}
	return nil, nil, reject(http.StatusBadRequest, ReasonJSON, "body is not a JSON event (an object) or an array of them: %s", jsonProblem(body))
}

// events takes the items of an array, rejecting the bad ones.
func (h *Handler) events(arr gjson.Result, typ string, bc batchContext, received time.Time) ([]delivery.Item, []itemError, *rejection) {
	var items []delivery.Item
	var rejected []itemError
	i := 0
	arr.ForEach(func(_, v gjson.Result) bool {
		raw := []byte(v.Raw)
		var err error
		if !v.IsObject() {
			err = fmt.Errorf("event is not a JSON object")
		} else {
			var it delivery.Item
			if it, err = normalize(raw, typ, bc, received); err == nil {
				items = append(items, it)
			}
		}
		if err != nil {
			rejected = append(rejected, itemError{Index: i, Error: err.Error()})
		}
		i++
		return true
	})
	if i == 0 {
		return nil, nil, reject(http.StatusBadRequest, ReasonJSON, "the batch holds no event")
	}
	return items, rejected, nil
}

// isObject says whether b is one valid JSON object.
func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && gjson.ValidBytes(b)
}

// jsonProblem says what is wrong with b, as encoding/json would.
func jsonProblem(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Sprintf("%v (at byte %d)", err, se.Offset)
		}
		return err.Error()
	}
	return "it is a JSON " + jsonKind(v)
}

// newMessageID makes a messageId for an event that has none, as
// Segment's API does ("api-" and a random UUID).
func newMessageID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return "api-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

type nopObserver struct{}

func (nopObserver) Received(string, int) {}
func (nopObserver) Rejected(string, int) {}
func (nopObserver) Duplicates(int)       {}
func (nopObserver) Acked(time.Duration)  {}

// jsonKind names the kind of a decoded JSON value in JSON words.
func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "value"
}
