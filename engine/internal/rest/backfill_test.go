package rest_test

// Coalescing seen through the dispatcher: these tests and benchmarks live
// here, not in engine/dispatch, because they turn coalescing off and watch
// upserts join a waiting round through the hooks of export_test.go, which
// only this package's tests can reach.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/dispatch"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
	"github.com/intercom-actions/intercom-actions/rules"
)

// backfillRules are Segment's identify preset and a group rule that also
// saves every trait but name and plan as a custom attribute of the company.
const backfillRules = `rules:
  - name: Identify Contact
    action: identify_contact
    fields:
      role: {value: user}
  - name: Identify Company
    action: identify_company
    fields:
      custom_attributes: {path: traits, except: [name, plan]}
`

// backfillDispatcher returns a dispatcher of backfillRules with
// concurrency workers, sending to sim through a client of cfg.
func backfillDispatcher(tb testing.TB, sim *simulator.Server, concurrency int, cfg rest.Config) (*dispatch.Dispatcher, *rest.Client) {
	tb.Helper()
	cfg.BaseURL = sim.URL()
	cfg.TokenSource = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok"})
	client, err := rest.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	set, err := rules.Parse("backfill.yaml", []byte(backfillRules))
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := engine.Compile(set)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := dispatch.New(dispatch.Config{Engine: eng, Executor: action.Executor{API: client}, Concurrency: concurrency})
	if err != nil {
		tb.Fatal(err)
	}
	return d, client
}

// run sends the NDJSON events through d; every one must be sent.
func run(tb testing.TB, d *dispatch.Dispatcher, events string) delivery.Summary {
	tb.Helper()
	sum, err := d.Run(context.Background(), delivery.NewLineSource("events", strings.NewReader(events)))
	if err != nil || sum.Sent != sum.Read {
		tb.Fatalf("sent %d of %d events (%+v): %v", sum.Sent, sum.Read, sum.Failures, err)
	}
	return sum
}

// seedUsers creates users u0 to u<n-1> in sim through a dispatcher and
// client of their own, so that the client of a backfill starts cold, as a
// new send does.
func seedUsers(tb testing.TB, sim *simulator.Server, n int) {
	tb.Helper()
	var in strings.Builder
	for u := range n {
		fmt.Fprintf(&in, `{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com","name":"User %d"}}`+"\n", u, u, u)
	}
	d, _ := backfillDispatcher(tb, sim, 16, rest.Config{})
	run(tb, d, in.String())
}

// backfillGroups is the group call of every user u0 to u<n-1>, members to
// a company, the members of a company adjacent (as a database export
// orders them). Each carries the company's name and plan, shared by all,
// and a custom attribute of the member's own, seen_by_u<n>, so that every
// one changes the company, and in whatever order they are applied the
// company ends the same.
func backfillGroups(n, members int) string {
	var in strings.Builder
	for u := range n {
		fmt.Fprintf(&in, `{"type":"group","userId":"u%d","groupId":"g%d","traits":{"name":"Company %d","plan":"pro","seen_by_u%d":true}}`+"\n",
			u, u/members, u/members, u)
	}
	return in.String()
}

// canonical is sim's final state in the form runs compare in.
func canonical(t *testing.T, sim *simulator.Server) []byte {
	t.Helper()
	b, err := json.Marshal(sim.State().Canonical())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOverlappingGroupsOfACompanyCoalesce: the group calls of a company's
// eight members are processed at the same time, as pipeline threads
// calling Dispatcher.Process make them, and the first one's upsert is in
// flight (its answer held) until the seven others have joined the round
// that waits for it. Intercom gets two POST /companies instead of eight,
// every group call is sent, and Intercom ends exactly as when one worker
// sends the eight group calls one by one.
func TestOverlappingGroupsOfACompanyCoalesce(t *testing.T) {
	const members = 8
	groups := backfillGroups(members, members)

	oneByOne := simulator.NewServer(simulator.Options{Token: "tok"})
	defer oneByOne.Close()
	seedUsers(t, oneByOne, members)
	d, _ := backfillDispatcher(t, oneByOne, 1, rest.Config{})
	run(t, d, groups)

	sim := simulator.NewServer(simulator.Options{Token: "tok"})
	defer sim.Close()
	seedUsers(t, sim, members)
	sim.ResetRequests()
	hold := &rest.HoldFirst{Method: http.MethodPost, Path: "/companies", Release: make(chan struct{})}
	d, client := backfillDispatcher(t, sim, members, rest.Config{HTTPClient: &http.Client{Transport: hold}})
	joined := make(chan string, members)
	rest.OnUpsertJoined(client, func(companyID string) { joined <- companyID })
	results := make(chan dispatch.Result, members)
	for i, g := range strings.Split(strings.TrimSpace(groups), "\n") {
		go func() {
			results <- d.Process(context.Background(), dispatch.Event{Raw: []byte(g), Ref: fmt.Sprint("group ", i)})
		}()
	}
	// Each of the seven others joins the round waiting for the held upsert
	// or, were it not coalesced, is sent on its own and done: then the held
	// one answers.
	var done []dispatch.Result
	for range members - 1 {
		select {
		case <-joined:
		case r := <-results:
			done = append(done, r)
		}
	}
	close(hold.Release)
	for len(done) < members {
		done = append(done, <-results)
	}
	for _, r := range done {
		if r.Status != delivery.Sent {
			t.Errorf("%s: %s %v", r.Ref, r.Status, r.Errors)
		}
	}

	upserts := 0
	for _, r := range sim.Requests() {
		if r.Method == http.MethodPost && r.Path == "/companies" {
			upserts++
		}
	}
	if upserts != 2 {
		t.Errorf("%d POST /companies for %d group calls of one company, want 2:\n%s", upserts, members, sim.Transcript())
	}
	if a, b := canonical(t, oneByOne), canonical(t, sim); !bytes.Equal(a, b) {
		i := 0
		for i < min(len(a), len(b)) && a[i] == b[i] {
			i++
		}
		lo := max(0, i-150)
		t.Errorf("Intercom ends otherwise than when the group calls are sent one by one:\none by one: ...%s\ncoalesced:  ...%s",
			a[lo:min(len(a), i+150)], b[lo:min(len(b), i+150)])
	}
}

// BenchmarkBackfillCompanies measures what coalescing saves in a backfill
// sent by one Run, as send sends one: the users exist in Intercom already,
// and the input is the group call of every member of every company
// (backfillGroups: members adjacent, each group with a custom attribute
// of its own, so none is skipped as identical to the last). One iteration
// is one user: run with -benchtime=1000x.
//
// Variants: companies of 5 and of 50 members; Intercom answering in 20 ms,
// without a rate limit and with one of 300 requests a second, so that
// requests queue in the client's rate limiter (which counts as in flight
// for coalescing); and coalescing on and off. Off is set through a test
// hook (rest.SetCoalescing), not by comparing with one worker, so that the
// two runs differ in nothing else and events/s compare.
//
// Reported: POST /companies per company (without coalescing, the number
// of members), Intercom calls per user (a group costs upsert, search,
// attach: 3 without coalescing), and events per second.
func BenchmarkBackfillCompanies(b *testing.B) {
	for _, members := range []int{5, 50} {
		for _, limit := range []struct {
			name string
			rate int // requests per second; 0: none
		}{{"20ms", 0}, {"20ms-300-per-s", 300}} {
			for _, coalesce := range []bool{true, false} {
				mode := map[bool]string{true: "coalescing", false: "one-by-one"}[coalesce]
				b.Run(fmt.Sprintf("%d-members/%s/%s", members, limit.name, mode), func(b *testing.B) {
					benchBackfill(b, members, limit.rate, coalesce)
				})
			}
		}
	}
}

func benchBackfill(b *testing.B, members, rate int, coalesce bool) {
	opts := simulator.Options{Token: "tok", MaxRequests: 1000,
		Faults: simulator.Faults{SlowRate: 1, SlowDelay: 20 * time.Millisecond}}
	if rate > 0 {
		opts.RateLimit, opts.Window = rate, time.Second
	}
	sim := simulator.NewServer(opts)
	defer sim.Close()
	users := b.N
	seedUsers(b, sim, users)
	d, client := backfillDispatcher(b, sim, 16, rest.Config{})
	rest.SetCoalescing(client, coalesce)
	groups := backfillGroups(users, members)
	b.ResetTimer()
	sum := run(b, d, groups)
	b.StopTimer()
	st := client.Stats()
	companies := (users + members - 1) / members
	b.ReportMetric(float64(st.Endpoints["POST /companies"])/float64(companies), "upserts/company")
	b.ReportMetric(float64(st.Calls)/float64(users), "calls/user")
	b.ReportMetric(float64(sum.Events)/sum.Elapsed.Seconds(), "events/s")
}
