package processor

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/auth"
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
	switch {
	case c.Concurrency < 0:
		return &OptionError{Option: "concurrency", Detail: fmt.Sprintf(" %d: must be at least 1", c.Concurrency)}
	case c.ContactWait < 0:
		return &OptionError{Option: "contact-wait", Detail: fmt.Sprintf(" %s: must not be negative", c.ContactWait)}
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
	if u.Scheme == "http" && !isLoopback(base) {
		return &OptionError{Option: "api-base", Detail: fmt.Sprintf(" %s: plain http would send the access token unencrypted; use https (http is allowed only for a loopback address, such as a local simulator)", base)}
	}
	return nil
}

// isLoopback says whether a URL's host is a loopback address.
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
		return &OptionError{Option: "intercom-version", Detail: fmt.Sprintf(" %q: want a version from 2.0 to %s (default %s)", v, lastVersion, rest.DefaultVersion)}
	}
	if minor, _ := strconv.Atoi(m[1]); minor > lastVersionMinor {
		return &OptionError{Option: "intercom-version", Detail: fmt.Sprintf(" %s is not supported: from 2.16 Intercom sends owner_id as a string and answers 410 for a merged contact's old id, "+
			"which this client does not handle yet; use 2.0 to %s (default %s)", v, lastVersion, rest.DefaultVersion)}
	}
	return nil
}

// client is the REST client of c, and the HTTP client it sends with.
func (c *Config) client() (*rest.Client, *http.Client, error) {
	base, err := c.BaseURL()
	if err != nil {
		return nil, nil, err
	}
	ts := c.TokenSource
	if ts == nil {
		if ts, err = tokenSource(base, c.TokenFile); err != nil {
			return nil, nil, err
		}
	}
	hc := c.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = max(64, c.Concurrency)
		hc = &http.Client{Timeout: rest.DefaultTimeout, Transport: t}
	}
	client, err := rest.New(rest.Config{BaseURL: base, TokenSource: ts, HTTPClient: hc, Logger: c.Logger, Version: c.IntercomVersion,
		OnUnreachable: c.OnUnreachable, MinBackoff: c.MinBackoff, MaxBackoff: c.MaxBackoff})
	return client, hc, err
}

// tokenSource finds the access token: INTERCOM_ACCESS_TOKEN, else the
// token file (tokenFile, or the one `auth login` saved); for a simulator on
// loopback, a placeholder when there is neither.
func tokenSource(base, tokenFile string) (oauth2.TokenSource, error) {
	ts, _, err := auth.TokenSource(tokenFile)
	if err != nil && isLoopback(base) {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "simulator", TokenType: "Bearer"}), nil
	}
	return ts, err
}
