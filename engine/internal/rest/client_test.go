package rest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

func TestRegionURL(t *testing.T) {
	for name, want := range map[string]string{
		"us": "https://api.intercom.io", "north_america": "https://api.intercom.io",
		"EU": "https://api.eu.intercom.io", "europe": "https://api.eu.intercom.io",
		"au": "https://api.au.intercom.io", "australia": "https://api.au.intercom.io",
	} {
		if got, err := RegionURL(name); err != nil || got != want {
			t.Errorf("RegionURL(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	_, err := RegionURL("mars")
	if err == nil || err.Error() != `unknown intercom region "mars" (expected one of us, north_america, eu, europe, au, australia)` {
		t.Errorf("err = %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"})
	for _, cfg := range []Config{
		{},
		{TokenSource: ts, BaseURL: "ftp://example.com"},
		{TokenSource: ts, BaseURL: "api.intercom.io"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	c, err := New(Config{TokenSource: ts})
	if err != nil || c.base.String() != "https://api.intercom.io" || c.version != DefaultVersion ||
		c.maxRetries != DefaultMaxRetries || c.minBackoff != DefaultMinBackoff || c.maxBackoff != DefaultMaxBackoff ||
		c.cache.size != DefaultCacheSize {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}

func TestHeadersAndMe(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s, func(cfg *Config) { cfg.Version = "2.14" })
	me, err := c.Me(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &intercom.Me{ID: "1", Name: "Simulator", Email: "sim@example.com", App: intercom.App{IDCode: "sim", Name: "Intercom Simulator", Region: "US"}}
	if !reflect.DeepEqual(me, want) {
		t.Errorf("Me = %+v, want %+v", me, want)
	}
	if _, err := c.CreateContact(context.Background(), user("u-1", "")); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	for _, r := range reqs {
		h := r.Header
		// The simulator checked the token (the calls succeeded) and logs it redacted.
		if h.Get("Authorization") != "Bearer [redacted]" || h.Get("Accept") != "application/json" || h.Get("Intercom-Version") != "2.14" {
			t.Errorf("%s %s: headers %v", r.Method, r.Path, h)
		}
		if wantCT := map[bool]string{true: "application/json", false: ""}[r.Body != nil]; h.Get("Content-Type") != wantCT {
			t.Errorf("%s %s: Content-Type %q, want %q", r.Method, r.Path, h.Get("Content-Type"), wantCT)
		}
	}
	if len(reqs) != 2 || reqs[0].Path != "/me" || reqs[0].Body != nil {
		t.Errorf("requests: %v", s.Transcript())
	}
}

func TestUnauthorizedNotRetried(t *testing.T) {
	s := newSim(t, simulator.Options{Token: "other"})
	c := newClient(t, s)
	var tally intercom.Tally
	err := c.SubmitEvent(intercom.WithTally(context.Background(), &tally), event("u-1"))
	var ae *intercom.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an *APIError", err)
	}
	want := intercom.APIError{Status: 401, Code: "unauthorized", Message: "Access Token Invalid", RequestID: "sim-000000000001"}
	if *ae != want {
		t.Errorf("APIError = %+v, want %+v", *ae, want)
	}
	if got := ae.Error(); got != "intercom: 401 unauthorized: Access Token Invalid (request sim-000000000001)" {
		t.Errorf("Error() = %q", got)
	}
	if Retryable(err) {
		t.Errorf("401 classified as retryable")
	}
	if st := c.Stats(); st.Calls != 1 || st.Retries != 0 || tally.Calls() != 1 {
		t.Errorf("stats %v, tally %d: want one call", st, tally.Calls())
	}
}

// TestBadRequestNotRetried: a 400 cannot succeed on a retry; the error
// carries Intercom's code and message for the dead-letter output.
func TestBadRequestNotRetried(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	ctx := context.Background()
	if _, err := c.CreateContact(ctx, user("u-1", "ann@example.com")); err != nil {
		t.Fatal(err)
	}
	s.ResetRequests()
	body := event("u-1")
	for i := 0; i < 11; i++ { // one more key than Intercom takes
		body.Metadata.Set(fmt.Sprintf("k%02d", i), fmt.Sprint(i))
	}
	err := c.SubmitEvent(ctx, body)
	var ae *intercom.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "parameter_invalid" || Retryable(err) {
		t.Fatalf("err = %v, want a 400 parameter_invalid that is not retried", err)
	}
	if got := len(s.Requests()); got != 1 {
		t.Errorf("%d requests, want 1 (no retry)", got)
	}
}

// TestUnknownAttributeIs400NotRetried: a custom attribute the workspace
// has not defined is refused with Intercom's 400 "Custom attribute 'x' does
// not exist" (the simulator answered 422 before it matched Intercom), which
// no retry can fix.
func TestUnknownAttributeIs400NotRetried(t *testing.T) {
	s := newSim(t, simulator.Options{DataAttributes: []string{"plan"}})
	c := newClient(t, s)
	body := user("u-1", "ann@example.com")
	body.CustomAttributes = intercom.Object{{Key: "plan", Raw: `"pro"`}, {Key: "shoe_size", Raw: "42"}}
	_, err := c.CreateContact(context.Background(), body)
	var ae *intercom.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "parameter_invalid" || ae.Message != "Custom attribute 'shoe_size' does not exist" || Retryable(err) {
		t.Fatalf("err = %v, want a 400 for shoe_size that is not retried", err)
	}
	wantTranscript(t, s,
		`POST /contacts {"custom_attributes":{"plan":"pro","shoe_size":42},"email":"ann@example.com","external_id":"u-1","name":"Ann","role":"user"} [400]`,
	)
}

// TestServerErrorsRetried: against 40% 5xx and 10% dropped connections,
// every call still succeeds, and the workspace ends as if none failed.
func TestServerErrorsRetried(t *testing.T) {
	s := newSim(t, simulator.Options{Seed: 7, Faults: simulator.Faults{ErrorRate: 0.4, DropRate: 0.1}})
	c := newClient(t, s)
	ctx := context.Background()
	co, err := c.UpsertCompany(ctx, intercom.CompanyBody{CompanyID: "co-1", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		ext := fmt.Sprintf("u-%d", i)
		ct, err := c.CreateContact(ctx, user(ext, ext+"@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SubmitEvent(ctx, event(ext)); err != nil {
			t.Fatal(err)
		}
		if err := c.AttachCompany(ctx, ct.ID, co.ID); err != nil {
			t.Fatal(err)
		}
	}
	st := c.Stats()
	if st.Retries == 0 {
		t.Errorf("no retries: %v", st)
	}
	s.SetFaults(simulator.Faults{})
	got := s.State()
	if len(got.Contacts) != 20 || len(got.Events) != 20 || len(got.Companies) != 1 || got.Companies[0].UserCount != 20 {
		t.Errorf("state: %d contacts, %d events, %+v", len(got.Contacts), len(got.Events), got.Companies)
	}
	statuses := map[int]int{}
	for _, r := range s.Requests() {
		statuses[r.Status]++
	}
	t.Logf("stats: %v; statuses %v", st, statuses)
	if statuses[500] == 0 || statuses[503] == 0 || statuses[0] == 0 {
		t.Errorf("faults not exercised: %v", statuses)
	}
}

func TestRetriesExhausted(t *testing.T) {
	s := newSim(t, simulator.Options{Faults: simulator.Faults{ErrorRate: 1}})
	c := newClient(t, s, func(cfg *Config) { cfg.MaxRetries = 3 })
	var tally intercom.Tally
	err := c.SubmitEvent(intercom.WithTally(context.Background(), &tally), event("u-1"))
	var ae *intercom.APIError
	if !errors.As(err, &ae) || (ae.Status != 500 && ae.Status != 503) || !Retryable(err) {
		t.Fatalf("err = %v", err)
	}
	if tally.Calls() != 4 || c.Stats().Retries != 3 {
		t.Errorf("calls %d, stats %v; want 4 calls", tally.Calls(), c.Stats())
	}
	// No retries at all.
	s.ResetRequests()
	c = newClient(t, s, func(cfg *Config) { cfg.MaxRetries = -1 })
	if _, err := c.Me(context.Background()); err == nil || len(s.Requests()) != 1 {
		t.Errorf("MaxRetries -1: err %v, %d requests", err, len(s.Requests()))
	}
}
