package simulator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	s, c, _ := start(t, Options{Token: "secret"})
	for _, auth := range []string{"", "Bearer wrong", "secret", "bearer secret"} {
		req, _ := http.NewRequest("GET", c.base+"/me", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, 4096)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		checkError(t, response{status: resp.StatusCode, header: resp.Header, body: body[:n]}, 401, "unauthorized", "Access Token Invalid")
		if resp.Header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("401 carries rate-limit headers")
		}
	}
	c.ok("GET", "/me", nil, 200)
	c.token = "wrong"
	c.fail("POST", "/contacts", map[string]any{"email": "a@b.co"}, 401, "unauthorized", "Access Token Invalid")
	// The control endpoints need no token.
	c.ok("GET", "/_sim/state", nil, 200)
	mustEqual(t, "contacts", len(s.State().Contacts), 0)
}

func TestRateLimit(t *testing.T) {
	s, c, clk := start(t, Options{RateLimit: 3, Window: 10 * time.Second})
	// t0 is 1_700_000_003: the window is [1_700_000_000, 1_700_000_010).
	for i, wantRemaining := range []string{"2", "1", "0"} {
		r := c.do("POST", "/contacts", map[string]any{"external_id": fmt.Sprint("u", i)})
		if r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		mustEqual(t, "headers", []string{r.header.Get("X-RateLimit-Limit"), r.header.Get("X-RateLimit-Remaining"), r.header.Get("X-RateLimit-Reset")},
			[]string{"3", wantRemaining, "1700000010"})
	}
	clk.Advance(6 * time.Second) // 1_700_000_009: same window
	r := c.do("POST", "/contacts", map[string]any{"external_id": "u3"})
	checkError(t, r, 429, "rate_limit_exceeded", "Exceeded rate limit of 3 in 10_seconds")
	mustEqual(t, "429 headers", []string{r.header.Get("X-RateLimit-Limit"), r.header.Get("X-RateLimit-Remaining"), r.header.Get("X-RateLimit-Reset")},
		[]string{"3", "0", "1700000010"})
	mustEqual(t, "contacts after 429", len(s.State().Contacts), 3)

	clk.Advance(time.Second) // 1_700_000_010: a new window
	r = c.do("POST", "/contacts", map[string]any{"external_id": "u3"})
	mustEqual(t, "new window", []any{r.status, r.header.Get("X-RateLimit-Remaining"), r.header.Get("X-RateLimit-Reset")},
		[]any{200, "2", "1700000020"})

	// Other windows: 429 message uses the window's seconds; Reset rounds up.
	_, c2, clk2 := start(t, Options{RateLimit: 1, Window: 2500 * time.Millisecond})
	clk2.Advance(-3 * time.Second) // 1_700_000_000 = 680_000_000 windows of 2.5 s exactly
	r = c2.do("GET", "/me", nil)
	mustEqual(t, "reset rounds up", r.header.Get("X-RateLimit-Reset"), "1700000003")
	checkError(t, c2.do("GET", "/me", nil), 429, "rate_limit_exceeded", "Exceeded rate limit of 1 in 3_seconds")
}

func TestUnlimitedRateHeaders(t *testing.T) {
	_, c, _ := start(t, Options{})
	for i, want := range []string{"999999", "999998"} {
		r := c.do("GET", "/me", nil)
		mustEqual(t, fmt.Sprint("request ", i), []string{r.header.Get("X-RateLimit-Limit"), r.header.Get("X-RateLimit-Remaining"), r.header.Get("X-RateLimit-Reset")},
			[]string{"1000000", want, "1700000010"})
	}
}

func TestBurst429(t *testing.T) {
	s, c, _ := start(t, Options{RateLimit: 100, Faults: Faults{Burst429: 2}})
	for range 2 {
		r := c.do("POST", "/contacts", map[string]any{"external_id": "u1"})
		checkError(t, r, 429, "rate_limit_exceeded", "Exceeded rate limit of 100 in 10_seconds")
		mustEqual(t, "burst headers", []string{r.header.Get("X-RateLimit-Limit"), r.header.Get("X-RateLimit-Remaining"), r.header.Get("X-RateLimit-Reset")},
			[]string{"100", "100", "1700000010"})
	}
	mustEqual(t, "contacts after burst", len(s.State().Contacts), 0)
	r := c.do("POST", "/contacts", map[string]any{"external_id": "u1"})
	mustEqual(t, "after burst", []any{r.status, r.header.Get("X-RateLimit-Remaining")}, []any{200, "99"})

	s.SetFaults(Faults{Burst429: 1})
	checkError(t, c.do("GET", "/me", nil), 429, "rate_limit_exceeded", "Exceeded rate limit of 100 in 10_seconds")
	c.ok("GET", "/me", nil, 200)
	mustEqual(t, "statuses", statuses(s), []int{429, 429, 200, 429, 200})
}

func statuses(s *Server) []int {
	var out []int
	for _, r := range s.Requests() {
		out = append(out, r.Status)
	}
	return out
}

func TestErrorRate(t *testing.T) {
	s, c, _ := start(t, Options{Faults: Faults{ErrorRate: 1}})
	checkError(t, c.do("POST", "/contacts", map[string]any{"external_id": "u1"}), 500, "server_error", "Server Error")
	r := c.do("POST", "/companies", map[string]any{"company_id": "acme"})
	checkError(t, r, 503, "service_unavailable", "Service Unavailable")
	if r.header.Get("X-RateLimit-Limit") != "1000000" {
		t.Fatalf("5xx lacks rate headers: %v", r.header)
	}
	checkError(t, c.do("GET", "/me", nil), 500, "server_error", "Server Error")
	mustEqual(t, "state", s.State(), State{Contacts: []Contact{}, Companies: []Company{}, Events: []Event{}})
	mustEqual(t, "statuses", statuses(s), []int{500, 503, 500})

	s.SetFaults(Faults{})
	c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)
	mustEqual(t, "contacts", len(s.State().Contacts), 1)
}

func TestDropRate(t *testing.T) {
	s, c, _ := start(t, Options{Faults: Faults{DropRate: 1}})
	r := c.try(context.Background(), "POST", "/contacts", map[string]any{"external_id": "u1"})
	if r.err == nil {
		t.Fatalf("dropped request answered %d %s", r.status, r.body)
	}
	if msg := r.err.Error(); !strings.Contains(msg, "EOF") && !strings.Contains(msg, "reset") {
		t.Fatalf("unexpected error %v", r.err)
	}
	mustEqual(t, "contacts", len(s.State().Contacts), 0)
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Status != 0 || reqs[0].Method != "POST" || string(reqs[0].Body) != `{"external_id":"u1"}` {
		t.Fatalf("requests %+v", reqs)
	}
	s.SetFaults(Faults{})
	c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)
}

func TestSlowAndCancel(t *testing.T) {
	s, c, _ := start(t, Options{Faults: Faults{SlowRate: 1, SlowDelay: 50 * time.Millisecond}})
	begin := time.Now()
	c.ok("GET", "/me", nil, 200)
	if d := time.Since(begin); d < 50*time.Millisecond { // a lower bound: no machine is too slow for it
		t.Fatalf("slow request took %v", d)
	}

	// A client that gives up during the delay leaves no trace in the state,
	// and the handler returns at once: Close, which waits for it, returns
	// long before the hour's delay.
	s.SetFaults(Faults{SlowRate: 1, SlowDelay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for len(s.Requests()) < 2 { // the request is being delayed
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	r := c.try(ctx, "POST", "/contacts", map[string]any{"external_id": "u1"})
	if r.err == nil {
		t.Fatalf("got an answer %d", r.status)
	}
	closeWithin(t, s, 30*time.Second)
	mustEqual(t, "contacts", len(s.State().Contacts), 0)
	mustEqual(t, "statuses", statuses(s), []int{200, 0})
}

func TestCloseCancelsSlowRequests(t *testing.T) {
	s, c, _ := start(t, Options{Faults: Faults{SlowRate: 1, SlowDelay: time.Hour}})
	done := make(chan response, 1)
	go func() { done <- c.try(context.Background(), "GET", "/me", nil) }()
	for len(s.Requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	closeWithin(t, s, 30*time.Second)
	if r := <-done; r.err == nil {
		t.Fatalf("got an answer %d", r.status)
	}
}

// closeWithin closes s, failing the test should Close still wait after
// limit: a bound for giving up on a handler that sits out its delay (an
// hour in the tests that use it), not a timing goal.
func closeWithin(t *testing.T, s *Server, limit time.Duration) {
	t.Helper()
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(limit):
		t.Fatalf("Close still waits after %v for a slow request to end", limit)
	}
}

func TestFaultsRepeatableWithSeed(t *testing.T) {
	run := func(seed int64) []int {
		s, c, _ := start(t, Options{Seed: seed, Faults: Faults{ErrorRate: 0.5}})
		for range 30 {
			c.do("GET", "/me", nil)
		}
		return statuses(s)
	}
	a, b := run(42), run(42)
	mustEqual(t, "same seed", a, b)
	n := 0
	for _, st := range a {
		if st != 200 {
			n++
		}
	}
	if n == 0 || n == len(a) {
		t.Fatalf("ErrorRate 0.5 failed %d of %d requests", n, len(a))
	}
}

func TestRequestsRecording(t *testing.T) {
	s, c, _ := start(t, Options{Token: "tok"})
	c.do("POST", "/contacts", "{\n  \"external_id\": \"u1\",\n  \"email\": \"a@b.co\"\n}")
	c.do("GET", "/companies?company_id=acme", nil)
	c.do("POST", "/contacts", "not json")
	c.ok("GET", "/_sim/state", nil, 200) // not recorded
	s.SetFaults(Faults{ErrorRate: 1})
	c.do("GET", "/me", nil)

	reqs := s.Requests()
	type row struct {
		Method, Path, Query, Body string
		Status                    int
	}
	var got []row
	for _, r := range reqs {
		got = append(got, row{r.Method, r.Path, r.Query, string(r.Body), r.Status})
	}
	mustEqual(t, "requests", got, []row{
		{"POST", "/contacts", "", `{"external_id":"u1","email":"a@b.co"}`, 200},
		{"GET", "/companies", "company_id=acme", "", 404},
		{"POST", "/contacts", "", `"not json"`, 400},
		{"GET", "/me", "", "", 500},
	})
	// The token was checked (200) but is not kept in the log.
	mustEqual(t, "auth header", reqs[0].Header.Get("Authorization"), "Bearer [redacted]")
	mustEqual(t, "content type", reqs[0].Header.Get("Content-Type"), "application/json")

	// The copy is deep.
	reqs[0].Header.Set("Authorization", "x")
	reqs[0].Body[0] = '['
	mustEqual(t, "copy is deep", string(s.Requests()[0].Body)+s.Requests()[0].Header.Get("Authorization"),
		`{"external_id":"u1","email":"a@b.co"}Bearer [redacted]`)

	s.ResetRequests()
	mustEqual(t, "after reset", len(s.Requests()), 0)
}

func TestSimEndpoints(t *testing.T) {
	s, c, _ := start(t, Options{Token: "tok"})
	u := c.ok("POST", "/contacts", map[string]any{"external_id": "u1", "custom_attributes": map[string]any{"n": 1}}, 200)["id"].(string)
	co := c.ok("POST", "/companies", map[string]any{"company_id": "acme", "plan": "pro"}, 200)["id"].(string)
	c.ok("POST", "/contacts/"+u+"/companies", map[string]any{"id": co}, 200)
	c.ok("POST", "/events", map[string]any{"event_name": "e", "created_at": 5, "user_id": "u1", "metadata": map[string]any{"k": "v"}}, 202)

	r := c.do("GET", "/_sim/state", nil)
	var got State
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "state over HTTP", got, s.State())
	mustEqual(t, "state JSON", decode(t, r.body), map[string]any{
		"contacts": []any{map[string]any{
			"id": u, "role": "user", "external_id": "u1", "unsubscribed_from_emails": false,
			"custom_attributes": map[string]any{"n": 1.0}, "company_ids": []any{co},
			"created_at": float64(t0.Unix()), "updated_at": float64(t0.Unix()),
		}},
		"companies": []any{map[string]any{
			"id": co, "company_id": "acme", "plan": "pro", "user_count": 1.0,
			"created_at": float64(t0.Unix()), "updated_at": float64(t0.Unix()),
		}},
		"events": []any{map[string]any{"contact_id": u, "event_name": "e", "created_at": 5.0, "metadata": map[string]any{"k": "v"}}},
	})

	var reqs []Request
	if err := json.Unmarshal(c.do("GET", "/_sim/requests", nil).body, &reqs); err != nil || len(reqs) != 4 {
		t.Fatalf("requests over HTTP: %v %+v", err, reqs)
	}

	r = c.do("POST", "/_sim/reset", nil)
	mustEqual(t, "reset status", r.status, 204)
	mustEqual(t, "state after reset", s.State(), State{Contacts: []Contact{}, Companies: []Company{}, Events: []Event{}})
	mustEqual(t, "requests after reset", len(s.Requests()), 0)
	again := c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)["id"].(string)
	mustEqual(t, "ids restart", again, u)
	checkError(t, c.do("GET", "/_sim/reset", nil), 405, "method_not_allowed", "Method Not Allowed")
	checkError(t, c.do("GET", "/_sim/nope", nil), 404, "not_found", "Resource Not Found")
}

func TestConcurrentClients(t *testing.T) {
	s, c, _ := start(t, Options{RateLimit: 10000, Faults: Faults{SlowRate: 0.2, SlowDelay: time.Millisecond}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				ext := fmt.Sprintf("u%d-%d", g, i)
				if r := c.do("POST", "/contacts", map[string]any{"external_id": ext}); r.status != 200 {
					t.Errorf("create %s: %d", ext, r.status)
					return
				}
				if r := c.do("POST", "/events", map[string]any{"event_name": "e", "created_at": 1, "user_id": ext}); r.status != 202 {
					t.Errorf("event %s: %d", ext, r.status)
				}
				c.do("POST", "/contacts/search", search(eq("external_id", ext)))
				_ = s.State()
				_ = s.Requests()
			}
		}()
	}
	wg.Wait()
	st := s.State()
	seen := map[string]bool{}
	for _, ct := range st.Contacts {
		seen[ct.ID] = true
	}
	if len(st.Contacts) != 80 || len(seen) != 80 || len(st.Events) != 80 || len(s.Requests()) != 240 {
		t.Fatalf("contacts %d (unique %d), events %d, requests %d", len(st.Contacts), len(seen), len(st.Events), len(s.Requests()))
	}
}

// TestLostAnswerRate: the request is handled (its change is kept) but the
// answer never arrives; the log shows it with status 0.
func TestLostAnswerRate(t *testing.T) {
	s, c, _ := start(t, Options{Faults: Faults{LostAnswerRate: 1}})
	r := c.try(context.Background(), "POST", "/contacts", map[string]any{"external_id": "u1"})
	if r.err == nil {
		t.Fatalf("lost answer arrived: %d %s", r.status, r.body)
	}
	if msg := r.err.Error(); !strings.Contains(msg, "EOF") && !strings.Contains(msg, "reset") {
		t.Fatalf("unexpected error %v", r.err)
	}
	mustEqual(t, "contacts", len(s.State().Contacts), 1)
	mustEqual(t, "statuses", statuses(s), []int{0})

	// The client resends: Intercom's answer to a create that already
	// happened is a conflict naming the contact.
	s.SetFaults(Faults{})
	c.fail("POST", "/contacts", map[string]any{"external_id": "u1"}, 409, "conflict",
		"A contact matching those details already exists with id="+s.State().Contacts[0].ID)
}

// TestConflictsNameNoID: with the option, a 409 does not give the id away.
func TestConflictsNameNoID(t *testing.T) {
	s, c, _ := start(t, Options{ConflictsNameNoID: true})
	c.ok("POST", "/contacts", map[string]any{"external_id": "u1"}, 200)
	c.fail("POST", "/contacts", map[string]any{"external_id": "u1"}, 409, "conflict", "A contact matching those details already exists")
	mustEqual(t, "contacts", len(s.State().Contacts), 1)
}

// TestRequestLogRedactsToken: neither Requests nor /_sim/requests holds the
// bearer token, right or wrong.
func TestRequestLogRedactsToken(t *testing.T) {
	s, c, _ := start(t, Options{Token: "s3cret-token"})
	c.ok("GET", "/me", nil, 200)
	c.token = "wrong-token"
	c.fail("GET", "/me", nil, 401, "unauthorized", "Access Token Invalid")
	req, _ := http.NewRequest("GET", c.base+"/me", nil)
	req.Header.Set("Authorization", "s3cret-token") // no scheme
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var auths []string
	for _, r := range s.Requests() {
		auths = append(auths, r.Header.Get("Authorization"))
	}
	mustEqual(t, "logged Authorization", auths, []string{"Bearer [redacted]", "Bearer [redacted]", "[redacted]"})
	resp, err = c.hc.Get(c.base + "/_sim/requests")
	if err != nil {
		t.Fatal(err)
	}
	body := new(strings.Builder)
	_, _ = io.Copy(body, resp.Body)
	resp.Body.Close()
	if strings.Contains(body.String(), "s3cret") || strings.Contains(body.String(), "wrong-token") {
		t.Errorf("/_sim/requests shows a token: %s", body)
	}
}

// TestRequestLogIsBounded: with MaxRequests the log keeps only the most
// recent requests, however long the simulator runs.
func TestRequestLogIsBounded(t *testing.T) {
	s, c, _ := start(t, Options{MaxRequests: 3})
	for i := range 10 {
		c.do("GET", fmt.Sprintf("/contacts/n%d", i), nil)
	}
	var paths []string
	for _, r := range s.Requests() {
		paths = append(paths, r.Path)
	}
	mustEqual(t, "kept", strings.Join(paths, " "), "/contacts/n7 /contacts/n8 /contacts/n9")
	s.ctl.Lock()
	held := len(s.requests)
	s.ctl.Unlock()
	if held >= 2*3 {
		t.Errorf("the log holds %d requests, want under %d", held, 2*3)
	}
}
