package processor

import (
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/auth"
	"github.com/intercom-actions/intercom-actions/engine/internal/pause"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
)

// Validate checks the options of c, each as its Option says, before
// anything is read or sent; a bad value is an *OptionError naming the
// option. The rules are checked when New compiles them.
func (c *Config) Validate() error {
	if c.APIBase == "" {
		if _, err := rest.RegionURL(c.regionOrDefault()); err != nil {
			return err
		}
	} else if err := checkAPIBase(c.APIBase); err != nil {
		return err
	}
	if c.IntercomVersion != "" {
		if err := checkVersion(c.IntercomVersion); err != nil {
			return err
		}
	}
	if c.CustomAttributes != "" {
		if _, err := action.ParseAttributeMode(c.CustomAttributes); err != nil {
			return &OptionError{Option: "custom-attributes", Detail: ": " + err.Error()}
		}
	}
	if err := checkArchived(c.ArchivedContacts); err != nil {
		return err
	}
	switch {
	case c.Concurrency < 0:
		return &OptionError{Option: "concurrency", Detail: fmt.Sprintf(" %d: must be at least 1", c.Concurrency)}
	case c.ContactWait < 0:
		return &OptionError{Option: "contact-wait", Detail: fmt.Sprintf(" %s: must not be negative", c.ContactWait)}
	case c.SearchWait < 0 || c.SearchWait > maxSearchWait:
		return &OptionError{Option: "search-wait", Detail: fmt.Sprintf(" %s: must be from 0 to %s", c.SearchWait, maxSearchWait)}
	case c.SkipUnchangedSize < 0:
		return &OptionError{Option: "skip-unchanged-size", Detail: fmt.Sprintf(" %d: must be at least 1", c.SkipUnchangedSize)}
	}
	return nil
}

func (c *Config) regionOrDefault() string {
	if c.Region == "" {
		return "us"
	}
	return c.Region
}

// BaseURL is APIBase, else the Region's URL.
func (c *Config) BaseURL() (string, error) {
	if c.APIBase != "" {
		return c.APIBase, checkAPIBase(c.APIBase)
	}
	return rest.RegionURL(c.regionOrDefault())
}

// checkAPIBase refuses an API base that is not an https URL, unless it is
// plain http to a loopback address (a local simulator): the bearer token
// would cross the network unencrypted.
func checkAPIBase(base string) error {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return &OptionError{Option: "api-base", Detail: fmt.Sprintf(" %q: want an https:// URL with a host", base)}
	}
	if u.Scheme == "http" && !auth.IsLoopbackURL(base) {
		return &OptionError{Option: "api-base", Detail: fmt.Sprintf(" %s: plain http would send the access token unencrypted; use https (http is allowed only for a loopback address, such as a local simulator)", base)}
	}
	return nil
}

// checkVersion accepts the Intercom API versions the client speaks: those
// whose requests and answers it is written and tested for (see
// intercom.Version).
func checkVersion(v string) error {
	if _, err := intercom.ParseVersion(v); err != nil {
		return &OptionError{Option: "intercom-version", Detail: " " + err.Error()}
	}
	return nil
}

// client is the REST client of c, the HTTP client it sends with, and the
// token it sends, which ReloadToken replaces (nil with c.TokenSource).
func (c *Config) client(gate *pause.Gate) (*rest.Client, *http.Client, *rest.SwappableToken, error) {
	base, err := c.BaseURL()
	if err != nil {
		return nil, nil, nil, err
	}
	var token *rest.SwappableToken
	ts := c.TokenSource
	if ts == nil {
		found, err := tokenSource(base, c.TokenFile)
		if err != nil {
			return nil, nil, nil, err
		}
		token = rest.NewSwappableToken(found)
		ts = token
	}
	hc := c.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = max(64, c.Concurrency)
		hc = &http.Client{Timeout: rest.DefaultTimeout, Transport: t}
	}
	client, err := rest.New(rest.Config{BaseURL: base, TokenSource: ts, HTTPClient: hc, Logger: c.Logger, Version: c.IntercomVersion,
		OnUnreachable: c.OnUnreachable, MinBackoff: c.MinBackoff, MaxBackoff: c.MaxBackoff, Pause: gate})
	return client, hc, token, err
}

// tokenSource finds the access token: INTERCOM_ACCESS_TOKEN, else the
// token file (tokenFile, or the one `auth login` saved); for a simulator on
// loopback, a placeholder when there is neither.
func tokenSource(base, tokenFile string) (oauth2.TokenSource, error) {
	ts, _, err := auth.TokenSource(tokenFile)
	if err != nil && auth.IsLoopbackURL(base) {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "simulator", TokenType: "Bearer"}), nil
	}
	return ts, err
}
