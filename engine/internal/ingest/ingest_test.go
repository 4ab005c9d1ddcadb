package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// memStore keeps what it is given; err, if set, is its answer instead.
type memStore struct {
	mu    sync.Mutex
	items []delivery.Item
	err   error
	seen  map[string]bool
}

func (m *memStore) Append(_ context.Context, items []delivery.Item) (delivery.Stored, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return delivery.Stored{}, m.err
	}
	var res delivery.Stored
	for _, it := range items {
		if m.seen[it.ID] {
			res.Duplicates++
			continue
		}
		m.seen[it.ID] = true
		m.items = append(m.items, it)
		res.Stored++
	}
	return res, nil
}

// counts is an Observer that counts.
type counts struct {
	mu         sync.Mutex
	received   map[string]int
	rejected   map[string]int
	duplicates int
	acked      int
}

func (c *counts) Received(e string, n int) { c.mu.Lock(); c.received[e] += n; c.mu.Unlock() }
func (c *counts) Rejected(r string, n int) { c.mu.Lock(); c.rejected[r] += n; c.mu.Unlock() }
func (c *counts) Duplicates(n int)         { c.mu.Lock(); c.duplicates += n; c.mu.Unlock() }
func (c *counts) Acked(time.Duration)      { c.mu.Lock(); c.acked++; c.mu.Unlock() }

var received = time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

func newHandler(cfg Config) (*Handler, *memStore, *counts) {
	st := &memStore{seen: map[string]bool{}}
	obs := &counts{received: map[string]int{}, rejected: map[string]int{}}
	if cfg.Store == nil {
		cfg.Store = st
	}
	cfg.Observer = obs
	cfg.Clock = func() time.Time { return received }
	return New(cfg), st, obs
}

type req struct {
	path, body, key string
	gzip            bool
	header          map[string]string
}

func do(h http.Handler, r req) (int, string, http.Header) {
	body := []byte(r.body)
	if r.gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
	}
	hr := httptest.NewRequest(http.MethodPost, r.path, bytes.NewReader(body))
	if r.key != "" {
		hr.SetBasicAuth(r.key, "")
	}
	if r.gzip {
		hr.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hr)
	return w.Code, w.Body.String(), w.Header()
}

// TestSingleEventIsCompletedAsSegmentDoes: the type from the endpoint, a
// messageId when there is none, receivedAt, timestamp corrected from
// sentAt (the client's kept as originalTimestamp).
func TestSingleEventIsCompletedAsSegmentDoes(t *testing.T) {
	h, st, obs := newHandler(Config{})
	code, body, _ := do(h, req{path: "/v1/t", body: `{"userId":"u1","event":"Signed Up","messageId":"m-1","timestamp":"2026-03-04T05:00:00.000Z","sentAt":"2026-03-04T05:00:10.000Z","properties":{"plan":"pro"}}`})
	if code != 200 || body != `{"success":true}`+"\n" {
		t.Fatalf("%d %s", code, body)
	}
	want := `{"userId":"u1","event":"Signed Up","messageId":"m-1","timestamp":"2026-03-04T05:05:57.890Z","sentAt":"2026-03-04T05:00:10.000Z","properties":{"plan":"pro"},"type":"track","receivedAt":"2026-03-04T05:06:07.890Z","originalTimestamp":"2026-03-04T05:00:00.000Z"}`
	if len(st.items) != 1 || string(st.items[0].Data) != want || st.items[0].ID != "m-1" || st.items[0].Ref != "messageId m-1" {
		t.Errorf("stored %+v\nwant %s", st.items, want)
	}
	// No messageId, no timestamp: both made here.
	do(h, req{path: "/v1/identify", body: `{"anonymousId":"a1","traits":{"email":"a@example.com"}}`})
	got := string(st.items[1].Data)
	if !strings.HasPrefix(got, `{"anonymousId":"a1","traits":{"email":"a@example.com"},"type":"identify","messageId":"api-`) ||
		!strings.HasSuffix(got, `","receivedAt":"2026-03-04T05:06:07.890Z","timestamp":"2026-03-04T05:06:07.890Z"}`) || !strings.HasPrefix(st.items[1].ID, "api-") {
		t.Errorf("identify stored as %s", got)
	}
	if obs.received["track"] != 1 || obs.received["identify"] != 1 || obs.acked != 2 {
		t.Errorf("observed %+v", obs)
	}
}

// TestBatchTakesTheGoodEventsAndSaysWhichWereRejected.
func TestBatchTakesTheGoodEventsAndSaysWhichWereRejected(t *testing.T) {
	h, st, obs := newHandler(Config{})
	batch := `{"batch":[
		{"type":"identify","userId":"u1","messageId":"m1","timestamp":"2026-03-04T05:06:00Z"},
		{"type":"track","event":"No One"},
		{"type":"track","userId":"u1","messageId":"m2"},
		{"type":"bogus","userId":"u1"},
		"text",
		{"type":"group","userId":"u1","groupId":"g1","messageId":"m3","context":{"ip":"1.2.3.4"}}
	],"sentAt":"2026-03-04T05:06:05Z","context":{"library":{"name":"analytics-go"}},"writeKey":"k"}`
	code, body, _ := do(h, req{path: "/v1/batch", body: batch})
	want := `{"success":true,"rejected":[{"index":1,"error":"track has no userId or anonymousId: Segment needs one of them"},{"index":2,"error":"track has no \"event\" (the event's name)"},{"index":3,"error":"event \"type\" is \"bogus\", expected one of alias, group, identify, page, screen, track"},{"index":4,"error":"event is not a JSON object"}]}` + "\n"
	if code != 200 || body != want {
		t.Errorf("%d %s\nwant %s", code, body, want)
	}
	wantStored := []string{
		`{"type":"identify","userId":"u1","messageId":"m1","timestamp":"2026-03-04T05:06:02.890Z","receivedAt":"2026-03-04T05:06:07.890Z","sentAt":"2026-03-04T05:06:05Z","originalTimestamp":"2026-03-04T05:06:00Z","context":{"library":{"name":"analytics-go"}}}`,
		`{"type":"group","userId":"u1","groupId":"g1","messageId":"m3","context":{"ip":"1.2.3.4"},"receivedAt":"2026-03-04T05:06:07.890Z","sentAt":"2026-03-04T05:06:05Z","timestamp":"2026-03-04T05:06:07.890Z"}`,
	}
	if len(st.items) != 2 {
		t.Fatalf("stored %d", len(st.items))
	}
	for i, w := range wantStored {
		if string(st.items[i].Data) != w {
			t.Errorf("item %d:\n%s\nwant\n%s", i, st.items[i].Data, w)
		}
	}
	if obs.rejected[ReasonInvalidEvent] != 4 || obs.received["batch"] != 2 {
		t.Errorf("observed %+v", obs)
	}
	// Every event bad: 400.
	code, body, _ = do(h, req{path: "/v1/b", body: `{"batch":[{"type":"track"}]}`})
	if code != 400 || body != `{"success":false,"error":"no event was taken: every event of the request was rejected","rejected":[{"index":0,"error":"track has no userId or anonymousId: Segment needs one of them"}]}`+"\n" {
		t.Errorf("all bad: %d %s", code, body)
	}
}

// TestWriteKeys: with keys configured, the Basic user or the body's
// writeKey must be one; the key is not stored with the event.
func TestWriteKeys(t *testing.T) {
	h, st, obs := newHandler(Config{WriteKeys: []string{"wk-1", "wk-2"}})
	ev := `{"userId":"u1","event":"E"}`
	cases := []struct {
		r    req
		code int
		body string
	}{
		{req{path: "/v1/track", body: ev}, 401, `{"success":false,"error":"no write key: send it as the HTTP Basic user name, or as writeKey in the body"}`},
		{req{path: "/v1/track", body: ev, key: "nope"}, 401, `{"success":false,"error":"unknown write key"}`},
		{req{path: "/v1/track", body: ev, key: "wk-2"}, 200, `{"success":true}`},
		{req{path: "/v1/track", body: `{"userId":"u1","event":"E","writeKey":"wk-1"}`}, 200, `{"success":true}`},
	}
	for _, c := range cases {
		code, body, hdr := do(h, c.r)
		if code != c.code || body != c.body+"\n" {
			t.Errorf("%+v: %d %s", c.r, code, body)
		}
		if code == 401 && hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
	if len(st.items) != 2 || strings.Contains(string(st.items[1].Data), "writeKey") {
		t.Errorf("stored %d; second: %s", len(st.items), st.items[1].Data)
	}
	if obs.rejected[ReasonWriteKey] != 2 {
		t.Errorf("rejections %+v", obs.rejected)
	}
}

// TestBadRequestsAreRefusedWithAReason: every rejection, in full.
func TestBadRequestsAreRefusedWithAReason(t *testing.T) {
	h, st, _ := newHandler(Config{})
	big := `{"userId":"u1","event":"E","properties":{"x":"` + strings.Repeat("a", MaxEvent) + `"}}`
	var batch strings.Builder
	batch.WriteString(`{"batch":[`)
	for i := 0; i < 20; i++ {
		if i > 0 {
			batch.WriteString(",")
		}
		batch.WriteString(`{"type":"track","userId":"u1","event":"E","properties":{"x":"` + strings.Repeat("b", 30<<10) + `"}}`)
	}
	batch.WriteString(`]}`)
	cases := []struct {
		name string
		r    req
		code int
		body string
	}{
		{"malformed JSON", req{path: "/v1/track", body: `{"userId":"u1",}`}, 400, `{"success":false,"error":"body is not a JSON object: invalid character '}' looking for beginning of object key string (at byte 16)"}`},
		{"not an object", req{path: "/v1/identify", body: `["u1"]`}, 400, `{"success":false,"error":"body is not a JSON object: it is a JSON list"}`},
		{"no batch array", req{path: "/v1/batch", body: `{"events":[]}`}, 400, `{"success":false,"error":"body has no \"batch\" array of events"}`},
		{"empty batch", req{path: "/v1/batch", body: `{"batch":[]}`}, 400, `{"success":false,"error":"the batch holds no event"}`},
		{"event over 32 KB", req{path: "/v1/track", body: big}, 400, `{"success":false,"error":"body is larger than Segment's 32 KB limit for an event"}`},
		{"batch over 500 KB", req{path: "/v1/batch", body: batch.String()}, 400, `{"success":false,"error":"body is larger than Segment's 500 KB limit for a batch"}`},
		{"gzip bomb", req{path: "/v1/batch", body: `{"batch":[` + strings.Repeat(" ", 8<<20) + `]}`, gzip: true}, 400, `{"success":false,"error":"body is larger than Segment's 500 KB limit for a batch"}`},
		{"bad gzip", req{path: "/v1/track", body: `{}`, header: map[string]string{"Content-Encoding": "gzip"}}, 400, `{"success":false,"error":"body is not valid gzip: unexpected EOF"}`},
		{"unknown encoding", req{path: "/v1/track", body: `{}`, header: map[string]string{"Content-Encoding": "br"}}, 400, `{"success":false,"error":"Content-Encoding \"br\" is not supported (gzip is)"}`},
		{"bad timestamp", req{path: "/v1/track", body: `{"userId":"u1","event":"E","timestamp":"yesterday"}`}, 400, `{"success":false,"error":"\"timestamp\" is \"yesterday\", not an ISO 8601 date"}`},
		{"alias without previousId", req{path: "/v1/alias", body: `{"userId":"u1"}`}, 400, `{"success":false,"error":"alias needs userId and previousId"}`},
		{"unknown endpoint", req{path: "/v1/trak", body: `{}`}, 404, `{"success":false,"error":"no such endpoint /v1/trak (see https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/)"}`},
	}
	for _, c := range cases {
		code, body, _ := do(h, c.r)
		if code != c.code || body != c.body+"\n" {
			t.Errorf("%s: %d %s\nwant %d %s", c.name, code, body, c.code, c.body)
		}
	}
	// An event over 32 KB in a batch is rejected alone.
	code, body, _ := do(h, req{path: "/v1/batch", body: `{"batch":[` + big[:len(big)-1] + `,"type":"track"},{"type":"track","userId":"u2","event":"E"}]}`})
	if code != 200 || !strings.Contains(body, `"rejected":[{"index":0,"error":"event is 32832 bytes, larger than Segment's 32 KB limit"}]`) {
		t.Errorf("big event in a batch: %d %s", code, body)
	}
	if len(st.items) != 1 {
		t.Errorf("%d stored, want only the good event of the last batch", len(st.items))
	}
	r := httptest.NewRequest(http.MethodGet, "/v1/track", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d %s", w.Code, w.Body)
	}
}

// TestGzipBodies are read like plain ones.
func TestGzipBodies(t *testing.T) {
	h, st, _ := newHandler(Config{})
	if code, body, _ := do(h, req{path: "/v1/batch", body: `{"batch":[{"type":"track","userId":"u1","event":"E","messageId":"m"}]}`, gzip: true}); code != 200 {
		t.Errorf("%d %s", code, body)
	}
	if len(st.items) != 1 || st.items[0].ID != "m" {
		t.Errorf("%+v", st.items)
	}
}

// TestFullSpoolIs503WithRetryAfter.
func TestFullSpoolIs503WithRetryAfter(t *testing.T) {
	st := &memStore{err: delivery.ErrFull}
	h, _, obs := newHandler(Config{Store: st, RetryAfter: 3 * time.Second})
	code, body, hdr := do(h, req{path: "/v1/batch", body: `{"batch":[{"type":"track","userId":"u1","event":"E"},{"type":"track","userId":"u1","event":"F"}]}`})
	if code != 503 || hdr.Get("Retry-After") != "3" || body != `{"success":false,"error":"the spool is full: events are being sent to Intercom more slowly than they arrive; retry later"}`+"\n" {
		t.Errorf("%d %q %s", code, hdr.Get("Retry-After"), body)
	}
	if obs.rejected[ReasonFull] != 2 {
		t.Errorf("%+v", obs.rejected)
	}
}

// TestDuplicateMessageIDIsTakenOnce: the answer is the same; it is counted.
func TestDuplicateMessageIDIsTakenOnce(t *testing.T) {
	h, st, obs := newHandler(Config{})
	for range 2 {
		if code, _, _ := do(h, req{path: "/v1/track", body: `{"userId":"u1","event":"E","messageId":"same"}`}); code != 200 {
			t.Errorf("%d", code)
		}
	}
	if len(st.items) != 1 || obs.duplicates != 1 {
		t.Errorf("%d stored, %d duplicates", len(st.items), obs.duplicates)
	}
}

// TestWebhookSignature: with a shared secret, /v1/webhook takes a
// forwarded event only with the right X-Signature (hex HMAC-SHA1 of the
// body), and needs no write key.
func TestWebhookSignature(t *testing.T) {
	h, st, _ := newHandler(Config{WebhookSecret: "s3cret", WriteKeys: []string{"wk"}})
	ev := `{"type":"identify","userId":"u1","messageId":"fwd-1","receivedAt":"2026-01-01T00:00:00.000Z","timestamp":"2026-01-01T00:00:00.000Z","traits":{"email":"u1@example.com"}}`
	mac := hmac.New(sha1.New, []byte("s3cret"))
	mac.Write([]byte(ev))
	sig := hex.EncodeToString(mac.Sum(nil))
	cases := []struct {
		sig  string
		code int
		body string
	}{
		{"", 401, `{"success":false,"error":"no X-Signature header: this webhook needs the shared secret's signature"}`},
		{strings.Repeat("0", 40), 401, `{"success":false,"error":"X-Signature does not match the body signed with the shared secret"}`},
		{sig, 200, `{"success":true}`},
	}
	for _, c := range cases {
		hdr := map[string]string{}
		if c.sig != "" {
			hdr["X-Signature"] = c.sig
		}
		if code, body, _ := do(h, req{path: "/v1/webhook", body: ev, header: hdr}); code != c.code || body != c.body+"\n" {
			t.Errorf("signature %q: %d %s", c.sig, code, body)
		}
	}
	if len(st.items) != 1 || st.items[0].ID != "fwd-1" {
		t.Fatalf("stored %+v", st.items)
	}
	// Forwarded events keep their messageId; receivedAt is this server's.
	if got := string(st.items[0].Data); !strings.Contains(got, `"receivedAt":"2026-03-04T05:06:07.890Z"`) || !strings.Contains(got, `"messageId":"fwd-1"`) {
		t.Errorf("stored %s", got)
	}
	// An array of forwarded events (batched webhooks) is taken too.
	arr := `[{"type":"track","userId":"u1","event":"A"},{"type":"track","userId":"u1","event":"B"}]`
	mac.Reset()
	mac.Write([]byte(arr))
	if code, body, _ := do(h, req{path: "/v1/webhook", body: arr, header: map[string]string{"X-Signature": hex.EncodeToString(mac.Sum(nil))}}); code != 200 || len(st.items) != 3 {
		t.Errorf("array: %d %s, %d stored", code, body, len(st.items))
	}
}
