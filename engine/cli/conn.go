package cli

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/internal/auth"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
)

// connFlags are the flags of commands that talk to Intercom.
type connFlags struct {
	region    *string
	apiBase   *string
	tokenFile string
	version   string
	logger    *slog.Logger // the client's debug log (retries, waits, cache misses), if any
	// onUnreachable, if set, hears at once when Intercom cannot be reached
	// (see rest.Config.OnUnreachable).
	onUnreachable func(error)
}

func addConnFlags(fs *flag.FlagSet) *connFlags {
	return &connFlags{
		region:  fs.String("region", "us", "Intercom region: us, eu or au"),
		apiBase: fs.String("api-base", "", "API base URL, e.g. a simulator's http://127.0.0.1:8089 (overrides --region)"),
	}
}

// addTokenFileFlag adds --token-file, for commands that build a client.
func (c *connFlags) addTokenFileFlag(fs *flag.FlagSet) {
	fs.StringVar(&c.tokenFile, "token-file", "", tokenFileHelp)
}

// addVersionFlag adds --intercom-version, for commands that build a client.
func (c *connFlags) addVersionFlag(fs *flag.FlagSet) {
	fs.StringVar(&c.version, "intercom-version", rest.DefaultVersion,
		"Intercom-Version header: the API version, 2.0 to "+lastVersion+" (the default is the one the request bodies are written and tested for)")
}

// lastVersion is the newest Intercom-Version this client may send: 2.16
// sends owner_id as a string and answers 410 contact_merged for the old id
// of a merged contact, neither of which the call sequences handle yet.
const (
	lastVersion      = "2.15"
	lastVersionMinor = 15
)

var versionRE = regexp.MustCompile(`^2\.([0-9]|[1-9][0-9])$`)

// checkVersion accepts the Intercom API versions the client can speak.
func checkVersion(v string) error {
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return fmt.Errorf("--intercom-version %q: want a version from 2.0 to %s (default %s)", v, lastVersion, rest.DefaultVersion)
	}
	if minor, _ := strconv.Atoi(m[1]); minor > lastVersionMinor {
		return fmt.Errorf("--intercom-version %s is not supported: from 2.16 Intercom sends owner_id as a string and answers 410 for a merged contact's old id, "+
			"which this client does not handle yet; use 2.0 to %s (default %s)", v, lastVersion, rest.DefaultVersion)
	}
	return nil
}

// baseURL is --api-base, else the region's URL. A plain http:// base is
// refused unless its host is a loopback address (a local simulator): the
// bearer token would cross the network unencrypted.
func (c *connFlags) baseURL() (string, error) {
	if *c.apiBase == "" {
		return rest.RegionURL(*c.region)
	}
	u, err := url.Parse(*c.apiBase)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("--api-base %q: want an https:// URL with a host", *c.apiBase)
	}
	if u.Scheme == "http" && !isLoopback(*c.apiBase) {
		return "", fmt.Errorf("--api-base %s: plain http would send the access token unencrypted; use https (http is allowed only for a loopback address, such as a local simulator)", *c.apiBase)
	}
	return *c.apiBase, nil
}

// client builds an Intercom client with the token from the environment or
// the stored login.
func (c *connFlags) client() (*rest.Client, error) {
	if c.version != "" {
		if err := checkVersion(c.version); err != nil {
			return nil, err
		}
	}
	base, err := c.baseURL()
	if err != nil {
		return nil, err
	}
	ts, err := tokenSource(base, c.tokenFile)
	if err != nil {
		return nil, err
	}
	return rest.New(rest.Config{BaseURL: base, TokenSource: ts, Logger: c.logger, Version: c.version, OnUnreachable: c.onUnreachable})
}

// tokenSource finds the access token: INTERCOM_ACCESS_TOKEN, else the
// token saved by `auth login`; for a simulator on loopback, a placeholder
// when there is neither.
func tokenSource(base, tokenFile string) (oauth2.TokenSource, error) {
	ts, _, err := auth.TokenSource(tokenFile)
	if err != nil && isLoopback(base) {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "simulator", TokenType: "Bearer"}), nil
	}
	return ts, err
}

func isLoopback(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
