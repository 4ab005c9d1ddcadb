package intercom

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/intercom/intercomtest"
)

const testToken = "tok"

// newSim starts a simulator that wants testToken.
func newSim(t *testing.T, opts intercomtest.Options) *intercomtest.Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	s := intercomtest.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// newClient returns a client of s with fast backoff; mods adjust the config.
func newClient(t *testing.T, s *intercomtest.Server, mods ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		BaseURL:     s.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken}),
		MinBackoff:  time.Millisecond,
		MaxBackoff:  5 * time.Millisecond,
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// contactID and companyID are the simulator's n-th ids.
func contactID(n int) string { return fmt.Sprintf("65c%021x", n) }
func companyID(n int) string { return fmt.Sprintf("65d%021x", n) }

// canon re-encodes JSON with sorted keys; "" stays "".
func canon(t *testing.T, raw []byte) string {
	t.Helper()
	if len(bytes.TrimSpace(raw)) == 0 {
		return ""
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("bad JSON %s: %v", raw, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// transcript is the server's requests as "METHOD /path body [status]" lines.
func transcript(t *testing.T, s *intercomtest.Server) []string {
	t.Helper()
	var out []string
	for _, r := range s.Requests() {
		line := r.Method + " " + r.Path
		if b := canon(t, r.Body); b != "" {
			line += " " + b
		}
		out = append(out, fmt.Sprintf("%s [%d]", line, r.Status))
	}
	return out
}

// wantTranscript checks the requests since the last reset, then resets
// them. Each want line is "METHOD /path [body] [status]"; bodies are
// compared as JSON.
func wantTranscript(t *testing.T, s *intercomtest.Server, want ...string) {
	t.Helper()
	for i, w := range want {
		// Canonicalise the body part of the expectation.
		head, rest, _ := strings.Cut(w, " ")
		path, rest, _ := strings.Cut(rest, " ")
		status := rest[strings.LastIndex(rest, " ")+1:]
		body := strings.TrimSpace(strings.TrimSuffix(rest, status))
		line := head + " " + path
		if body != "" {
			line += " " + canon(t, []byte(body))
		}
		want[i] = line + " " + status
	}
	got := transcript(t, s)
	s.ResetRequests()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

func exec(t *testing.T, c *Client, a engine.Action) Result {
	t.Helper()
	res, err := c.Execute(context.Background(), a)
	if err != nil {
		t.Fatalf("%s: %v", a.Action, err)
	}
	return res
}

func identifyUser(ext, email string) engine.Action {
	f := map[string]any{"role": "user", "name": "Ann", "last_seen_at": int64(1700000000)}
	if ext != "" {
		f["external_id"] = ext
	}
	if email != "" {
		f["email"] = email
	}
	return engine.Action{Rule: "Identify", Action: "identify_contact", Fields: f}
}

func identifyLead(email string) engine.Action {
	return engine.Action{Rule: "Lead", Action: "identify_contact", Fields: map[string]any{
		"role": "lead", "email": email, "name": "Lee",
	}}
}

func group(companyKey string, lookup map[string]any) engine.Action {
	f := map[string]any{
		"company_id": companyKey, "name": "Acme", "plan": "pro", "size": int64(12),
		"monthly_spend": json.Number("99.5"), "custom_attributes": map[string]any{"tier": "gold"},
	}
	for k, v := range lookup {
		f[k] = v
	}
	return engine.Action{Rule: "Group", Action: "identify_company", Fields: f}
}

func track(lookup map[string]any) engine.Action {
	f := map[string]any{
		"event_name": "order-completed", "created_at": int64(1700000100),
		"metadata": map[string]any{"price": map[string]any{"amount": int64(1999), "currency": "USD"}, "sku": "A1"},
	}
	for k, v := range lookup {
		f[k] = v
	}
	return engine.Action{Rule: "Track", Action: "track_event", Fields: f}
}

// lossyTransport passes requests to the server but loses the answer of the
// first request lose selects, as when a connection drops after the server
// handled the request.
type lossyTransport struct {
	base http.RoundTripper
	lose func(*http.Request) bool
	lost bool
}

func (l *lossyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	if err == nil && !l.lost && l.lose(req) {
		l.lost = true
		resp.Body.Close()
		return nil, fmt.Errorf("read: %w", errConnReset)
	}
	return resp, err
}
