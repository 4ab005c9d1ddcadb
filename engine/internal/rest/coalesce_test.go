package rest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// TestConcurrentUpsertsOfOneCompanyCoalesce: while one upsert of a company
// is in flight (its answer held until the others have come), nine more of
// it come, each with its own plan and custom attribute. They are merged
// into one second upsert: two calls in all, every caller gets the company,
// and the company ends with every attribute and the plan of the merged
// body.
func TestConcurrentUpsertsOfOneCompanyCoalesce(t *testing.T) {
	s := newSim(t, simulator.Options{})
	hold := &HoldFirst{Method: "POST", Path: "/companies", Held: make(chan struct{}), Release: make(chan struct{})}
	c := newClient(t, s, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: hold} })
	joined := make(chan string, 9)
	OnUpsertJoined(c, func(id string) { joined <- id })
	ctx := context.Background()
	upsert := func(i int) (*intercom.Company, error) {
		return c.UpsertCompany(ctx, intercom.CompanyBody{
			CompanyID: "acme", Plan: fmt.Sprintf("plan-%d", i),
			CustomAttributes: intercom.Object{{Key: fmt.Sprintf("seen_by_%d", i), Raw: "true"}},
		})
	}
	first := make(chan error, 1)
	go func() { _, err := upsert(0); first <- err }()
	<-hold.Held // the first is in flight
	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := 1; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			co, err := upsert(i)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = co.ID
		}()
	}
	waitJoined(t, joined, 9) // all nine wait for the first
	close(hold.Release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d upserts sent, want 2:\n%v", len(reqs), s.Transcript())
	}
	for i := 1; i < 10; i++ {
		if ids[i] != companyID(1) {
			t.Errorf("caller %d got company %q", i, ids[i])
		}
	}
	var merged struct {
		Plan             string         `json:"plan"`
		CustomAttributes map[string]any `json:"custom_attributes"`
	}
	if err := json.Unmarshal(reqs[1].Body, &merged); err != nil {
		t.Fatal(err)
	}
	co := s.State().Companies[0]
	if len(merged.CustomAttributes) != 9 || len(co.CustomAttributes) != 10 || co.Plan != merged.Plan {
		t.Errorf("merged body %s; company %+v", reqs[1].Body, co)
	}
	// The client remembers what it sent last: the merged body.
	if e, ok := c.Cached(intercom.CompanyKey("acme")); !ok || e.Digest != digestOf(reqs[1].Body) {
		t.Errorf("cached %+v, want the merged body's digest", e)
	}
}

// waitJoined waits for n upserts to join the round waiting for the one in
// flight; it fails the test should they not within 30 s (as they never
// would, were upserts not coalesced).
func waitJoined(t *testing.T, joined <-chan string, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-joined:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d upserts joined the round waiting for the one in flight", i, n)
		}
	}
}

// digestOf is CompanyBody.Digest of a body as sent.
func digestOf(raw []byte) string {
	h := sha256.Sum256(raw)
	return string(h[:16])
}

// TestConcurrentIdenticalUpsertsCostOneCall: upserts of a company that
// equal the one in flight send nothing more.
func TestConcurrentIdenticalUpsertsCostOneCall(t *testing.T) {
	s := newSim(t, simulator.Options{})
	hold := &HoldFirst{Method: "POST", Path: "/companies", Held: make(chan struct{}), Release: make(chan struct{})}
	c := newClient(t, s, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: hold} })
	joined := make(chan string, 5)
	OnUpsertJoined(c, func(id string) { joined <- id })
	body := intercom.CompanyBody{CompanyID: "acme", Name: "Acme", Plan: "pro"}
	first := make(chan error, 1)
	go func() { _, err := c.UpsertCompany(context.Background(), body); first <- err }()
	<-hold.Held
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if co, err := c.UpsertCompany(context.Background(), body); err != nil || co.ID != companyID(1) {
				t.Errorf("upsert: %+v, %v", co, err)
			}
		}()
	}
	waitJoined(t, joined, 5)
	close(hold.Release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("%d upserts sent, want 1", n)
	}
}

// TestRefusedMergedUpsertFailsOnlyItsCulprit: two upserts of a company
// merge while a third is in flight, and one of them carries a custom
// attribute the workspace lacks, so Intercom refuses the merged body whole.
// Only that upsert fails, with Intercom's answer about its attribute; the
// other is saved, as if each had been sent on its own.
func TestRefusedMergedUpsertFailsOnlyItsCulprit(t *testing.T) {
	s := newSim(t, simulator.Options{DataAttributes: []string{"seen_by_1", "seen_by_3"}})
	hold := &HoldFirst{Method: "POST", Path: "/companies", Held: make(chan struct{}), Release: make(chan struct{})}
	c := newClient(t, s, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: hold} })
	joined := make(chan string, 2)
	OnUpsertJoined(c, func(id string) { joined <- id })
	upsert := func(i int) error {
		_, err := c.UpsertCompany(context.Background(), intercom.CompanyBody{
			CompanyID: "acme", Plan: fmt.Sprintf("plan-%d", i),
			CustomAttributes: intercom.Object{{Key: fmt.Sprintf("seen_by_%d", i), Raw: "true"}},
		})
		return err
	}
	errs := make([]chan error, 4)
	for i := 1; i <= 3; i++ { // one after the other: the later plan wins
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- upsert(i) }()
		if i == 1 {
			<-hold.Held // the first is in flight
		} else {
			<-joined
		}
	}
	close(hold.Release)
	want := map[int]string{2: "Custom attribute 'seen_by_2' does not exist"}
	for i := 1; i <= 3; i++ {
		err := <-errs[i]
		if w := want[i]; w == "" && err != nil || w != "" && (err == nil || !strings.Contains(err.Error(), w)) {
			t.Errorf("upsert %d: %v, want %q", i, err, w)
		}
	}
	// The first; the merged body, refused; then each of its two alone.
	var statuses []int
	for _, r := range s.Requests() {
		statuses = append(statuses, r.Status)
	}
	if fmt.Sprint(statuses) != "[200 400 400 200]" {
		t.Errorf("answers %v, want [200 400 400 200]:\n%s", statuses, s.Transcript())
	}
	co := s.State().Companies[0]
	if co.Plan != "plan-3" || len(co.CustomAttributes) != 2 || co.CustomAttributes["seen_by_3"] != true {
		t.Errorf("company %+v; requests:\n%s", co, s.Transcript())
	}
}

// holdPath is an http.RoundTripper that holds every request for path
// until release is closed, telling arrived of each.
type holdPath struct {
	path    string
	arrived chan struct{}
	release chan struct{}
}

func (h *holdPath) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == h.path {
		h.arrived <- struct{}{}
		<-h.release
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestUpsertsWaitingForTheRateLimiterCoalesce: an upsert that waits for
// the rate limiter (no request may go: the first ones are out, and none
// has answered to tell the limit) counts as in flight, so the upserts of
// its company that come meanwhile merge into one round: when the limiter
// lets them go, two calls are sent for three upserts.
func TestUpsertsWaitingForTheRateLimiterCoalesce(t *testing.T) {
	s := newSim(t, simulator.Options{})
	hold := &holdPath{path: "/me", arrived: make(chan struct{}), release: make(chan struct{})}
	c := newClient(t, s, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: hold} })
	joined := make(chan string, 2)
	OnUpsertJoined(c, func(id string) { joined <- id })
	ctx := context.Background()
	var wg sync.WaitGroup
	for range probes { // all the limiter lets go before an answer tells the limit
		wg.Go(func() {
			if _, err := c.Me(ctx); err != nil {
				t.Error(err)
			}
		})
		<-hold.arrived
	}
	for i := range 3 {
		wg.Go(func() {
			if _, err := c.UpsertCompany(ctx, intercom.CompanyBody{CompanyID: "acme", Plan: fmt.Sprintf("plan-%d", i)}); err != nil {
				t.Error(err)
			}
		})
		if i > 0 {
			select {
			case <-joined:
			case <-time.After(10 * time.Second): // not to hang should it never come
				t.Fatalf("upsert %d did not join the one waiting for the limiter", i)
			}
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("%d requests reached Intercom while the limiter held them", n)
	}
	close(hold.release)
	wg.Wait()
	if n := c.Stats().Endpoints["POST /companies"]; n != 2 {
		t.Errorf("%d upserts sent, want 2:\n%s", n, s.Transcript())
	}
}

// TestMergedUpsertOutlivesItsLeadersCancellation: callers with contexts
// of their own (pipeline threads, batches) share a client. When the caller
// that leads a merged round is cancelled, the others merged into it are
// not: their upserts are sent again without it, and succeed.
func TestMergedUpsertOutlivesItsLeadersCancellation(t *testing.T) {
	s := newSim(t, simulator.Options{})
	hold := &HoldFirst{Method: "POST", Path: "/companies", Held: make(chan struct{}), Release: make(chan struct{})}
	c := newClient(t, s, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: hold} })
	joined := make(chan string, 2)
	OnUpsertJoined(c, func(id string) { joined <- id })
	upsert := func(ctx context.Context, i int) chan error {
		errc := make(chan error, 1)
		go func() {
			_, err := c.UpsertCompany(ctx, intercom.CompanyBody{
				CompanyID: "acme", CustomAttributes: intercom.Object{{Key: fmt.Sprintf("seen_by_%d", i), Raw: "true"}},
			})
			errc <- err
		}()
		return errc
	}
	first := upsert(context.Background(), 1)
	<-hold.Held
	leaderCtx, cancel := context.WithCancel(context.Background())
	leader := upsert(leaderCtx, 2) // leads the round waiting for the first
	<-joined
	merged := upsert(context.Background(), 3)
	<-joined
	cancel()
	close(hold.Release)
	if err := <-first; err != nil {
		t.Errorf("first: %v", err)
	}
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled leader: %v, want context.Canceled", err)
	}
	if err := <-merged; err != nil {
		t.Errorf("merged into the cancelled leader's round: %v, want it sent", err)
	}
	if co := s.State().Companies[0]; co.CustomAttributes["seen_by_3"] != true {
		t.Errorf("company %+v", co)
	}
}
