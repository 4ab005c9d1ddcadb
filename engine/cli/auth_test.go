package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/internal/auth"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// authEnv isolates a test from the user's token and config: an empty
// INTERCOM_ACCESS_TOKEN and a temporary config directory.
func authEnv(t *testing.T) (configDir string) {
	t.Helper()
	configDir = t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", configDir)
	t.Setenv("HOME", configDir)
	t.Setenv("AppData", configDir)
	t.Setenv(auth.EnvToken, "")
	t.Setenv(envClientID, "")
	t.Setenv(envClientSecret, "")
	return configDir
}

func TestAuthHelpListsSubcommands(t *testing.T) {
	for _, args := range [][]string{{"auth", "--help"}, {"auth", "-h"}, {"help", "auth"}} {
		code, out, errOut := runCLI(t, "", args...)
		if code != 0 || errOut != "" || out != strings.TrimLeft(authUsage, "\n") {
			t.Errorf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
		}
	}
	for _, sub := range []string{
		"  login    sign in through Intercom in a browser (OAuth 2.0) and store the token\n",
		"  status   show which token is in use, and the admin and workspace it belongs to\n",
		"  logout   delete the stored token\n",
	} {
		if !strings.Contains(authUsage, sub) {
			t.Errorf("auth usage lacks %q", sub)
		}
	}
	// The top-level usage lists the command.
	_, out, _ := runCLI(t, "", "--help")
	if !strings.Contains(out, "  auth       log in to Intercom (OAuth 2.0), show the token in use, log out\n") {
		t.Errorf("top-level usage does not list auth:\n%s", out)
	}
}

func TestAuthBadUsage(t *testing.T) {
	authEnv(t)
	code, out, errOut := runCLI(t, "", "auth")
	if code != 2 || out != "" || !strings.HasPrefix(errOut, "Usage: intercom-actions auth <login|status|logout>") {
		t.Errorf("auth: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "", "auth", "whoami")
	if code != 2 || !strings.HasPrefix(errOut, "auth: unknown subcommand \"whoami\"\n\nUsage:") {
		t.Errorf("auth whoami: exit %d\nstderr:\n%s", code, errOut)
	}
	code, _, errOut = runCLI(t, "", "auth", "status", "extra")
	if code != 2 || errOut != "auth status: unexpected arguments: extra\n" {
		t.Errorf("auth status extra: exit %d\nstderr:\n%s", code, errOut)
	}
	code, _, errOut = runCLI(t, "", "auth", "status", "--region", "mars")
	if code != 2 || !strings.HasPrefix(errOut, `auth status: unknown intercom region "mars"`) {
		t.Errorf("auth status --region mars: exit %d\nstderr:\n%s", code, errOut)
	}
}

func TestAuthSubcommandHelp(t *testing.T) {
	for sub, usage := range map[string]string{"login": authLoginUsage, "status": authStatusUsage, "logout": authLogoutUsage} {
		// (stderr is not checked: newFlags/parse print the usage there too,
		// for every command.)
		code, out, _ := runCLI(t, "", "auth", sub, "--help")
		if code != 0 || !strings.HasPrefix(out, strings.TrimLeft(usage, "\n")+"\nFlags:\n") {
			t.Errorf("auth %s --help: exit %d\nstdout:\n%s", sub, code, out)
		}
		if !strings.Contains(out, "-token-file") {
			t.Errorf("auth %s --help does not show --token-file:\n%s", sub, out)
		}
	}
}

func TestAuthStatusWithEnvToken(t *testing.T) {
	authEnv(t)
	const token = "tok-status-secret-1234"
	sim := simulator.NewServer(simulator.Options{Token: token})
	defer sim.Close()
	t.Setenv(auth.EnvToken, token)

	code, out, errOut := runCLI(t, "", "auth", "status", "--api-base", sim.URL())
	want := `token: INTERCOM_ACCESS_TOKEN (environment variable)
api: ` + sim.URL() + `
admin: Simulator <sim@example.com> (id 1)
workspace: Intercom Simulator (id sim, region US)
`
	if code != 0 || out != want || errOut != "" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", code, out, errOut, want)
	}
	if strings.Contains(out+errOut, token) {
		t.Errorf("output shows the token")
	}
	reqs := sim.Requests()
	if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/me" || reqs[0].Status != 200 {
		t.Errorf("simulator saw %+v, want one GET /me answered 200", reqs)
	}
}

// TestAuthStatusShowsTheRegion: auth status shows the workspace's region
// as GET /me gives it.
func TestAuthStatusShowsTheRegion(t *testing.T) {
	authEnv(t)
	sim := simulator.NewServer(simulator.Options{Region: "Europe"})
	defer sim.Close()
	t.Setenv(auth.EnvToken, "tok")
	code, out, _ := runCLI(t, "", "auth", "status", "--api-base", sim.URL())
	if want := "workspace: Intercom Simulator (id sim, region Europe)\n"; code != 0 || !strings.HasSuffix(out, want) {
		t.Errorf("exit %d, stdout:\n%s\nwant it to end with %s", code, out, want)
	}
}

func TestAuthStatusWrongToken(t *testing.T) {
	authEnv(t)
	sim := simulator.NewServer(simulator.Options{Token: "the-right-one"})
	defer sim.Close()
	t.Setenv(auth.EnvToken, "tok-wrong-5678")

	code, out, errOut := runCLI(t, "", "auth", "status", "--api-base", sim.URL())
	wantOut := "token: INTERCOM_ACCESS_TOKEN (environment variable)\napi: " + sim.URL() + "\n"
	wantErr := `auth status: token rejected: intercom: 401 unauthorized: Access Token Invalid (request sim-000000000001)
  the token in INTERCOM_ACCESS_TOKEN is wrong, was revoked (the app was uninstalled), or belongs to a workspace in another region (see --region)
`
	if code != 1 || out != wantOut || errOut != wantErr {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", code, out, errOut, wantErr)
	}
	if strings.Contains(out+errOut, "tok-wrong-5678") {
		t.Errorf("output shows the token")
	}
	if n := len(sim.Requests()); n != 1 {
		t.Errorf("%d requests; a 401 must not be retried", n)
	}
}

func TestAuthStatusWithStoredToken(t *testing.T) {
	authEnv(t)
	const token = "tok-stored-9999"
	sim := simulator.NewServer(simulator.Options{Token: token})
	defer sim.Close()
	path := filepath.Join(t.TempDir(), "token.json")
	if err := auth.Save(path, &oauth2.Token{AccessToken: token, TokenType: "Bearer"}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "auth", "status", "--token-file", path, "--api-base", sim.URL())
	want := "token: " + path + "\napi: " + sim.URL() + "\nadmin: Simulator <sim@example.com> (id 1)\nworkspace: Intercom Simulator (id sim, region US)\n"
	if code != 0 || out != want || errOut != "" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", code, out, errOut, want)
	}
}

func TestAuthStatusWithoutToken(t *testing.T) {
	conf := authEnv(t)
	code, out, errOut := runCLI(t, "", "auth", "status", "--api-base", "http://127.0.0.1:1")
	path := filepath.Join(conf, "intercom-actions", "token.json")
	want := "auth status: no intercom token: set INTERCOM_ACCESS_TOKEN to an access token, or run `intercom-actions auth login` (no token file at " + path + ")\n"
	if runtime.GOOS != "linux" {
		want = errOut // the default path differs
	}
	if code != 1 || out != "" || errOut != want {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", code, out, errOut, want)
	}
}

func TestAuthLoginNeedsClient(t *testing.T) {
	authEnv(t)
	code, out, errOut := runCLI(t, "", "auth", "login", "--client-id", "only-id")
	if code != 2 || out != "" ||
		!strings.HasPrefix(errOut, "auth login: no OAuth client: give --client-id and --client-secret, or set INTERCOM_CLIENT_ID and INTERCOM_CLIENT_SECRET.\n") ||
		!strings.Contains(errOut, "Developer Hub") ||
		!strings.Contains(errOut, "http://127.0.0.1:8780/callback") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// fakeIntercomOAuth plays Intercom's authorize page and token endpoint.
type fakeIntercomOAuth struct {
	*httptest.Server
	mu    sync.Mutex
	forms []url.Values
}

func newFakeIntercomOAuth(t *testing.T, token string) *fakeIntercomOAuth {
	f := &fakeIntercomOAuth{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		back := url.Values{"code": {"the-code"}, "state": {q.Get("state")}}
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+back.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /auth/eagle/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		f.mu.Lock()
		f.forms = append(f.forms, r.PostForm)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_type":"Bearer","token":%q,"access_token":%q}`, token, token)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func TestAuthLoginStatusLogout(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the default token path is checked as Linux's")
	}
	conf := authEnv(t)
	const token = "tok-login-4242"
	sim := simulator.NewServer(simulator.Options{Token: token})
	defer sim.Close()
	provider := newFakeIntercomOAuth(t, token)
	t.Setenv(envClientID, "cid")
	t.Setenv(envClientSecret, "csecret")

	// The "browser": GET the authorize URL, follow the redirect back.
	var page string
	prev := openBrowser
	openBrowser = func(_ context.Context, u string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Errorf("browser: %v", err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page = string(b)
	}
	defer func() { openBrowser = prev }()

	code, out, errOut := runCLI(t, "", "auth", "login", "--port", "0",
		"--auth-url", provider.URL+"/oauth", "--token-url", provider.URL+"/auth/eagle/token",
		"--api-base", sim.URL())
	path := filepath.Join(conf, "intercom-actions", "token.json")
	want := "logged in; token saved to " + path + " (0600)\n" +
		"admin: Simulator <sim@example.com> (id 1)\n" +
		"workspace: Intercom Simulator (id sim, region US)\n"
	if code != 0 || out != want {
		t.Fatalf("login: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", code, out, errOut, want)
	}
	if !strings.HasPrefix(errOut, "Open this URL in a browser to let intercom-actions use your Intercom workspace:\n\n  "+provider.URL+"/oauth?") ||
		!strings.Contains(errOut, "Waiting for Intercom to send the browser back to http://127.0.0.1:") {
		t.Errorf("login stderr:\n%s", errOut)
	}
	if strings.Contains(out+errOut+page, token) || strings.Contains(out+errOut, "csecret") {
		t.Errorf("login output shows the token or the client secret")
	}
	if !strings.Contains(page, "You can close this tab") {
		t.Errorf("browser page:\n%s", page)
	}
	provider.mu.Lock()
	forms := provider.forms
	provider.mu.Unlock()
	if len(forms) != 1 || forms[0].Get("code") != "the-code" || forms[0].Get("client_id") != "cid" ||
		forms[0].Get("client_secret") != "csecret" || !strings.HasPrefix(forms[0].Get("redirect_uri"), "http://127.0.0.1:") {
		t.Errorf("token requests: %v", forms)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v", err, fi.Mode())
	}
	if tok, err := auth.Load(path); err != nil || tok.AccessToken != token {
		t.Fatalf("stored token: %v, %v", tok, err)
	}

	// status uses the stored token.
	code, out, errOut = runCLI(t, "", "auth", "status", "--api-base", sim.URL())
	if code != 0 || !strings.HasPrefix(out, "token: "+path+"\n") || !strings.HasSuffix(out, "workspace: Intercom Simulator (id sim, region US)\n") {
		t.Errorf("status: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// logout removes it; a second logout says so.
	code, out, errOut = runCLI(t, "", "auth", "logout")
	if code != 0 || out != "logged out: removed "+path+"\n" || errOut != "" {
		t.Errorf("logout: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("token file still there after logout: %v", err)
	}
	code, out, _ = runCLI(t, "", "auth", "logout")
	if code != 0 || out != "not logged in: no token file at "+path+"\n" {
		t.Errorf("second logout: exit %d\nstdout:\n%s", code, out)
	}
	code, _, errOut = runCLI(t, "", "auth", "status", "--api-base", sim.URL())
	if code != 1 || !strings.Contains(errOut, "no intercom token") {
		t.Errorf("status after logout: exit %d\nstderr:\n%s", code, errOut)
	}
}

func TestAuthLogoutKeepsEnvNote(t *testing.T) {
	authEnv(t)
	path := filepath.Join(t.TempDir(), "token.json")
	if err := auth.Save(path, &oauth2.Token{AccessToken: "x"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv(auth.EnvToken, "env-token")
	code, out, errOut := runCLI(t, "", "auth", "logout", "--token-file", path)
	if code != 0 || out != "logged out: removed "+path+"\n" ||
		errOut != "note: INTERCOM_ACCESS_TOKEN is still set; commands keep using it until it is unset\n" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestAuthLoginRefusesPlainHTTPOffLoopback: --token-url and --auth-url
// must be https (the client secret, the code and the token go there),
// except plain http to a loopback address (a local stand-in, as the login
// test's). Nothing is started: no redirect listener, no browser.
func TestAuthLoginRefusesPlainHTTPOffLoopback(t *testing.T) {
	authEnv(t)
	t.Setenv(envClientID, "cid")
	t.Setenv(envClientSecret, "csecret")
	for _, c := range []struct{ flag, url, want string }{
		{"--token-url", "http://oauth.example.com/token", "auth login: --token-url http://oauth.example.com/token: plain http would send the client secret, the code and the token unencrypted; use https (http is allowed only for a loopback address)\n"},
		{"--token-url", "http://10.0.0.1:8080/token", "auth login: --token-url http://10.0.0.1:8080/token: plain http would send the client secret, the code and the token unencrypted; use https (http is allowed only for a loopback address)\n"},
		{"--auth-url", "http://app.example.com/oauth", "auth login: --auth-url http://app.example.com/oauth: plain http would send the client secret, the code and the token unencrypted; use https (http is allowed only for a loopback address)\n"},
		{"--token-url", "ftp://oauth.example.com/token", "auth login: --token-url ftp://oauth.example.com/token: not an https URL\n"},
	} {
		code, _, errOut := runCLI(t, "", "auth", "login", "--no-browser", "--port", "0", c.flag, c.url)
		if code != 2 || errOut != c.want {
			t.Errorf("%s %s: exit %d, stderr %q\nwant %q", c.flag, c.url, code, errOut, c.want)
		}
	}
	for _, u := range []string{"http://127.0.0.1:9/token", "http://localhost:9/token", "http://[::1]:9/token", "https://oauth.example.com/token"} {
		if err := auth.CheckURL(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}
