package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/auth"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

func init() {
	register(&command{name: "auth", summary: "log in to Intercom (OAuth 2.0), show the token in use, log out", run: runAuth})
}

// loginPort is the default port of the login redirect URL; it must match
// the redirect URL registered for the Intercom app.
const loginPort = 8780

// Environment variables of auth login.
const (
	envClientID     = "INTERCOM_CLIENT_ID"
	envClientSecret = "INTERCOM_CLIENT_SECRET"
)

const tokenFileHelp = "token file (default: intercom-actions/token.json in the user config directory, e.g. ~/.config)"

const authUsage = `
Usage: intercom-actions auth <login|status|logout> [flags]

Manages the Intercom access token that commands calling Intercom use.

Subcommands:
  login    sign in through Intercom in a browser (OAuth 2.0) and store the token
  status   show which token is in use, and the admin and workspace it belongs to
  logout   delete the stored token

Commands that call Intercom use INTERCOM_ACCESS_TOKEN when it is set (for
your own workspace the simplest way: your app's access token from Intercom's
Developer Hub), else the token stored by 'auth login' in the token file
(default: intercom-actions/token.json in the user config directory, e.g.
~/.config/intercom-actions/token.json), which only its owner can read
(0600). Tokens are never printed.

Exit status: 0 on success, 1 when the subcommand fails, 2 on bad usage.

Examples:
  INTERCOM_CLIENT_ID=... INTERCOM_CLIENT_SECRET=... intercom-actions auth login
  intercom-actions auth status --region eu
  intercom-actions auth logout

Run 'intercom-actions auth <subcommand> --help' for its flags.
`

const authLoginUsage = `
Usage: intercom-actions auth login [--client-id ID] [--client-secret S] [--port N] [--token-file PATH]

Signs in to Intercom with OAuth 2.0 (authorization code, loopback
redirect): prints a URL to open in a browser (and tries to open one), waits
for Intercom to send the browser back to http://127.0.0.1:PORT/callback,
exchanges the code for an access token, saves it to the token file (mode
0600), and shows the admin and workspace it belongs to (GET /me). Intercom
tokens do not expire; they stop working when the app is uninstalled.

It needs an Intercom app that uses OAuth. In Intercom's Developer Hub, open
your app (or create one):
  - Configure > Basic Information shows the client id and client secret:
    give them with --client-id and --client-secret, or in INTERCOM_CLIENT_ID
    and INTERCOM_CLIENT_SECRET (which keep the secret out of the process list);
  - Configure > Authentication: tick "Use OAuth" and add the redirect URL
    http://127.0.0.1:8780/callback.
Intercom sends the browser back to a registered redirect URL, so the port
must be the registered one: register another port and pass it with --port
if 8780 is taken; --port 0 picks any free port, for apps that accept that.
Intercom's documentation asks for HTTPS redirect URLs: if the Developer Hub
refuses this one, set INTERCOM_ACCESS_TOKEN to your app's access token
instead (for your own workspace no OAuth is needed).

On a remote machine, forward the port first (ssh -L 8780:127.0.0.1:8780
HOST) and open the URL in your local browser (--no-browser).

Exit status: 0 when logged in, 1 when the login or GET /me fails, 2 on bad
usage (including a missing client id or secret).

Examples:
  INTERCOM_CLIENT_ID=... INTERCOM_CLIENT_SECRET=... intercom-actions auth login
  intercom-actions auth login --client-id ... --port 9000 --region eu
  intercom-actions auth login --no-browser --token-file ./token.json
`

const authStatusUsage = `
Usage: intercom-actions auth status [--token-file PATH] [--region us|eu|au] [--api-base URL]

Shows where the token comes from (INTERCOM_ACCESS_TOKEN or the token file;
never the token itself), then asks Intercom whose it is (GET /me) and prints
the admin and the workspace:
  token: INTERCOM_ACCESS_TOKEN (environment variable)
  api: https://api.intercom.io
  admin: Ada Lovelace <ada@example.com> (id 123)
  workspace: Example Inc (id abc123de, region US)

Exit status: 0 when Intercom accepts the token, 1 when there is no token or
Intercom rejects it (401: a wrong or revoked token, or another region's), 2
on bad usage.

Examples:
  intercom-actions auth status
  intercom-actions auth status --region eu
  intercom-actions auth status --api-base http://127.0.0.1:8089
`

const authLogoutUsage = `
Usage: intercom-actions auth logout [--token-file PATH]

Deletes the token file written by 'auth login'. This does not revoke the
token at Intercom (uninstalling the app from the workspace does), and it
leaves INTERCOM_ACCESS_TOKEN alone.

Exit status: 0 when no stored token remains, 1 when the file cannot be
removed, 2 on bad usage.

Examples:
  intercom-actions auth logout
  intercom-actions auth logout --token-file ./token.json
`

// openBrowser tries to open url in a browser, quietly; tests replace it.
var openBrowser = startBrowser

func runAuth(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, strings.TrimLeft(authUsage, "\n"))
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, strings.TrimLeft(authUsage, "\n"))
		return 0
	case "login":
		return runAuthLogin(args[1:], stdin, stdout, stderr)
	case "status":
		return runAuthStatus(args[1:], stdin, stdout, stderr)
	case "logout":
		return runAuthLogout(args[1:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "auth: unknown subcommand %q\n\n", args[0])
	fmt.Fprint(stderr, strings.TrimLeft(authUsage, "\n"))
	return 2
}

func runAuthLogin(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("auth login", authLoginUsage, stderr, stdout)
	clientID := fs.String("client-id", "", "client id of your Intercom app (default $"+envClientID+")")
	clientSecret := fs.String("client-secret", "", "client secret of your Intercom app (default $"+envClientSecret+", which keeps it out of ps)")
	port := fs.Int("port", loginPort, "port of the redirect URL http://127.0.0.1:PORT/callback (0: any free port)")
	tokenFile := fs.String("token-file", "", tokenFileHelp)
	noBrowser := fs.Bool("no-browser", false, "only print the URL; do not try to open a browser")
	timeout := fs.Duration("timeout", auth.DefaultTimeout, "how long to wait for the browser")
	authURL := fs.String("auth-url", auth.DefaultAuthURL, "OAuth authorize URL")
	tokenURL := fs.String("token-url", auth.DefaultTokenURL, "OAuth token URL")
	var cfg processor.Config
	addOptions(fs, &cfg, "region", "api-base")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "auth login: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	if *clientID == "" {
		*clientID = os.Getenv(envClientID)
	}
	if *clientSecret == "" {
		*clientSecret = os.Getenv(envClientSecret)
	}
	if *clientID == "" || *clientSecret == "" {
		fmt.Fprintf(stderr, `auth login: no OAuth client: give --client-id and --client-secret, or set %s and %s.
They belong to an app in Intercom's Developer Hub: Configure > Basic Information shows
them; under Configure > Authentication tick "Use OAuth" and add the redirect URL
http://127.0.0.1:%d/callback (the port must match --port, %d by default).
For your own workspace you need no OAuth: set INTERCOM_ACCESS_TOKEN to the app's access token.
`, envClientID, envClientSecret, *port, loginPort)
		return 2
	}
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(stderr, "auth login: --port %d is not a port number\n", *port)
		return 2
	}
	for _, f := range []struct{ flag, url string }{{"auth-url", *authURL}, {"token-url", *tokenURL}} {
		if err := auth.CheckURL(f.url); err != nil {
			fmt.Fprintf(stderr, "auth login: --%s %v\n", f.flag, err)
			return 2
		}
	}
	base, err := cfg.BaseURL()
	if err != nil {
		return optionError("auth login", stderr, err)
	}
	path, err := tokenPath(*tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "auth login: %v\n", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	tok, err := auth.Login(ctx, auth.Config{
		ClientID:     *clientID,
		ClientSecret: *clientSecret,
		AuthURL:      *authURL,
		TokenURL:     *tokenURL,
		ListenAddr:   "127.0.0.1:" + strconv.Itoa(*port),
		Timeout:      *timeout,
		OpenURL: func(u string) error {
			redirect := "the redirect URL"
			if p, err := url.Parse(u); err == nil {
				redirect = p.Query().Get("redirect_uri")
			}
			fmt.Fprintf(stderr, "Open this URL in a browser to let intercom-actions use your Intercom workspace:\n\n  %s\n\n", u)
			fmt.Fprintf(stderr, "Waiting for Intercom to send the browser back to %s (Ctrl-C to cancel; giving up after %v)...\n", redirect, *timeout)
			if !*noBrowser {
				openBrowser(ctx, u)
			}
			return nil
		},
	})
	if errors.Is(err, auth.ErrAccessDenied) {
		fmt.Fprintln(stderr, "auth login: access was not granted in the browser; not logged in")
		return 1
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		fmt.Fprintf(stderr, "auth login: %v\n  another program uses port %d: register another redirect URL port for the app and pass it with --port\n", err, *port)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "auth login: %v\n", err)
		return 1
	}
	if err := auth.Save(path, tok); err != nil {
		fmt.Fprintf(stderr, "auth login: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "logged in; token saved to %s (0600)\n", path)
	if os.Getenv(auth.EnvToken) != "" {
		fmt.Fprintf(stderr, "note: %s is set, and commands use it instead of the stored token until it is unset\n", auth.EnvToken)
	}
	me, err := getMe(base, oauth2.StaticTokenSource(tok))
	if err != nil {
		fmt.Fprintf(stderr, "auth login: the token was saved, but %s\n", meFailure(err, "the new token"))
		return 1
	}
	printMe(stdout, me)
	return 0
}

func runAuthStatus(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("auth status", authStatusUsage, stderr, stdout)
	tokenFile := fs.String("token-file", "", tokenFileHelp)
	var cfg processor.Config
	addOptions(fs, &cfg, "region", "api-base")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "auth status: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	base, err := cfg.BaseURL()
	if err != nil {
		return optionError("auth status", stderr, err)
	}
	ts, source, err := auth.TokenSource(*tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "auth status: %v\n", err)
		return 1
	}
	if source == auth.EnvToken {
		fmt.Fprintf(stdout, "token: %s (environment variable)\n", source)
	} else {
		fmt.Fprintf(stdout, "token: %s\n", source)
	}
	fmt.Fprintf(stdout, "api: %s\n", base)
	me, err := getMe(base, ts)
	if err != nil {
		what := "the token in " + source
		if source == auth.EnvToken {
			what = "the token in " + auth.EnvToken
		}
		fmt.Fprintf(stderr, "auth status: %s\n", meFailure(err, what))
		return 1
	}
	printMe(stdout, me)
	return 0
}

func runAuthLogout(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("auth logout", authLogoutUsage, stderr, stdout)
	tokenFile := fs.String("token-file", "", tokenFileHelp)
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "auth logout: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	path, err := tokenPath(*tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "auth logout: %v\n", err)
		return 1
	}
	code := 0
	switch err := auth.Remove(path); {
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(stdout, "not logged in: no token file at %s\n", path)
	case err != nil:
		fmt.Fprintf(stderr, "auth logout: %v\n", err)
		code = 1
	default:
		fmt.Fprintf(stdout, "logged out: removed %s\n", path)
	}
	if os.Getenv(auth.EnvToken) != "" {
		fmt.Fprintf(stderr, "note: %s is still set; commands keep using it until it is unset\n", auth.EnvToken)
	}
	return code
}

// tokenPath returns the token file: flag, else the default.
func tokenPath(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	return auth.DefaultPath()
}

// getMe asks Intercom whose token ts gives (GET /me).
func getMe(base string, ts oauth2.TokenSource) (*intercom.Me, error) {
	c, err := rest.New(rest.Config{BaseURL: base, TokenSource: ts, MaxRetries: 2})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return c.Me(ctx)
}

// meFailure explains a failed GET /me; what names the token ("the token in
// INTERCOM_ACCESS_TOKEN").
func meFailure(err error, what string) string {
	var ae *intercom.APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusUnauthorized:
			return fmt.Sprintf("token rejected: %v\n  %s is wrong, was revoked (the app was uninstalled), "+
				"or belongs to a workspace in another region (see --region)", err, what)
		case http.StatusForbidden:
			return fmt.Sprintf("token lacks a permission: %v", err)
		}
	}
	return fmt.Sprintf("GET /me failed: %v", err)
}

func printMe(w io.Writer, me *intercom.Me) {
	fmt.Fprintf(w, "admin: %s <%s> (id %s)\n", me.Name, me.Email, me.ID)
	region := ""
	if me.App.Region != "" {
		region = ", region " + me.App.Region
	}
	fmt.Fprintf(w, "workspace: %s (id %s%s)\n", me.App.Name, me.App.IDCode, region)
}

// startBrowser tries to open url in the desktop's browser without waiting
// for it and without any output; failure is fine, as the URL is printed.
func startBrowser(ctx context.Context, u string) {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.CommandContext(ctx, "open", u)
	case "windows":
		cmd = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.CommandContext(ctx, "xdg-open", u)
	}
	if cmd.Start() == nil {
		go cmd.Wait() // reaps the opener; ctx kills it if it outlives the login
	}
}
