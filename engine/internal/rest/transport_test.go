package rest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// headerLog records the Authorization header of every request a test
// server receives.
type headerLog struct {
	mu    sync.Mutex
	auths []string
}

func (l *headerLog) add(r *http.Request) {
	l.mu.Lock()
	l.auths = append(l.auths, r.Method+" "+r.URL.Path+" Authorization="+r.Header.Get("Authorization"))
	l.mu.Unlock()
}

func (l *headerLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.auths...)
}

// TestTokenNotSentToAnotherHost: the API answers 307 to another host (two
// servers on 127.0.0.1, different ports); the client refuses to follow, so
// the other host never sees the request, let alone the token. A redirect on
// the API's own host is followed, with the token.
func TestTokenNotSentToAnotherHost(t *testing.T) {
	var otherLog, apiLog headerLog
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherLog.add(r)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"type":"contact","id":"stolen","role":"user"}`)
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiLog.add(r)
		switch r.URL.Path {
		case "/contacts/away":
			http.Redirect(w, r, other.URL+"/contacts/away", http.StatusTemporaryRedirect)
		case "/contacts/moved":
			http.Redirect(w, r, "/contacts/here", http.StatusTemporaryRedirect)
		case "/contacts/here":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"type":"contact","id":"here","role":"user"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	if !strings.HasPrefix(api.URL, "http://127.0.0.1:") || !strings.HasPrefix(other.URL, "http://127.0.0.1:") {
		t.Fatalf("servers at %s and %s, want both on 127.0.0.1", api.URL, other.URL)
	}
	c := newClient(t, nil, func(cfg *Config) { cfg.BaseURL = api.URL })
	ctx := context.Background()

	_, err := c.GetContact(ctx, "away")
	want := fmt.Sprintf(`intercom: GET /contacts/{id}: Get "%s/contacts/away": redirect to %s refused: the access token is only sent to %s`,
		other.URL, other.URL, api.URL)
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if Retryable(err) {
		t.Errorf("a refused redirect is classified as retryable")
	}
	if got := otherLog.get(); len(got) != 0 {
		t.Errorf("the other host received %v", got)
	}

	ct, err := c.GetContact(ctx, "moved")
	if err != nil || ct.ID != "here" {
		t.Fatalf("same-host redirect: %+v, %v", ct, err)
	}
	wantAPI := []string{
		"GET /contacts/away Authorization=Bearer " + testToken,
		"GET /contacts/moved Authorization=Bearer " + testToken,
		"GET /contacts/here Authorization=Bearer " + testToken,
	}
	if got := apiLog.get(); strings.Join(got, "\n") != strings.Join(wantAPI, "\n") {
		t.Errorf("the API received:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantAPI, "\n"))
	}

	// Below the redirect policy, the transport adds the token only for the
	// API's host: a request to another one goes without it.
	resp, err := c.hc.Get(other.URL + "/direct")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := otherLog.get(); len(got) != 1 || got[0] != "GET /direct Authorization=" {
		t.Errorf("the other host received %v, want one request without a token", got)
	}
}

// TestUserAgentAndVersion: every request names the client and the API
// version it was written for, or the one configured.
func TestUserAgentAndVersion(t *testing.T) {
	var (
		mu     sync.Mutex
		agents []string
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents = append(agents, r.Header.Get("User-Agent")+" "+r.Header.Get("Intercom-Version"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"type":"admin","id":"1","app":{"id_code":"x"}}`)
	}))
	defer api.Close()
	ctx := context.Background()
	if _, err := newClient(t, nil, func(cfg *Config) { cfg.BaseURL = api.URL }).Me(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := newClient(t, nil, func(cfg *Config) {
		cfg.BaseURL, cfg.UserAgent, cfg.Version = api.URL, "mine/1", "2.14"
	}).Me(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"intercom-actions/dev 2.16", "mine/1 2.14"}
	if strings.Join(agents, "|") != strings.Join(want, "|") || DefaultUserAgent != "intercom-actions/dev" {
		t.Errorf("User-Agent and Intercom-Version: %q (default %q), want %q", agents, DefaultUserAgent, want)
	}
}

// Test408Retried: a 408 Request Timeout is temporary, like a 5xx.
func Test408Retried(t *testing.T) {
	var (
		mu    sync.Mutex
		calls int
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if n == 1 {
			w.WriteHeader(http.StatusRequestTimeout)
			fmt.Fprint(w, `{"type":"error.list","request_id":"r1","errors":[{"code":"request_timeout","message":"Request Timeout"}]}`)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer api.Close()
	c := newClient(t, nil, func(cfg *Config) { cfg.BaseURL = api.URL })
	if err := c.SubmitEvent(context.Background(), intercom.EventBody{EventName: "x", CreatedAt: 1, UserID: "u"}); err != nil {
		t.Fatalf("SubmitEvent after a 408: %v", err)
	}
	if st := c.Stats(); st.Calls != 2 || st.Retries != 1 {
		t.Errorf("stats %v, want 2 calls with 1 retry", st)
	}
}
