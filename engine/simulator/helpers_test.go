package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is a fixed start time, 3 s into a 10 s window.
var t0 = time.Unix(1_700_000_003, 0)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testClient talks to a started Server.
type testClient struct {
	t       *testing.T
	base    string
	token   string
	hc      *http.Client
	version string // the Intercom-Version header, none when ""
	waiver  string // the contract waiver the requests name (see offDescription)
}

// withVersion returns a client that sends Intercom-Version v.
func (c *testClient) withVersion(v string) *testClient {
	cc := *c
	cc.version = v
	return &cc
}

// offDescription returns a client whose requests say that they are off
// Intercom's OpenAPI description on purpose: they name waiver, a tagged
// waiver of testdata/intercom-openapi/waivers.yaml, in the contract
// check's X-Contract-Waiver header.
func (c *testClient) offDescription(waiver string) *testClient {
	cc := *c
	cc.waiver = waiver
	return &cc
}

type response struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// start starts a Server with a fake clock unless opts has a Clock.
func start(t *testing.T, opts Options) (*Server, *testClient, *fakeClock) {
	t.Helper()
	clk := newClock()
	if opts.Clock == nil {
		opts.Clock = clk.Now
	}
	s := NewServer(opts)
	tr := &http.Transport{}
	t.Cleanup(func() {
		s.Close()
		tr.CloseIdleConnections()
	})
	return s, &testClient{t: t, base: s.URL(), token: opts.Token, hc: &http.Client{Transport: tr}}, clk
}

func (c *testClient) try(ctx context.Context, method, path string, body any) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	if c.version != "" {
		req.Header.Set("Intercom-Version", c.version)
	}
	if c.waiver != "" {
		req.Header.Set("X-Contract-Waiver", c.waiver)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{err: err}
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// do sends a request and fails the test on a transport error.
func (c *testClient) do(method, path string, body any) response {
	c.t.Helper()
	r := c.try(context.Background(), method, path, body)
	if r.err != nil {
		c.t.Fatalf("%s %s: %v", method, path, r.err)
	}
	return r
}

// ok sends a request, requires the status and decodes the JSON answer.
func (c *testClient) ok(method, path string, body any, status int) map[string]any {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.status != status {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, status, r.body)
	}
	return decode(c.t, r.body)
}

// fail sends a request and requires an error.list answer.
func (c *testClient) fail(method, path string, body any, status int, code, message string) {
	c.t.Helper()
	checkError(c.t, c.do(method, path, body), status, code, message)
}

func checkError(t *testing.T, r response, status int, code, message string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	var e struct {
		Type      string      `json:"type"`
		RequestID string      `json:"request_id"`
		Errors    []errorItem `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	want := []errorItem{{Code: code, Message: message}}
	if e.Type != "error.list" || !reflect.DeepEqual(e.Errors, want) {
		t.Fatalf("error body %s, want type error.list and errors %+v", r.body, want)
	}
	if e.RequestID == "" || e.RequestID != r.header.Get("X-Request-Id") {
		t.Fatalf("request_id %q, X-Request-Id %q", e.RequestID, r.header.Get("X-Request-Id"))
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
}

func decode(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return m
}

// ids returns the "id" of each item in a list answer's data.
func ids(t *testing.T, list map[string]any) []string {
	t.Helper()
	out := []string{}
	for _, item := range list["data"].([]any) {
		out = append(out, item.(map[string]any)["id"].(string))
	}
	return out
}

func mustEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", "  ")
		wj, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("%s:\n got %s\nwant %s", what, gj, wj)
	}
}

// eq is a search filter.
func eq(field string, value any) map[string]any {
	return map[string]any{"field": field, "operator": "=", "value": value}
}

func search(q any) map[string]any { return map[string]any{"query": q} }
