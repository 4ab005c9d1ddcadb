package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testClientID     = "client-123"
	testClientSecret = "secret-456"
	testCode         = "code-789"
	testToken        = "tok-abc-def"
)

// fakeProvider plays app.intercom.com/oauth and api.intercom.io/auth/eagle/token.
type fakeProvider struct {
	srv *httptest.Server

	// deny makes the authorize page redirect with error=access_denied.
	deny bool
	// tokenStatus and tokenBody, when set, replace the token answer.
	tokenStatus int
	tokenBody   string

	mu          sync.Mutex
	authorizeQ  url.Values   // the last authorize request's query
	exchanges   []url.Values // the token requests' form bodies
	exchangeHdr []http.Header
}

func newFakeProvider(t *testing.T) *fakeProvider {
	t.Helper()
	p := &fakeProvider{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p.mu.Lock()
		p.authorizeQ = q
		p.mu.Unlock()
		if q.Get("client_id") != testClientID || q.Get("state") == "" || q.Get("redirect_uri") == "" {
			http.Error(w, "bad authorize request", http.StatusBadRequest)
			return
		}
		back := url.Values{"state": {q.Get("state")}}
		if p.deny {
			back.Set("error", "access_denied")
			back.Set("error_description", "The user denied access")
		} else {
			back.Set("code", testCode)
		}
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+back.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /auth/eagle/token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.exchanges = append(p.exchanges, r.PostForm)
		p.exchangeHdr = append(p.exchangeHdr, r.Header.Clone())
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if p.tokenStatus != 0 {
			w.WriteHeader(p.tokenStatus)
			io.WriteString(w, p.tokenBody)
			return
		}
		if r.PostForm.Get("code") != testCode || r.PostForm.Get("client_id") != testClientID ||
			r.PostForm.Get("client_secret") != testClientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"type":"error.list","errors":[{"code":"unauthorized","message":"Unauthorized Code"}]}`)
			return
		}
		if p.tokenBody != "" {
			io.WriteString(w, p.tokenBody)
			return
		}
		fmt.Fprintf(w, `{"token_type":"Bearer","token":%q,"access_token":%q}`, testToken, testToken)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeProvider) config() Config {
	return Config{
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		AuthURL:      p.srv.URL + "/oauth",
		TokenURL:     p.srv.URL + "/auth/eagle/token",
		Timeout:      10 * time.Second,
	}
}

func (p *fakeProvider) exchangeCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.exchanges)
}

// browser does what a browser does with an authorize URL: GET it and follow
// the redirect to the loopback callback. It returns the final status and page.
func browser(authURL string) (int, string, error) {
	resp, err := http.Get(authURL)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// redirectOf returns the redirect_uri of an authorize URL.
func redirectOf(t *testing.T, authURL string) string {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("redirect_uri")
}

func TestLoginExchangesCodeAndIgnoresWrongState(t *testing.T) {
	p := newFakeProvider(t)
	cfg := p.config()
	var (
		authURL, redirect string
		wrongStatus       int
		wrongBody         string
		exchangedEarly    int
		status            int
		body              string
	)
	cfg.OpenURL = func(u string) error {
		authURL = u
		redirect = redirectOf(t, u)
		// Someone else's redirect (a forged one, or an old tab) reaches the
		// callback first: wrong state, but a code that would work.
		resp, err := http.Get(redirect + "?" + url.Values{"code": {testCode}, "state": {"forged"}}.Encode())
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wrongStatus, wrongBody = resp.StatusCode, string(b)
		exchangedEarly = p.exchangeCount()
		// Then the real browser flow.
		status, body, err = browser(u)
		return err
	}
	tok, err := Login(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if tok.AccessToken != testToken || tok.TokenType != "Bearer" {
		t.Errorf("token = %q (type %q), want %q (Bearer)", tok.AccessToken, tok.TokenType, testToken)
	}
	if !tok.Expiry.IsZero() {
		t.Errorf("token expiry = %v, want none (Intercom tokens do not expire)", tok.Expiry)
	}

	// The wrong-state callback was refused and never exchanged.
	if wrongStatus != http.StatusBadRequest || !strings.Contains(wrongBody, "state does not match") {
		t.Errorf("wrong-state callback: status %d, page:\n%s", wrongStatus, wrongBody)
	}
	if exchangedEarly != 0 {
		t.Errorf("%d token exchanges after the wrong-state callback, want 0", exchangedEarly)
	}
	// The browser ends on the success page.
	if status != http.StatusOK || !strings.Contains(body, "You can close this tab") {
		t.Errorf("callback page: status %d:\n%s", status, body)
	}
	if strings.Contains(body, testToken) {
		t.Errorf("callback page shows the token:\n%s", body)
	}

	// The authorize request.
	if !strings.HasPrefix(authURL, p.srv.URL+"/oauth?") {
		t.Errorf("authorize url %q, want it under %s/oauth", authURL, p.srv.URL)
	}
	p.mu.Lock()
	aq, exchanges, hdrs := p.authorizeQ, p.exchanges, p.exchangeHdr
	p.mu.Unlock()
	if !strings.HasPrefix(redirect, "http://127.0.0.1:") || !strings.HasSuffix(redirect, "/callback") {
		t.Errorf("redirect_uri = %q, want http://127.0.0.1:PORT/callback", redirect)
	}
	if aq.Get("client_id") != testClientID || len(aq.Get("state")) < 20 || aq.Get("redirect_uri") != redirect {
		t.Errorf("authorize query = %v", aq)
	}
	// Exactly one exchange, with the code, the client credentials in the
	// body and the redirect URI.
	if len(exchanges) != 1 {
		t.Fatalf("%d token exchanges, want 1", len(exchanges))
	}
	ex := exchanges[0]
	want := map[string]string{
		"grant_type":    "authorization_code",
		"code":          testCode,
		"client_id":     testClientID,
		"client_secret": testClientSecret,
		"redirect_uri":  redirect,
	}
	for k, v := range want {
		if got := ex.Get(k); got != v {
			t.Errorf("token request %s = %q, want %q", k, got, v)
		}
	}
	if h := hdrs[0].Get("Authorization"); h != "" {
		t.Errorf("token request sent Authorization %q; Intercom wants the credentials in the body", h)
	}

	// The redirect server is gone.
	if resp, err := http.Get(redirect); err == nil {
		resp.Body.Close()
		t.Errorf("redirect server still answers after Login returned (status %d)", resp.StatusCode)
	}
}

func TestLoginAccessDenied(t *testing.T) {
	p := newFakeProvider(t)
	p.deny = true
	cfg := p.config()
	var status int
	var body string
	cfg.OpenURL = func(u string) (err error) {
		status, body, err = browser(u)
		return err
	}
	tok, err := Login(context.Background(), cfg)
	if !errors.Is(err, ErrAccessDenied) || tok != nil {
		t.Fatalf("Login = %v, %v; want ErrAccessDenied", tok, err)
	}
	if err.Error() != "authorization denied in the browser (access_denied)" {
		t.Errorf("error text %q", err)
	}
	if status != http.StatusForbidden || !strings.Contains(body, "Access was not granted") {
		t.Errorf("callback page: status %d:\n%s", status, body)
	}
	if n := p.exchangeCount(); n != 0 {
		t.Errorf("%d token exchanges after access_denied, want 0", n)
	}
}

func TestLoginOtherErrorCallback(t *testing.T) {
	p := newFakeProvider(t)
	cfg := p.config()
	cfg.OpenURL = func(u string) error {
		// The error answer carries our state.
		state := must(url.Parse(u)).Query().Get("state")
		q := url.Values{"error": {"server_error"}, "error_description": {"<b>boom</b>"}, "state": {state}}
		resp, err := http.Get(redirectOf(t, u) + "?" + q.Encode())
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), "<b>boom") ||
			!strings.Contains(string(b), "&lt;b&gt;boom&lt;/b&gt;") {
			t.Errorf("error callback page (status %d) does not escape the description:\n%s", resp.StatusCode, b)
		}
		return nil
	}
	_, err := Login(context.Background(), cfg)
	if err == nil || err.Error() != "authorization failed: server_error: <b>boom</b>" {
		t.Fatalf("Login error = %v", err)
	}
}

func TestLoginTimeoutClosesServer(t *testing.T) {
	p := newFakeProvider(t)
	cfg := p.config()
	cfg.Timeout = 300 * time.Millisecond
	var redirect string
	cfg.OpenURL = func(u string) error { redirect = redirectOf(t, u); return nil } // nobody logs in
	tok, err := Login(context.Background(), cfg)
	if !errors.Is(err, context.DeadlineExceeded) || tok != nil {
		t.Fatalf("Login = %v, %v; want a deadline error", tok, err)
	}
	if want := "no answer from the browser within 300ms: context deadline exceeded"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if resp, err := http.Get(redirect); err == nil {
		resp.Body.Close()
		t.Errorf("redirect server still answers after the timeout (status %d)", resp.StatusCode)
	}
}

func TestLoginContextCanceled(t *testing.T) {
	p := newFakeProvider(t)
	cfg := p.config()
	ctx, cancel := context.WithCancel(context.Background())
	var redirect string
	cfg.OpenURL = func(u string) error {
		redirect = redirectOf(t, u)
		time.AfterFunc(50*time.Millisecond, cancel)
		return nil
	}
	_, err := Login(ctx, cfg)
	if !errors.Is(err, context.Canceled) || err.Error() != "login canceled: context canceled" {
		t.Fatalf("Login error = %v, want login canceled", err)
	}
	if resp, err := http.Get(redirect); err == nil {
		resp.Body.Close()
		t.Errorf("redirect server still answers after cancel (status %d)", resp.StatusCode)
	}
}

func TestLoginExchangeFailure(t *testing.T) {
	p := newFakeProvider(t)
	p.tokenStatus = http.StatusUnauthorized
	p.tokenBody = `{"error":"invalid_grant","error_description":"Unauthorized Code"}`
	cfg := p.config()
	var status int
	var body string
	cfg.OpenURL = func(u string) (err error) {
		status, body, err = browser(u)
		return err
	}
	_, err := Login(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "exchange the authorization code at "+cfg.TokenURL) ||
		!strings.Contains(err.Error(), "Unauthorized Code") {
		t.Fatalf("Login error = %v", err)
	}
	if status != http.StatusBadGateway || !strings.Contains(body, "could not be exchanged") {
		t.Errorf("callback page: status %d:\n%s", status, body)
	}
}

func TestLoginTokenFieldOnlyAnswer(t *testing.T) {
	// An answer naming the token only "token" still gives a token.
	p := newFakeProvider(t)
	p.tokenBody = fmt.Sprintf(`{"token_type":"Bearer","token":%q}`, testToken)
	cfg := p.config()
	cfg.OpenURL = func(u string) error { _, _, err := browser(u); return err }
	tok, err := Login(context.Background(), cfg)
	if err != nil || tok.AccessToken != testToken {
		t.Fatalf("Login = %+v, %v; want token %q", tok, err, testToken)
	}
}

func TestLoginSecondCallbackRefused(t *testing.T) {
	p := newFakeProvider(t)
	cfg := p.config()
	var second int
	cfg.OpenURL = func(u string) error {
		if _, _, err := browser(u); err != nil {
			return err
		}
		// A replay of the same (valid) redirect while Login is returning.
		state := must(url.Parse(u)).Query().Get("state")
		resp, err := http.Get(redirectOf(t, u) + "?" + url.Values{"code": {testCode}, "state": {state}}.Encode())
		if err != nil {
			return err
		}
		resp.Body.Close()
		second = resp.StatusCode
		return nil
	}
	if _, err := Login(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if second != http.StatusConflict {
		t.Errorf("replayed callback: status %d, want 409", second)
	}
	if n := p.exchangeCount(); n != 1 {
		t.Errorf("%d token exchanges, want 1", n)
	}
}

func TestLoginRefusesNonLoopbackAddress(t *testing.T) {
	p := newFakeProvider(t)
	cfg := p.config()
	cfg.ListenAddr = "0.0.0.0:0"
	called := false
	cfg.OpenURL = func(string) error { called = true; return nil }
	_, err := Login(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "is not a loopback address") || called {
		t.Fatalf("Login error = %v (OpenURL called: %v)", err, called)
	}
}

func TestLoginNeedsClientAndOpenURL(t *testing.T) {
	for _, cfg := range []Config{
		{ClientSecret: "s", OpenURL: func(string) error { return nil }},
		{ClientID: "c", OpenURL: func(string) error { return nil }},
		{ClientID: "c", ClientSecret: "s"},
	} {
		if _, err := Login(context.Background(), cfg); err == nil {
			t.Errorf("Login(%+v) succeeded", cfg)
		}
	}
}

func TestLoginOpenURLErrorStops(t *testing.T) {
	p := newFakeProvider(t)
	cfg := p.config()
	boom := errors.New("no display")
	cfg.OpenURL = func(string) error { return boom }
	if _, err := Login(context.Background(), cfg); !errors.Is(err, boom) {
		t.Fatalf("Login error = %v, want %v", err, boom)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
