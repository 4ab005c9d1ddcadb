package rest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/pause"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// TestA429StormIsAnOutageOfAGatedClient: with a Pause, 429s are waited
// out past the 15 minutes a client without one gives them (scaled down
// here), and from then on Intercom counts as unreachable: the Gate says
// delivery is paused, until an answer comes and the call is sent. They
// used to be waited out forever with nothing said.
func TestA429StormIsAnOutageOfAGatedClient(t *testing.T) {
	s := newSim(t, simulator.Options{})
	gate := pause.New(pause.Config{})
	defer gate.Close()
	c := newClient(t, s, func(cfg *Config) { cfg.Pause = gate })
	if _, err := c.CreateContact(context.Background(), user("u1", "")); err != nil {
		t.Fatal(err)
	}
	s.SetOutage(simulator.Outage{Status: 429})
	c.rateLimitedMax = 20 * time.Millisecond
	errc := make(chan error, 1)
	go func() { errc <- c.SubmitEvent(context.Background(), event("u1")) }()
	waitUntil(t, "the pause", func() bool { return gate.Status().Paused() })
	want := "delivery paused: Intercom unreachable since "
	if r := gate.Status().Reason(); !strings.HasPrefix(r, want) || !strings.Contains(r, ": intercom: 429 server_error: Too Many Requests (request sim-") {
		t.Errorf("reason %q", r)
	}
	s.SetOutage(simulator.Outage{})
	if err := <-errc; err != nil {
		t.Fatalf("after the storm: %v", err)
	}
	if st := gate.Status(); st.Paused() {
		t.Errorf("still paused once Intercom answered: %s", st.Reason())
	}
}

// TestOutageLimitBounds429s: with the Gate's OutageLimit (send's
// --outage-wait), a storm of 429s ends the call with pause.ErrOutage once
// it has lasted that long, as other failures do; it used to go on for as
// long as the storm.
func TestOutageLimitBounds429s(t *testing.T) {
	s := newSim(t, simulator.Options{})
	s.SetOutage(simulator.Outage{Status: 429})
	gate := pause.New(pause.Config{OutageLimit: 50 * time.Millisecond})
	defer gate.Close()
	c := newClient(t, s, func(cfg *Config) { cfg.Pause = gate })
	err := c.SubmitEvent(context.Background(), event("u1"))
	if !errors.Is(err, pause.ErrOutage) || !strings.Contains(err.Error(), "(gave up after 50ms): intercom: 429 server_error: Too Many Requests (request sim-") {
		t.Fatalf("err = %v, want ErrOutage after 50ms of 429s", err)
	}
	if r := gate.Status().Reason(); !strings.HasPrefix(r, "delivery paused: Intercom unreachable since ") {
		t.Errorf("reason %q", r)
	}
}

// TestMeIsACheckOfTheToken: GET /me (the check at start, the pause's
// recheck, auth status) is never held by the Pause, and is retried at most
// twice: a refused token is an error at once, and an outage is the
// caller's to report.
func TestMeIsACheckOfTheToken(t *testing.T) {
	s := newSim(t, simulator.Options{})
	gate := pause.New(pause.Config{})
	defer gate.Close()
	c := newClient(t, s, func(cfg *Config) { cfg.Pause = gate })
	s.SetOutage(simulator.Outage{Status: 401})
	if _, err := c.Me(context.Background()); !errors.Is(err, intercom.ErrUnauthorized) {
		t.Errorf("a refused token: %v, want ErrUnauthorized", err)
	}
	s.SetOutage(simulator.Outage{Status: 502})
	if _, err := c.Me(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "intercom: 502 bad_gateway: Bad Gateway") {
		t.Errorf("an outage: %v, want the last 502", err)
	}
	wantTranscript(t, s, `GET /me [401]`, `GET /me [502]`, `GET /me [502]`, `GET /me [502]`)
	if st := gate.Status(); st.Paused() {
		t.Errorf("a check paused delivery: %s", st.Reason())
	}
}
