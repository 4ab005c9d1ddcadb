package rest

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

const testToken = "tok"

// newSim starts a simulator that wants testToken.
func newSim(t *testing.T, opts simulator.Options) *simulator.Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	s := simulator.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// newClient returns a client of s (nil: mods must set BaseURL) with fast
// backoff; mods adjust the config.
func newClient(t *testing.T, s *simulator.Server, mods ...func(*Config)) *Client {
	t.Helper()
	base := ""
	if s != nil {
		base = s.URL()
	}
	cfg := Config{
		BaseURL:     base,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken}),
		MinBackoff:  time.Millisecond,
		MaxBackoff:  5 * time.Millisecond,
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// contactID and companyID are the simulator's n-th ids.
func contactID(n int) string { return fmt.Sprintf("65c%021x", n) }
func companyID(n int) string { return fmt.Sprintf("65d%021x", n) }

// wantTranscript checks the requests since the last reset, then resets
// them (see simulator.Server.ExpectTranscript).
func wantTranscript(t *testing.T, s *simulator.Server, want ...string) {
	t.Helper()
	if err := s.ExpectTranscript(want...); err != nil {
		t.Error(err)
	}
}

// user is a contact body for a user.
func user(ext, email string) intercom.ContactBody {
	return intercom.ContactBody{Role: "user", ExternalID: ext, Email: email, Name: "Ann"}
}

// event is an event body for a user.
func event(userID string) intercom.EventBody {
	return intercom.EventBody{EventName: "order-completed", CreatedAt: 1700000100, UserID: userID}
}
