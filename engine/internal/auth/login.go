// Package auth gets and keeps the Intercom access token of the command line:
// Login runs OAuth 2.0's authorization-code flow with a loopback redirect
// server, Save and Load keep the token in a file only its owner can read, and
// TokenSource picks the token to use (INTERCOM_ACCESS_TOKEN first, then the
// stored one).
//
// Tokens are never logged or printed by this package, and error messages
// never contain them.
package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// Defaults for the zero values of Config.
const (
	// DefaultAuthURL is Intercom's authorize page.
	DefaultAuthURL = "https://app.intercom.com/oauth"
	// DefaultTokenURL is Intercom's code-for-token exchange endpoint.
	DefaultTokenURL = "https://api.intercom.io/auth/eagle/token"
	// DefaultListenAddr is the redirect server's address: loopback, any free port.
	DefaultListenAddr = "127.0.0.1:0"
	// DefaultTimeout is how long Login waits for the browser.
	DefaultTimeout = 5 * time.Minute
)

// CallbackPath is the path of the redirect URL that Login serves, as in
// http://127.0.0.1:PORT/callback.
const CallbackPath = "/callback"

// ErrAccessDenied means the user declined to authorize the app in the
// browser (the callback carried error=access_denied).
var ErrAccessDenied = errors.New("authorization denied in the browser (access_denied)")

// Config configures Login. ClientID, ClientSecret and OpenURL are required.
type Config struct {
	// ClientID and ClientSecret identify the Intercom app (Developer Hub >
	// your app > Configure > Basic Information).
	ClientID, ClientSecret string
	// AuthURL is the authorize page (default DefaultAuthURL).
	AuthURL string
	// TokenURL is the token exchange endpoint (default DefaultTokenURL).
	TokenURL string
	// ListenAddr is the loopback address of the redirect server (default
	// DefaultListenAddr, "127.0.0.1:0": any free port). Its port must match
	// the redirect URL registered for the app when the provider checks it.
	// Only loopback addresses are accepted.
	ListenAddr string
	// OpenURL shows the authorize URL to the user: print it, open a
	// browser. It is called once the redirect server listens; an error
	// stops Login.
	OpenURL func(url string) error
	// Timeout bounds the wait for the browser and the exchange (default
	// DefaultTimeout).
	Timeout time.Duration
	// HTTPClient makes the token exchange request (optional; default: a
	// client with a 30 s timeout).
	HTTPClient *http.Client
}

// result is the outcome of the one callback that ends a login.
type result struct {
	tok *oauth2.Token
	err error
}

// Login runs the OAuth 2.0 authorization-code flow: it serves CallbackPath
// on a loopback address, calls cfg.OpenURL with the authorize URL (client_id,
// a random state, redirect_uri http://127.0.0.1:PORT/callback), waits for
// the browser's redirect, checks its state, exchanges the code for a token
// (client_id and client_secret in the POST body), and shows the browser a
// page saying it can be closed.
//
// A callback whose state does not match is answered 400 and ignored: its
// code is never exchanged, and Login keeps waiting. A callback carrying an
// error ends the login (ErrAccessDenied when the user declined). Login gives
// up after cfg.Timeout or when ctx is done; the redirect server is shut down
// before Login returns, whatever the outcome.
func Login(ctx context.Context, cfg Config) (*oauth2.Token, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("login needs a client id and a client secret")
	}
	if cfg.OpenURL == nil {
		return nil, errors.New("login needs Config.OpenURL to show the authorize url")
	}
	if cfg.AuthURL == "" {
		cfg.AuthURL = DefaultAuthURL
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURL
	}
	for _, u := range []string{cfg.AuthURL, cfg.TokenURL} {
		if err := CheckURL(u); err != nil {
			return nil, err
		}
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = DefaultListenAddr
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = tokenFieldTransport{tokenURL: cfg.TokenURL, base: base}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("start the redirect server: %w", err)
	}
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok || !addr.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("redirect server address %s is not a loopback address", ln.Addr())
	}
	redirectURL := "http://" + net.JoinHostPort(addr.IP.String(), strconv.Itoa(addr.Port)) + CallbackPath

	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	oc := &oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		RedirectURL:  redirectURL,
		Endpoint: oauth2.Endpoint{
			AuthURL:   cfg.AuthURL,
			TokenURL:  cfg.TokenURL,
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	cb := &callback{
		state:    rand.Text(),
		oauth:    oc,
		ctx:      context.WithValue(ctx, oauth2.HTTPClient, hc),
		results:  make(chan result, 1),
		tokenURL: cfg.TokenURL,
	}
	mux := http.NewServeMux()
	mux.Handle(CallbackPath, cb)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln) // returns http.ErrServerClosed after Shutdown or Close
	}()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx) // lets the last page finish
		_ = srv.Close()
		<-served
	}()

	if err := cfg.OpenURL(oc.AuthCodeURL(cb.state)); err != nil {
		return nil, fmt.Errorf("show the authorize url: %w", err)
	}

	select {
	case res := <-cb.results:
		return res.tok, res.err
	case <-ctx.Done():
		select { // a result that raced the deadline still counts
		case res := <-cb.results:
			return res.tok, res.err
		default:
		}
		if err := parent.Err(); err != nil {
			return nil, fmt.Errorf("login canceled: %w", context.Cause(parent))
		}
		return nil, fmt.Errorf("no answer from the browser within %v: %w", cfg.Timeout, context.DeadlineExceeded)
	}
}

// callback handles the browser's redirect back to the loopback server.
type callback struct {
	state    string
	oauth    *oauth2.Config
	ctx      context.Context // the login's, carrying the exchange's HTTP client
	claimed  atomic.Bool     // set by the one callback that ends the login
	results  chan result     // buffered 1; written only by the claimer
	tokenURL string
}

func (cb *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		page(w, http.StatusMethodNotAllowed, "Method not allowed", "The login redirect must be a GET or a POST.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		page(w, http.StatusBadRequest, "Bad request", "The login redirect could not be read.")
		return
	}
	state, code := r.Form.Get("state"), r.Form.Get("code")
	errCode, errDesc := r.Form.Get("error"), r.Form.Get("error_description")

	// A callback without our state did not come from this login: ignore it.
	// (An error callback may leave state out; it can only end the login, not
	// get a token exchanged.)
	stateOK := subtle.ConstantTimeCompare([]byte(state), []byte(cb.state)) == 1
	if !stateOK && !(errCode != "" && state == "") {
		page(w, http.StatusBadRequest, "Login not recognised",
			"This redirect does not belong to the login in progress (its state does not match), so it was ignored. "+
				"Start over from the link the terminal shows.")
		return
	}
	if !cb.claimed.CompareAndSwap(false, true) {
		page(w, http.StatusConflict, "Login already finished",
			"This login has already been completed or has failed. Check the terminal.")
		return
	}

	switch {
	case errCode == "access_denied":
		page(w, http.StatusForbidden, "Login cancelled",
			"Access was not granted, so intercom-actions is not logged in. You can close this tab.")
		cb.results <- result{err: ErrAccessDenied}
	case errCode != "":
		msg := "authorization failed: " + errCode
		if errDesc != "" {
			msg += ": " + errDesc
		}
		page(w, http.StatusBadRequest, "Login failed",
			"Intercom answered: "+msg+". You can close this tab.")
		cb.results <- result{err: errors.New(msg)}
	case code == "":
		page(w, http.StatusBadRequest, "Login failed",
			"The redirect carried no authorization code. You can close this tab.")
		cb.results <- result{err: errors.New("the redirect carried no authorization code")}
	default:
		tok, err := cb.oauth.Exchange(cb.ctx, code)
		if err != nil {
			page(w, http.StatusBadGateway, "Login failed",
				"The authorization code could not be exchanged for a token; the terminal shows why. You can close this tab.")
			if ctxErr := cb.ctx.Err(); ctxErr != nil {
				err = ctxErr
			}
			cb.results <- result{err: fmt.Errorf("exchange the authorization code at %s: %w", cb.tokenURL, err)}
			return
		}
		page(w, http.StatusOK, "Logged in",
			"intercom-actions is logged in to Intercom. You can close this tab and return to the terminal.")
		cb.results <- result{tok: tok}
	}
}

// page answers with a small HTML page. text is escaped.
func page(w http.ResponseWriter, status int, title, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!doctype html>
<html><head><meta charset="utf-8"><title>intercom-actions: %[1]s</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>%[1]s</h1>
<p>%[2]s</p>
</body></html>
`, html.EscapeString(title), html.EscapeString(text))
}

// tokenFieldTransport makes Intercom's token answer readable by oauth2:
// Intercom names the token "token" (and, in current answers, also
// "access_token"); when only "token" is there, it is copied to
// "access_token".
type tokenFieldTransport struct {
	tokenURL string
	base     http.RoundTripper
}

func (t tokenFieldTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, err
	}
	if tu, perr := url.Parse(t.tokenURL); perr != nil || tu.Host != req.URL.Host || tu.Path != req.URL.Path {
		return resp, nil
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/json" && ct != "" {
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read the token answer: %w", err)
	}
	var fields map[string]any
	if json.Unmarshal(body, &fields) == nil {
		if _, has := fields["access_token"]; !has {
			if tok, ok := fields["token"].(string); ok && tok != "" {
				fields["access_token"] = tok
				if b, err := json.Marshal(fields); err == nil {
					body = b
				}
			}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// CheckURL refuses an OAuth URL (the authorize page, the token exchange)
// that is not https, unless it is plain http to a loopback address (a
// local stand-in): the client secret, the authorization code and the
// token would cross the network unencrypted.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && IsLoopbackURL(raw):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%s: plain http would send the client secret, the code and the token unencrypted; use https (http is allowed only for a loopback address)", raw)
	}
	return fmt.Errorf("%s: not an https URL", raw)
}

// IsLoopbackURL says whether a URL's host is a loopback address
// (localhost, 127.0.0.0/8, ::1).
func IsLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
