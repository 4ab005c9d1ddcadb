package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/simhook"
)

// DefaultWindow is the rate-limit window used when Options.Window is zero.
const DefaultWindow = 10 * time.Second

// UnlimitedRateLimit is the limit reported in X-RateLimit-Limit when
// Options.RateLimit is zero. It is reported (and Remaining counts down from
// it) but never enforced.
const UnlimitedRateLimit = 1_000_000

// WorkspaceID is the workspace (app) id code the simulator reports.
const WorkspaceID = "sim"

// maxBody bounds the request body the simulator reads.
const maxBody = 10 << 20

// Options configures a Server.
type Options struct {
	// Token, if non-empty, must be sent as "Authorization: Bearer <Token>";
	// otherwise the answer is 401 with error code "unauthorized".
	Token string
	// RateLimit is the maximum number of requests per Window (0 = unlimited).
	RateLimit int
	// Window is the length of the fixed rate-limit windows (default 10s).
	Window time.Duration
	// SearchLag is how long after a create, update or delete POST
	// /contacts/search keeps seeing the contact as it was before (a new
	// contact is invisible, an updated one shows its old values, a deleted one
	// still shows). 0 means search sees every write at once.
	SearchLag time.Duration
	// Faults are the faults injected from the start (see SetFaults).
	Faults Faults
	// Seed seeds the fault RNG so runs are repeatable.
	Seed int64
	// Clock returns the current time (default time.Now). It drives
	// timestamps, rate-limit windows and SearchLag, not SlowDelay.
	Clock func() time.Time
	// ConflictsNameNoID makes 409 answers say only "A contact matching
	// those details already exists", without the existing contact's id, so
	// a client must find it by search (which lags by SearchLag).
	ConflictsNameNoID bool
	// DataAttributes, when not nil, are the custom attribute names the
	// workspace has defined; a contact or company carrying any other is
	// refused whole with Intercom's answer, 400 parameter_invalid "Custom
	// attribute 'x' does not exist", and nothing of it is saved.
	// Attributes created with POST /data_attributes are accepted too, on
	// their model only. Nil accepts every name. GET /data_attributes lists
	// the names given here as custom string attributes of both models.
	DataAttributes []string
	// MaxEventNames is the most distinct event names the workspace takes
	// (default Intercom's 120): an event of a new name past it answers
	// 422, as Intercom does.
	MaxEventNames int
	// Region is the workspace's region GET /me answers, as Intercom
	// spells it ("US", "Europe", "Australia"); default "US".
	Region string
	// MaxRequests bounds the request log (Requests, GET /_sim/requests):
	// only the most recent MaxRequests are kept, so a long run does not
	// grow without limit. 0 keeps every request (what tests want).
	MaxRequests int
	// Observe, when not nil, is called with every API request (not those
	// to /_sim/) and the answer it got, once the answer is sent or the
	// connection dropped, on the request's goroutine and outside the
	// simulator's locks: to record whole exchanges or check them, e.g.
	// against Intercom's OpenAPI description.
	Observe func(Exchange)
}

// Exchange is one API request and the answer the simulator gave it.
type Exchange struct {
	// Request is the request as recorded (see Request).
	Request Request
	// Status is the answer's status, 0 when the connection was dropped.
	Status int
	// Header is the answer's header.
	Header http.Header
	// Body is the answer's body as sent, nil when empty.
	Body []byte
	// Damaged says the answer was damaged on purpose (see Mangle): cut off,
	// or not JSON.
	Damaged bool
}

// Faults are injected failures. A faulted request never changes state.
type Faults struct {
	// ErrorRate is the fraction of requests answered 500 server_error or 503
	// service_unavailable (alternating, starting with 500).
	ErrorRate float64
	// DropRate is the fraction of requests whose connection is closed
	// without any response, after the body was read and before anything
	// was done with it. (Go's http.Transport may itself resend an
	// idempotent request dropped on a reused connection; that resend is a
	// new request here.)
	DropRate float64
	// LostAnswerRate is the fraction of requests whose answer is lost
	// after the simulated API handled them: whatever the request changed
	// stays changed, but the connection is closed without a response (a
	// dropped connection, or a proxy's 5xx, after Intercom did the work).
	// Unlike the other faults it changes state; it applies only to
	// requests that passed authentication, rate limiting and ErrorRate.
	LostAnswerRate float64
	// SlowRate is the fraction of requests delayed by SlowDelay (real time)
	// before being handled.
	SlowRate float64
	// SlowDelay is the delay applied to slow requests.
	SlowDelay time.Duration
	// Burst429 makes the next Burst429 authenticated requests answer 429
	// regardless of the rate limiter.
	Burst429 int
}

// Request is one request the simulator received.
type Request struct {
	// Method is the HTTP method.
	Method string `json:"method"`
	// Path is the URL path, e.g. "/contacts/search".
	Path string `json:"path"`
	// Query is the raw URL query, without "?".
	Query string `json:"query,omitempty"`
	// Body is the compacted JSON body, nil when empty; a body that is not
	// valid JSON is kept as a JSON string holding the raw text.
	Body json.RawMessage `json:"body,omitempty"`
	// Status is the status sent, 0 when the connection was dropped or the
	// request was abandoned before an answer.
	Status int `json:"status"`
	// Header holds the request headers, with the credentials of
	// Authorization redacted: "Bearer <token>" is kept as "Bearer
	// [redacted]", so a request log can be shown or saved without leaking
	// the token. (The token is still checked against Options.Token.)
	Header http.Header `json:"header,omitempty"`
}

// Server is an in-memory Intercom API simulator. It implements http.Handler.
type Server struct {
	opts   Options
	clock  func() time.Time
	window time.Duration

	srv  *http.Server
	url  string
	done chan struct{}

	// ctl guards the fields below it.
	ctl       sync.Mutex
	idle      *sync.Cond // signalled when inflight drops to zero
	closed    bool
	inflight  int
	faults    Faults
	rng       *rand.Rand
	errCount  uint64
	reqSeq    uint64
	winStart  int64 // start of the current rate window, Unix ns
	winCount  int
	requests  []*Request
	closeOnce sync.Once
	outage    Outage // answered to every API request while on
	tokenNow  string // the token accepted: Options.Token, or SetToken's
	mangle    Mangle // the next answers' damage

	// predefined is Options.DataAttributes without repeats.
	predefined []string

	// mu guards the simulated workspace.
	mu sync.Mutex
	st store

	scanAll bool // search checks every contact, not the index (tests)
}

// NewHandler returns a Server that is not started; use it as an http.Handler.
func NewHandler(opts Options) *Server {
	s := &Server{
		opts:   opts,
		clock:  opts.Clock,
		window: opts.Window,
		done:   make(chan struct{}),
		faults: opts.Faults,
		rng:    rand.New(rand.NewPCG(uint64(opts.Seed), 0x1c0de)),
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.window <= 0 {
		s.window = DefaultWindow
	}
	s.idle = sync.NewCond(&s.ctl)
	s.tokenNow = opts.Token
	for _, name := range opts.DataAttributes {
		if !slices.Contains(s.predefined, name) {
			s.predefined = append(s.predefined, name)
		}
	}
	s.st.reset()
	return s
}

// NewServer starts a Server on a loopback port, like httptest.NewServer.
// It panics if it cannot listen.
func NewServer(opts Options) *Server {
	s := NewHandler(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if ln, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic(fmt.Sprintf("simulator: failed to listen on a port: %v", err))
		}
	}
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s
}

// URL returns the base URL of a started Server ("" if not started).
func (s *Server) URL() string { return s.url }

// Close stops the Server: it closes the listener and every connection,
// cancels slow requests, and waits for requests being handled to finish.
// Requests arriving at a closed handler are dropped. Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.ctl.Lock()
		s.closed = true
		s.ctl.Unlock()
		close(s.done)
		if s.srv != nil {
			_ = s.srv.Close()
		}
		s.ctl.Lock()
		for s.inflight > 0 {
			s.idle.Wait()
		}
		s.ctl.Unlock()
	})
}

// SetFaults replaces the injected faults; Burst429 restarts from f.Burst429.
func (s *Server) SetFaults(f Faults) {
	s.ctl.Lock()
	s.faults = f
	s.ctl.Unlock()
}

// record adds a request to the log, dropping the oldest beyond
// Options.MaxRequests; the caller holds ctl.
func (s *Server) record(rec *Request) {
	s.requests = append(s.requests, rec)
	if max := s.opts.MaxRequests; max > 0 && len(s.requests) >= 2*max {
		// Keep the newest max, in a new array, so the old one can go.
		s.requests = append([]*Request(nil), s.requests[len(s.requests)-max:]...)
	}
}

// Requests returns a copy of every API request received (the most recent
// Options.MaxRequests, if set), in arrival order, including faulted ones.
// Requests to /_sim/ are not recorded.
func (s *Server) Requests() []Request {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	log := s.requests
	if max := s.opts.MaxRequests; max > 0 && len(log) > max {
		log = log[len(log)-max:]
	}
	out := make([]Request, len(log))
	for i, r := range log {
		out[i] = *r
		out[i].Body = bytes.Clone(r.Body)
		out[i].Header = r.Header.Clone()
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.ctl.Lock()
	s.requests = nil
	s.ctl.Unlock()
}

// Reset clears the workspace (contacts, companies, events, tags, notes, the
// data attributes created with POST /data_attributes, id counters), the
// recorded requests and the current rate window. Faults and the names of
// Options.DataAttributes are kept; ids restart, so a run after Reset gets
// the same ids as a fresh Server.
func (s *Server) Reset() {
	s.mu.Lock()
	s.st.reset()
	s.mu.Unlock()
	s.ctl.Lock()
	s.requests = nil
	s.winStart, s.winCount = 0, 0
	s.ctl.Unlock()
}

// DuplicateEvents counts the data events ignored as duplicates of stored
// ones (Intercom's de-duplication), since the last Reset: how many events
// a sender sent twice.
func (s *Server) DuplicateEvents() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.duplicates
}

// State returns a deep copy of the simulated workspace.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.snapshot()
}

// statusWriter remembers the status written through it and, when keep is
// set, the body.
type statusWriter struct {
	http.ResponseWriter
	status  int
	keep    bool
	body    []byte
	damaged bool // Mangle damaged the answer
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.keep {
		w.body = append(w.body, b...)
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP handles one request. Order: record it, then drop (DropRate), delay
// (SlowRate), authenticate (401, no rate-limit headers), Burst429, rate limit
// (429), ErrorRate (5xx), the simulated API, and LostAnswerRate. Paths under /_sim/
// skip all of that and are not recorded. To drop a connection it hijacks it;
// when the ResponseWriter is not an http.Hijacker it panics with
// http.ErrAbortHandler, which net/http turns into an aborted response.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.ctl.Lock()
	if s.closed {
		s.ctl.Unlock()
		dropConnection(w)
		return
	}
	s.inflight++
	s.ctl.Unlock()
	defer func() {
		s.ctl.Lock()
		s.inflight--
		if s.inflight == 0 {
			s.idle.Broadcast()
		}
		s.ctl.Unlock()
	}()

	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1)); err != nil {
			dropConnection(w)
			return
		}
	}
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveSim(w, r, body)
		return
	}

	rec := &Request{
		Method: r.Method,
		Path:   r.URL.EscapedPath(), // as sent: an id with a "/" stays one segment
		Query:  r.URL.RawQuery,
		Body:   compactBody(body),
		Header: redactedHeader(r.Header),
	}
	observers := s.observers()
	sw := &statusWriter{ResponseWriter: w, keep: len(observers) > 0}
	s.ctl.Lock()
	s.record(rec)
	reqID := s.nextRequestID()
	f, drop, slow, fail, lose := s.drawFaults()
	s.ctl.Unlock()
	defer func() {
		s.ctl.Lock()
		rec.Status = sw.status
		s.ctl.Unlock()
		if len(observers) > 0 {
			if f, ok := sw.ResponseWriter.(http.Flusher); ok && sw.status != 0 {
				f.Flush() // the client has its answer while the observers look at it
			}
			s.notify(observers, rec, sw)
		}
	}()

	if drop {
		dropConnection(w)
		return
	}
	if slow && !s.delay(r, f.SlowDelay) {
		dropConnection(w)
		return
	}
	s.serveAPI(sw, r, body, reqID, fail, lose)
}

// observers are the functions that watch this server's exchanges:
// Options.Observe and the test binary's (engine/internal/simhook).
func (s *Server) observers() []func(Exchange) {
	var fs []func(Exchange)
	if s.opts.Observe != nil {
		fs = append(fs, s.opts.Observe)
	}
	if f, ok := simhook.Observer().(func(Exchange)); ok {
		fs = append(fs, f)
	}
	return fs
}

// notify hands an exchange to the observers; a dropped connection has
// status 0 and no answer.
func (s *Server) notify(observers []func(Exchange), rec *Request, sw *statusWriter) {
	s.ctl.Lock()
	req := *rec
	s.ctl.Unlock()
	req.Body = bytes.Clone(req.Body)
	req.Header = req.Header.Clone()
	ex := Exchange{Request: req, Status: sw.status, Damaged: sw.damaged}
	if sw.status != 0 {
		ex.Header = sw.Header().Clone()
		ex.Body = sw.body
	}
	for _, f := range observers {
		f(ex)
	}
}

// serveAPI runs authentication, rate limiting, error faults and routing;
// lose drops the answer after the request was handled.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, body []byte, reqID string, fail, lose bool) {
	w.Header().Set("X-Request-Id", reqID)
	if s.outageAnswer(w, reqID) {
		return
	}
	if token := s.token(); token != "" && r.Header.Get("Authorization") != "Bearer "+token {
		writeError(w, reqID, errUnauthorized)
		return
	}

	now := s.clock()
	s.ctl.Lock()
	burst := s.faults.Burst429 > 0
	if burst {
		s.faults.Burst429--
	}
	rl := s.rateLimit(now, !burst)
	errStatus := 0
	if fail && !burst && rl.allowed {
		s.errCount++
		errStatus = http.StatusInternalServerError
		if s.errCount%2 == 0 {
			errStatus = http.StatusServiceUnavailable
		}
	}
	s.ctl.Unlock()

	rl.setHeaders(w.Header())
	switch {
	case burst || !rl.allowed:
		writeError(w, reqID, &apiError{http.StatusTooManyRequests, "rate_limit_exceeded",
			fmt.Sprintf("Exceeded rate limit of %d in %d_seconds", rl.limit, windowSeconds(s.window))})
		return
	case errStatus == http.StatusInternalServerError:
		writeError(w, reqID, &apiError{errStatus, "server_error", "Server Error"})
		return
	case errStatus == http.StatusServiceUnavailable:
		writeError(w, reqID, &apiError{errStatus, "service_unavailable", "Service Unavailable"})
		return
	}

	if len(body) > maxBody {
		writeError(w, reqID, errBadRequest("Request body is too large"))
		return
	}

	ver, e := requestVersion(r)
	if e != nil {
		writeError(w, reqID, e)
		return
	}
	h, allow := route(r.Method, r.URL.Path)
	if h == nil {
		if allow != "" {
			w.Header().Set("Allow", allow)
			writeError(w, reqID, &apiError{http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed"})
			return
		}
		writeError(w, reqID, &apiError{http.StatusNotFound, "not_found", "Resource Not Found"})
		return
	}
	c := &call{r: r, body: body, segs: splitPath(r.URL.Path), ver: ver}
	s.mu.Lock()
	status, out, e := h(s, c)
	s.mu.Unlock()
	if lose {
		dropConnection(w) // handled, but the answer never arrives
		return
	}
	if e != nil && e.status == http.StatusConflict && s.opts.ConflictsNameNoID {
		e = &apiError{http.StatusConflict, "conflict", "A contact matching those details already exists"}
	}
	for k, v := range c.header {
		w.Header()[k] = v
	}
	if e != nil {
		writeError(w, reqID, e)
		return
	}
	if s.mangled(w, r, status, out) {
		return
	}
	writeJSON(w, status, out)
}

// nextRequestID returns a new request id; the caller holds s.ctl.
func (s *Server) nextRequestID() string {
	s.reqSeq++
	return fmt.Sprintf("sim-%012d", s.reqSeq)
}

// serveSim serves the /_sim/ control endpoints.
func (s *Server) serveSim(w http.ResponseWriter, r *http.Request, body []byte) {
	s.ctl.Lock()
	reqID := s.nextRequestID()
	s.ctl.Unlock()
	w.Header().Set("X-Request-Id", reqID)
	var allow string
	switch r.URL.Path {
	case "/_sim/state":
		if r.Method == http.MethodGet {
			writeJSON(w, http.StatusOK, s.State())
			return
		}
		allow = "GET"
	case "/_sim/requests":
		if r.Method == http.MethodGet {
			writeJSON(w, http.StatusOK, s.Requests())
			return
		}
		allow = "GET"
	case "/_sim/outage":
		if s.serveOutage(w, r, reqID, body) {
			return
		}
		allow = "PUT, DELETE"
	case "/_sim/reset":
		if r.Method == http.MethodPost {
			s.Reset()
			w.WriteHeader(http.StatusNoContent)
			return
		}
		allow = "POST"
	default:
		writeError(w, reqID, &apiError{http.StatusNotFound, "not_found", "Resource Not Found"})
		return
	}
	w.Header().Set("Allow", allow)
	writeError(w, reqID, &apiError{http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed"})
}

// redactedHeader copies h with the credentials of Authorization replaced
// by "[redacted]" (the scheme, e.g. "Bearer", is kept).
func redactedHeader(h http.Header) http.Header {
	out := h.Clone()
	if vs := out.Values("Authorization"); len(vs) > 0 {
		red := make([]string, len(vs))
		for i, v := range vs {
			if scheme, _, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
				red[i] = scheme + " [redacted]"
			} else {
				red[i] = "[redacted]"
			}
		}
		out["Authorization"] = red
	}
	return out
}

// compactBody returns body as compact JSON, nil when empty, or a JSON string
// of the raw text when it is not JSON.
func compactBody(body []byte) json.RawMessage {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err == nil {
		return buf.Bytes()
	}
	raw, _ := json.Marshal(string(body))
	return raw
}

// apiError is an Intercom error answer.
type apiError struct {
	status  int
	code    string
	message string
}

func errInvalid(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "parameter_invalid", fmt.Sprintf(format, args...)}
}

func errMissing(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "parameter_not_found", fmt.Sprintf(format, args...)}
}

func errBadRequest(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "bad_request", msg}
}

// checkAttributes refuses custom attribute names the workspace lacks for
// model ("contact" or "company") when Options.DataAttributes is in use.
// The caller holds s.mu.
func (s *Server) checkAttributes(model string, attrs map[string]any) *apiError {
	if s.opts.DataAttributes == nil {
		return nil
	}
	for _, k := range sortedKeys(attrs) {
		if !slices.Contains(s.opts.DataAttributes, k) && s.st.customAttribute(model, k) == nil {
			return errInvalid("Custom attribute '%s' does not exist", k)
		}
	}
	return nil
}

func errConflict(id string) *apiError {
	return &apiError{http.StatusConflict, "conflict", "A contact matching those details already exists with id=" + id}
}

var (
	errUserNotFound    = &apiError{http.StatusNotFound, "not_found", "User Not Found"}
	errCompanyNotFound = &apiError{http.StatusNotFound, "not_found", "Company Not Found"}
	// errResourceNotFound is Intercom's answer for an unknown tag or admin.
	errResourceNotFound = &apiError{http.StatusNotFound, "not_found", "Resource Not Found"}
	// errUnauthorized is the answer to a wrong token, and to every request
	// during an outage of status 401.
	errUnauthorized = &apiError{http.StatusUnauthorized, "unauthorized", "Access Token Invalid"}
)

type errorItem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type errorList struct {
	Type      string      `json:"type"`
	RequestID string      `json:"request_id"`
	Errors    []errorItem `json:"errors"`
}

func writeError(w http.ResponseWriter, reqID string, e *apiError) {
	writeJSON(w, e.status, errorList{
		Type:      "error.list",
		RequestID: reqID,
		Errors:    []errorItem{{Code: e.code, Message: e.message}},
	})
}

// writeJSON writes v as JSON; a nil v writes no body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	if v == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"type":"error.list","request_id":"sim","errors":[{"code":"server_error","message":"encoding failed"}]}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
