package main

import (
	"flag"
	"log/slog"
	"net"
	"net/url"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/intercom/auth"
	"github.com/intercom-actions/intercom-actions/engine/intercom/rest"
)

// connFlags are the flags of commands that talk to Intercom.
type connFlags struct {
	region    *string
	apiBase   *string
	tokenFile string
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

func (c *connFlags) baseURL() (string, error) {
	if *c.apiBase != "" {
		return *c.apiBase, nil
	}
	return rest.RegionURL(*c.region)
}

// client builds an Intercom client with the token from the environment or
// the stored login.
func (c *connFlags) client() (*rest.Client, error) {
	base, err := c.baseURL()
	if err != nil {
		return nil, err
	}
	ts, err := tokenSource(base, c.tokenFile)
	if err != nil {
		return nil, err
	}
	return rest.New(rest.Config{BaseURL: base, TokenSource: ts, Logger: c.logger, OnUnreachable: c.onUnreachable})
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
