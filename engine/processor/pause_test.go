package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/internal/auth"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// workloadSource gives events as a batch does, and calls at(i) before
// giving the i-th (from 0): where a test starts a fault, under load.
type workloadSource struct {
	batchSource
	at func(i int)
}

func newWorkload(events []string, at func(int)) *workloadSource {
	s := &workloadSource{at: at}
	for _, e := range events {
		s.events = append(s.events, []byte(e))
	}
	return s
}

func (s *workloadSource) Next(ctx context.Context) (Event, error) {
	if s.at != nil && s.next < len(s.events) && ctx.Err() == nil {
		s.at(s.next)
	}
	return s.batchSource.Next(ctx)
}

// canonicalState is the simulator's state in a form equal across runs.
func canonicalState(t *testing.T, sim *simulator.Server) string {
	t.Helper()
	b, err := json.MarshalIndent(sim.State().Canonical(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cleanRun sends events to a fresh simulator with nothing going wrong and
// returns its final state: what a run that loses and repeats nothing ends
// with.
func cleanRun(t *testing.T, events []string) string {
	t.Helper()
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	p := newProcessor(t, Config{APIBase: sim.URL()})
	sum, err := p.Run(context.Background(), newWorkload(events, nil), Sink{})
	if err != nil || sum.DeadLettered > 0 {
		t.Fatalf("clean run: %v, %+v", err, sum)
	}
	return canonicalState(t, sim)
}

// waitUntil polls cond for up to 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: no %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// deliveredOnce checks a paused run's outcome: every event sent (or
// skipped), none dead-lettered, and Intercom's final state the clean run's,
// with no event sent twice.
func deliveredOnce(t *testing.T, sum Summary, err error, results []EventResult, events []string, sim *simulator.Server) {
	t.Helper()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if sum.DeadLettered != 0 || sum.Failed != 0 || sum.Sent+sum.Skipped != len(events) {
		t.Errorf("summary %+v: want all %d events sent, none dead-lettered", sum, len(events))
	}
	for _, r := range results {
		if r.Status == Failed {
			t.Errorf("event %s failed: %v", r.Ref, r.Errors)
		}
	}
	if n := sim.DuplicateEvents(); n != 0 {
		t.Errorf("%d data events sent twice", n)
	}
	if got, want := canonicalState(t, sim), cleanRun(t, events); got != want {
		t.Errorf("final state differs from a clean run's:\n got: %s\nwant: %s", got, want)
	}
}

// collect is a Sink that keeps every result.
func collect() (Sink, func() []EventResult) {
	var mu sync.Mutex
	var out []EventResult
	return Sink{OnResult: func(r EventResult) {
			mu.Lock()
			out = append(out, r)
			mu.Unlock()
		}}, func() []EventResult {
			mu.Lock()
			defer mu.Unlock()
			return out
		}
}

// TestRefusedTokenPausesDelivery: Intercom refuses the token in the middle
// of a run under load (the token was revoked); delivery pauses — nothing
// fails, nothing is dead-lettered, Health says why — and resumes once the
// token file holds a token Intercom takes (read again at the next check),
// ending in the state of a clean run, every event sent once.
func TestRefusedTokenPausesDelivery(t *testing.T) {
	t.Setenv(auth.EnvToken, "")
	events := simulator.Workload(40, 5)
	sim := simulator.NewServer(simulator.Options{Token: "first"})
	defer sim.Close()
	tokenFile := filepath.Join(t.TempDir(), "token.json")
	if err := auth.Save(tokenFile, &oauth2.Token{AccessToken: "first"}); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{APIBase: sim.URL(), TokenFile: tokenFile, TokenRecheck: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src := newWorkload(events, func(i int) {
		if i == len(events)/3 {
			sim.SetToken("second") // the first is revoked
		}
	})
	sink, results := collect()
	run := p.Start(context.Background(), src, sink)

	waitUntil(t, "pause for the refused token", func() bool { return p.Health().TokenRefused != nil })
	h := p.Health()
	if !strings.HasPrefix(h.Reason(), "delivery paused: token refused (since ") || !h.Paused() {
		t.Errorf("health reason %q", h.Reason())
	}
	time.Sleep(100 * time.Millisecond) // a few checks find it still refused
	if s := run.Summary(); s.DeadLettered != 0 || s.Failed != 0 {
		t.Errorf("while paused: %+v", s)
	}
	if err := auth.Save(tokenFile, &oauth2.Token{AccessToken: "second"}); err != nil {
		t.Fatal(err)
	}
	sum, err := run.Wait()
	deliveredOnce(t, sum, err, results(), events, sim)
	if h := p.Health(); h.Paused() {
		t.Errorf("still paused after the run: %s", h.Reason())
	}
}

// tokenFileProcessor is a Processor of sim reading its token from a
// file that holds token, checked again every hour unless told to.
func tokenFileProcessor(t *testing.T, sim *simulator.Server, token string) (*Processor, string) {
	t.Helper()
	t.Setenv(auth.EnvToken, "")
	tokenFile := filepath.Join(t.TempDir(), "token.json")
	if err := auth.Save(tokenFile, &oauth2.Token{AccessToken: token}); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{APIBase: sim.URL(), TokenFile: tokenFile, TokenRecheck: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, tokenFile
}

// TestReloadTokenResumesAtOnce: ReloadToken (serve's SIGHUP) reads the
// token again and checks it without waiting for the next check.
func TestReloadTokenResumesAtOnce(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Token: "second"})
	defer sim.Close()
	p, tokenFile := tokenFileProcessor(t, sim, "first")
	var err error
	events := simulator.Workload(3, 1)
	done := make(chan struct{})
	var results []Result
	go func() {
		defer close(done)
		bs := make([][]byte, len(events))
		for i, e := range events {
			bs[i] = []byte(e)
		}
		results, err = p.ProcessBatch(context.Background(), bs)
	}()
	waitUntil(t, "pause for the refused token", func() bool { return p.Health().TokenRefused != nil })
	if err := auth.Save(tokenFile, &oauth2.Token{AccessToken: "second"}); err != nil {
		t.Fatal(err)
	}
	p.ReloadToken()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Status != Sent {
			t.Errorf("event %d: %+v", i, r)
		}
	}
}

// TestReloadTokenWhileDeliveryRunsHurriesNoLaterCheck: a SIGHUP while
// the token works reads it again and checks nothing; it used to leave a
// check pending, so the next refusal was checked at once (GET /me with a
// token no one had fixed yet) rather than at TokenRecheck. A SIGHUP while
// paused has the pause's check read the token, once: one GET /me in all.
func TestReloadTokenWhileDeliveryRunsHurriesNoLaterCheck(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Token: "first"})
	defer sim.Close()
	p, tokenFile := tokenFileProcessor(t, sim, "first")
	p.ReloadToken() // delivery runs: nothing to check
	sim.SetToken("second")
	done := make(chan error, 1)
	go func() {
		_, err := p.Process(context.Background(), []byte(`{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"}}`))
		done <- err
	}()
	waitUntil(t, "pause for the refused token", func() bool { return p.Health().TokenRefused != nil })
	if err := auth.Save(tokenFile, &oauth2.Token{AccessToken: "second"}); err != nil {
		t.Fatal(err)
	}
	p.ReloadToken()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var me []string
	for _, r := range sim.Requests() {
		if r.Path == "/me" {
			me = append(me, fmt.Sprintf("%s %s [%d]", r.Method, r.Path, r.Status))
		}
	}
	if len(me) != 1 || me[0] != "GET /me [200]" {
		t.Errorf("checks of the token: %v, want one GET /me [200]", me)
	}
}

// TestOutagePausesDelivery: a storm of 5xx (or Intercom not answering at
// all) longer than the retries, under load, pauses delivery — "Intercom
// unreachable since …" in Health, nothing dead-lettered — and the run
// ends, once Intercom answers again, in the state of a clean run.
func TestOutagePausesDelivery(t *testing.T) {
	for _, o := range []simulator.Outage{{Status: 500}, {Status: 502}, {Status: 503}, {Drop: true}} {
		name := "drop"
		if o.Status != 0 {
			name = strconv.Itoa(o.Status)
		}
		t.Run(name, func(t *testing.T) {
			events := simulator.Workload(40, 5)
			sim := simulator.NewServer(simulator.Options{})
			defer sim.Close()
			p := newProcessor(t, Config{APIBase: sim.URL(), MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
			src := newWorkload(events, func(i int) {
				if i == len(events)/3 {
					sim.SetOutage(o)
				}
			})
			sink, results := collect()
			run := p.Start(context.Background(), src, sink)
			waitUntil(t, "pause for the outage", func() bool { return !p.Health().UnreachableSince.IsZero() })
			if r := p.Health().Reason(); !strings.HasPrefix(r, "delivery paused: Intercom unreachable since ") {
				t.Errorf("health reason %q", r)
			}
			time.Sleep(200 * time.Millisecond) // the storm goes on past many retries
			if s := run.Summary(); s.DeadLettered != 0 || s.Failed != 0 {
				t.Errorf("during the outage: %+v", s)
			}
			sim.SetOutage(simulator.Outage{})
			sum, err := run.Wait()
			deliveredOnce(t, sum, err, results(), events, sim)
			if h := p.Health(); h.Paused() {
				t.Errorf("still paused after the run: %s", h.Reason())
			}
		})
	}
}

// TestOutageWaitStopsTheRun: with OutageWait (send's bound), a run gives
// up once Intercom has been unreachable that long: it stops with
// ErrOutage, dead-letters nothing, and leaves what it did not send to its
// source. A storm of 429s is bounded so too (it used to be waited out for
// as long as it lasted).
func TestOutageWaitStopsTheRun(t *testing.T) {
	for _, status := range []int{503, 429} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			sim := simulator.NewServer(simulator.Options{})
			defer sim.Close()
			sim.SetOutage(simulator.Outage{Status: status})
			p := newProcessor(t, Config{APIBase: sim.URL(), MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
				OutageWait: 100 * time.Millisecond})
			events := simulator.Workload(10, 2)
			sum, err := p.Run(context.Background(), newWorkload(events, nil), Sink{}) // a batch's events go back to it
			if !errors.Is(err, ErrOutage) || !strings.Contains(err.Error(), "gave up after 100ms") {
				t.Fatalf("run error %v, want ErrOutage", err)
			}
			if sum.DeadLettered != 0 || sum.Events != 0 || sum.Unsettled != sum.Read {
				t.Errorf("summary %+v: want everything read left unsettled, nothing dead-lettered", sum)
			}
		})
	}
}

// TestDamagedAnswersAreOutcomeUnknown: a 2xx answer to a request Intercom
// applied that arrives cut off, or one that is not JSON (a proxy's page),
// is neither counted as sent nor a plain failure, nor sent again: it is
// dead-lettered as outcome unknown.
func TestDamagedAnswersAreOutcomeUnknown(t *testing.T) {
	identify := `{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"}}`
	track := `{"type":"track","userId":"u1","event":"Signed Up","timestamp":"2024-03-01T12:00:00Z"}`
	for _, c := range []struct {
		name  string
		m     simulator.Mangle
		event string
		want  string
	}{
		{"a track's 202 cut off", simulator.Mangle{Method: "POST", Path: "/events", Truncate: 1}, track,
			`rule "Track Event": track_event: submit event: intercom: POST /events: outcome unknown: the 202 answer was cut off after 1 bytes (read answer: unexpected EOF); Intercom may have applied the request: check before sending it again`},
		{"a track's answer not JSON", simulator.Mangle{Method: "POST", Path: "/events", NotJSON: 1}, track,
			`rule "Track Event": track_event: submit event: intercom: POST /events: outcome unknown: the 200 answer is not JSON (Content-Type "text/html; charset=utf-8", 46 bytes), so it may not come from Intercom; Intercom may have applied the request: check before sending it again`},
		{"a new contact's answer cut off", simulator.Mangle{Method: "POST", Path: "/contacts", Truncate: 1}, identify,
			`rule "Identify Contact": identify_contact: `},
	} {
		t.Run(c.name, func(t *testing.T) {
			sim := simulator.NewServer(simulator.Options{})
			defer sim.Close()
			p := newProcessor(t, Config{APIBase: sim.URL(), MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
			if c.event == track {
				if r, err := p.Process(context.Background(), []byte(identify)); err != nil || r.Status != Sent {
					t.Fatalf("identify: %+v %v", r, err)
				}
			}
			sim.ResetRequests()
			sim.SetMangle(c.m)
			var dls []DeadLetter
			sink, results := collect()
			sink.DeadLetters = delivery.DeadLetterFunc(func(dl DeadLetter) error { dls = append(dls, dl); return nil })
			sum, err := p.Run(context.Background(), newWorkload([]string{c.event}, nil), sink)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Sent != 0 || sum.Unknown != 1 || len(dls) != 1 || dls[0].Outcome != OutcomeUnknown {
				t.Fatalf("summary %+v, dead letters %+v: want one, outcome unknown", sum, dls)
			}
			r := results()[0]
			if r.Status != Failed || !errors.Is(r.Err, ErrOutcomeUnknown) {
				t.Errorf("result %+v (%v), want failed with outcome unknown", r, r.Err)
			}
			var mutating int
			for _, req := range sim.Requests() {
				if req.Method == c.m.Method && req.Path == c.m.Path {
					mutating++
				}
			}
			if mutating != 1 {
				t.Errorf("%d requests %s %s, want 1 (not sent again)", mutating, c.m.Method, c.m.Path)
			}
			if got := r.Err.Error(); !strings.HasPrefix(got, c.want) || !strings.Contains(got, "outcome unknown: the 200 answer was cut off after") && c.event == identify ||
				got != c.want && c.event == track || !strings.HasSuffix(got, "Intercom may have applied the request: check before sending it again") {
				t.Errorf("error:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

// toSimulator carries every request to the simulator, whatever its host:
// Intercom's region hosts, on loopback.
type toSimulator struct{ sim *simulator.Server }

func (s toSimulator) RoundTrip(r *http.Request) (*http.Response, error) {
	u, _ := url.Parse(s.sim.URL())
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = u.Scheme, u.Host
	return http.DefaultTransport.RoundTrip(r)
}

// TestCheckTokenComparesTheRegion: the check at start (GET /me) refuses a
// workspace in another region than the API host, with the fix, and takes
// one in the same region.
func TestCheckTokenComparesTheRegion(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Region: "Europe"})
	defer sim.Close()
	hc := &http.Client{Transport: toSimulator{sim}}
	p := newProcessor(t, Config{Region: "us", HTTPClient: hc})
	_, err := p.CheckToken(context.Background())
	var re *RegionError
	const want = `the token's workspace "Intercom Simulator" (id sim) is in Intercom's Europe region, but requests go to https://api.intercom.io (region us): use --region eu (API https://api.eu.intercom.io)`
	if !errors.As(err, &re) || err.Error() != want {
		t.Errorf("us: %v\nwant %s", err, want)
	}
	p = newProcessor(t, Config{Region: "eu", HTTPClient: hc})
	if me, err := p.CheckToken(context.Background()); err != nil || me.App.Region != "Europe" || me.Name != "Simulator" {
		t.Errorf("eu: %+v, %v", me, err)
	}
}
