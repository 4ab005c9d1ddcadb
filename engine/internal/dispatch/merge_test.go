package dispatch

// The upserts of a backfill's companies merged while they are queued
// (action.Merges), seen through Dispatcher.Run against the simulator.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
	"github.com/intercom-actions/intercom-actions/rules"
)

// backfillRules are Segment's identify preset and a group rule that saves
// every trait but name and plan as a custom attribute of the company.
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

// backfill is the identify and then the group call of every member of
// companies companies of members members each, the members of a company
// adjacent, as a database export orders them. Each member's group gives the
// company a name, plan and tier of its own, and a custom attribute only it
// sets (seen_by_u<n>): the company ends as its last member says, with every
// member's attribute. The member for whom bad says so sets a custom
// attribute "bogus" as well.
func backfill(companies, members int, bad func(u int) bool) string {
	var in strings.Builder
	for u := range companies * members {
		c, m := u/members, u%members
		fmt.Fprintf(&in, `{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com","name":"User %d"}}`+"\n", u, u, u)
		extra := ""
		if bad != nil && bad(u) {
			extra = `,"bogus":true`
		}
		fmt.Fprintf(&in, `{"type":"group","userId":"u%d","groupId":"g%d","traits":{"name":"Company %d as member %d says","plan":"plan-%d","tier":%d,"seen_by_u%d":true%s}}`+"\n",
			u, c, c, m, m, m, u, extra)
	}
	return in.String()
}

// heldExecutor runs no action before want actions have been announced:
// every group of the backfill is then queued before the first runs, as
// when Intercom is slower than reading, whatever the timing of the test.
// (Should they never all be announced, the actions go after 30 s, for
// the test to fail rather than hang.)
type heldExecutor struct {
	action.Executor
	want      int64
	announced atomic.Int64
	all       chan struct{} // closed by release
	once      sync.Once
}

func newHeldExecutor(e action.Executor, want int) *heldExecutor {
	h := &heldExecutor{Executor: e, want: int64(want), all: make(chan struct{})}
	time.AfterFunc(30*time.Second, h.release)
	return h
}

func (h *heldExecutor) release() { h.once.Do(func() { close(h.all) }) }

func (h *heldExecutor) Announce(a action.Action) {
	h.Executor.Announce(a)
	if h.announced.Add(1) == h.want {
		h.release()
	}
}

func (h *heldExecutor) Execute(ctx context.Context, a action.Action) (action.Result, error) {
	select {
	case <-h.all:
	case <-ctx.Done():
		return action.Result{}, ctx.Err()
	}
	return h.Executor.Execute(ctx, a)
}

// backfillRun is one run of backfillRules against a simulator.
type backfillRun struct {
	rules       string // "": backfillRules
	sim         *simulator.Server
	merges      *action.Merges // nil: merging off
	concurrency int
	holdUntil   int               // when > 0, no action runs before this many are announced
	transport   http.RoundTripper // nil: the default
}

// dispatcher returns a dispatcher of backfillRules sending to r.sim.
func (r backfillRun) dispatcher(t *testing.T, dl *bytes.Buffer) *Dispatcher {
	t.Helper()
	client, err := rest.New(rest.Config{
		BaseURL:     r.sim.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok"}),
		HTTPClient:  &http.Client{Transport: r.transport},
		MinBackoff:  time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	src := r.rules
	if src == "" {
		src = backfillRules
	}
	set, err := rules.Parse("backfill.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Engine: eng, Executor: action.Executor{API: client, Merges: r.merges}, Concurrency: r.concurrency}
	if r.merges != nil {
		cfg.Merges = r.merges
	}
	if r.holdUntil > 0 {
		held := newHeldExecutor(action.Executor{API: client, Merges: r.merges}, r.holdUntil)
		cfg.Executor, cfg.Merges = held, held
	}
	d, err := New(Config{Engine: cfg.Engine, Executor: cfg.Executor, Merges: cfg.Merges, Concurrency: r.concurrency, Sink: delivery.Sink{DeadLetters: delivery.DeadLetterWriter(dl)}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// run sends events and returns the summary and the dead letters.
func (r backfillRun) run(t *testing.T, src Source) (Summary, string) {
	t.Helper()
	var dl bytes.Buffer
	sum, err := r.dispatcher(t, &dl).Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return sum, deadLetterErrors(dl.String())
}

// inOrder sends events one by one, in input order, without merging, to a
// fresh simulator with opts: what a merged run must end as.
func inOrder(t *testing.T, events string, opts simulator.Options) (state []byte, deadLetters string) {
	t.Helper()
	sim := simulator.NewServer(opts)
	defer sim.Close()
	_, dl := backfillRun{sim: sim, concurrency: 1}.run(t, delivery.NewLineSource("events", strings.NewReader(events)))
	return canonicalState(t, sim), dl
}

func canonicalState(t *testing.T, sim *simulator.Server) []byte {
	t.Helper()
	b, err := json.Marshal(sim.State().Canonical())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deadLetterErrors lists the dead letters' refs and errors, without the
// request ids and times that differ between runs.
func deadLetterErrors(dl string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(dl), "\n") {
		var d struct{ Ref, Rule, Error string }
		if line == "" || json.Unmarshal([]byte(line), &d) != nil {
			continue
		}
		if i := strings.Index(d.Error, " (request "); i >= 0 {
			d.Error = d.Error[:i]
		}
		out = append(out, d.Ref+" "+d.Rule+": "+d.Error)
	}
	return strings.Join(out, "\n")
}

// upsertsPerCompany counts the POST /companies sim received, by company_id.
func upsertsPerCompany(t *testing.T, sim *simulator.Server) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, r := range sim.Requests() {
		if r.Method != http.MethodPost || r.Path != "/companies" {
			continue
		}
		var body struct {
			CompanyID string `json:"company_id"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		n[body.CompanyID]++
	}
	return n
}

func diffAt(a, b []byte) string {
	i := 0
	for i < min(len(a), len(b)) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-200)
	return fmt.Sprintf("merged:   ...%s\nin order: ...%s", a[lo:min(len(a), i+200)], b[lo:min(len(b), i+200)])
}

// TestBackfillMergesQueuedUpsertsOfACompany: a backfill of 4 companies of
// 5 members, each member's group with traits of its own, sent by Run with
// 4 workers. Every group is queued before the first runs, so each company
// costs one POST /companies, carrying its five members' traits merged in
// input order; and Intercom ends exactly as when the events are sent one
// by one in input order without merging: the companies with their last
// member's name, plan and tier and every member's attribute, every member
// attached.
func TestBackfillMergesQueuedUpsertsOfACompany(t *testing.T) {
	const companies, members = 4, 5
	events := backfill(companies, members, nil)
	want, _ := inOrder(t, events, simulator.Options{Token: "tok"})

	sim := simulator.NewServer(simulator.Options{Token: "tok"})
	defer sim.Close()
	merges := &action.Merges{}
	run := backfillRun{sim: sim, merges: merges, concurrency: 4, holdUntil: 2 * companies * members}
	sum, dl := run.run(t, delivery.NewLineSource("events", strings.NewReader(events)))
	if sum.Sent != 2*companies*members || dl != "" {
		t.Fatalf("%+v\ndead letters:\n%s", sum, dl)
	}
	for c := range companies {
		if n := upsertsPerCompany(t, sim)[fmt.Sprint("g", c)]; n != 1 {
			t.Errorf("g%d: %d POST /companies for its %d members, want 1", c, n, members)
		}
	}
	if got := canonicalState(t, sim); !bytes.Equal(got, want) {
		t.Errorf("Intercom ends otherwise than when the events are sent in order:\n%s", diffAt(got, want))
	}
	if merges.Len() != 0 {
		t.Errorf("%d parts left in the table", merges.Len())
	}
	calls := sum.Calls
	t.Logf("%d calls for %d users (%.2f a user)", calls, companies*members, float64(calls)/float64(companies*members))
}

// TestBackfillRefusedAttributeFailsOnlyItsMember: one member's group
// carries a custom attribute the workspace lacks, so Intercom refuses the
// company's merged upsert. Only that member's event is dead-lettered, with
// Intercom's refusal of its own traits; the other members' traits land,
// and Intercom ends as when the events are sent one by one in order.
func TestBackfillRefusedAttributeFailsOnlyItsMember(t *testing.T) {
	const companies, members = 2, 5
	culprit := 7 // the third member of g1
	events := backfill(companies, members, func(u int) bool { return u == culprit })
	opts := simulator.Options{Token: "tok", DataAttributes: []string{"tier"}}
	for u := range companies * members {
		opts.DataAttributes = append(opts.DataAttributes, fmt.Sprint("seen_by_u", u))
	}
	want, wantDL := inOrder(t, events, opts)

	sim := simulator.NewServer(opts)
	defer sim.Close()
	run := backfillRun{sim: sim, merges: &action.Merges{}, concurrency: 4, holdUntil: 2 * companies * members}
	sum, dl := run.run(t, delivery.NewLineSource("events", strings.NewReader(events)))
	wantOne := fmt.Sprintf(`events:%d Identify Company: identify_company: upsert company: intercom: 400 parameter_invalid: Custom attribute 'bogus' does not exist`, 2*culprit+2)
	if sum.Failed != 1 || dl != wantOne || dl != wantDL {
		t.Errorf("%d events failed; dead letters:\n%s\nwant\n%s\n(in order:\n%s)", sum.Failed, dl, wantOne, wantDL)
	}
	if got := canonicalState(t, sim); !bytes.Equal(got, want) {
		t.Errorf("Intercom ends otherwise than when the events are sent in order:\n%s", diffAt(got, want))
	}
	// g1: the merged upsert, refused, then each of its 5 parts alone.
	if n := upsertsPerCompany(t, sim); n["g0"] != 1 || n["g1"] != 1+members {
		t.Errorf("POST /companies per company: %v, want g0 1 and g1 %d", n, 1+members)
	}
}

// holdFirstUpsert holds the answer to the first POST /companies (Intercom
// has applied it) until release is closed, and closes held when it starts
// to hold it.
type holdFirstUpsert struct {
	held, release chan struct{}
	once          sync.Once
}

func (h *holdFirstUpsert) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if r.Method == http.MethodPost && r.URL.Path == "/companies" {
		h.once.Do(func() {
			close(h.held)
			<-h.release
		})
	}
	return resp, err
}

// TestStopMidBackfillThenResume: a backfill stopped while the first
// company's merged upsert is in flight. That upsert carried the traits of
// all five members, but only the member who sent it is settled: the stop
// leaves the others' events, queued, for their source to deliver again, and
// their parts leave the table. Resumed, the run sends exactly the events
// left (none twice), and Intercom ends as when the events are sent one by
// one in order.
//
// The first run has one worker, so that a stop settles only what it must;
// with several, a stop may settle a later member of a company and leave an
// earlier one, whose traits the resumed run then applies last — with
// merging or without, for every company whose members differ.
func TestStopMidBackfillThenResume(t *testing.T) {
	const companies, members = 3, 5
	events := backfill(companies, members, nil)
	want, _ := inOrder(t, events, simulator.Options{Token: "tok"})

	sim := simulator.NewServer(simulator.Options{Token: "tok"})
	defer sim.Close()
	hold := &holdFirstUpsert{held: make(chan struct{}), release: make(chan struct{})}
	merges := &action.Merges{}
	first := backfillRun{sim: sim, merges: merges, concurrency: 1, transport: hold, holdUntil: 2 * companies * members}
	var dl bytes.Buffer
	d := first.dispatcher(t, &dl)
	log := &settleLog{refs: map[string]int{}}
	done := make(chan Summary)
	go func() {
		sum, _ := d.Run(context.Background(), log.source(events, true))
		done <- sum
	}()
	<-hold.held
	d.Stop()
	close(hold.release)
	sum1 := <-done
	if got := upsertsPerCompany(t, sim); got["g0"] != 1 || len(got) != 1 {
		t.Errorf("the stopped run sent %v POST /companies, want the first company's merged upsert only", got)
	}
	if sum1.Sent != 2 || sum1.Unsettled != sum1.Read-2 || dl.Len() != 0 || merges.Len() != 0 {
		t.Errorf("stopped run: %+v, %d parts left in the table; dead letters:\n%s", sum1, merges.Len(), dl.String())
	}

	// Resume: the events not settled, as a checkpoint gives them back.
	settledFirst := map[string]bool{}
	for ref := range log.refs {
		settledFirst[ref] = true
	}
	second := backfillRun{sim: sim, merges: merges, concurrency: 4}
	resumed := &skipSettled{src: log.source(events, true), settled: settledFirst}
	sum2, dl2 := second.run(t, resumed)
	settled, twice := log.count()
	if settled != 2*companies*members || len(twice) != 0 || sum1.Sent+sum2.Sent != settled || dl2 != "" {
		t.Errorf("%d of %d events settled (twice: %v); sent %d + %d; dead letters:\n%s",
			settled, 2*companies*members, twice, sum1.Sent, sum2.Sent, dl2)
	}
	if got := canonicalState(t, sim); !bytes.Equal(got, want) {
		t.Errorf("Intercom ends otherwise than when the events are sent in order:\n%s", diffAt(got, want))
	}
}

// skipSettled gives the events of src not settled, as send --resume does.
type skipSettled struct {
	src     Source
	settled map[string]bool
}

func (s *skipSettled) Next(ctx context.Context) (Event, error) {
	for {
		ev, err := s.src.Next(ctx)
		if err != nil || !s.settled[ev.Ref] {
			return ev, err
		}
	}
}

// TestMergesForgetWhatWillNotRun: the parts of actions a run will not run
// leave the table, however the run ends: stopped by a 401 (the events read
// and not sent are dead-lettered), aborted while the first upsert is in
// flight (the rest left unsettled), or re-sending dead letters whose rule
// is not the group's (Event.Only: the group is never announced).
func TestMergesForgetWhatWillNotRun(t *testing.T) {
	events := backfill(3, 5, nil)
	t.Run("unauthorized", func(t *testing.T) {
		// Each identify also saves the user's company, as Segment Classic
		// does: its identify_company is left unstarted when the
		// identify_contact before it meets the 401.
		withCompany := backfillRules + `  - name: Company On Identify
    action: identify_company
    trigger: type == "identify"
    fields:
      company_id: traits.company_id
`
		var in strings.Builder
		for u := range 15 {
			fmt.Fprintf(&in, `{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com","company_id":"g%d"}}`+"\n", u, u, u/5)
		}
		sim := simulator.NewServer(simulator.Options{Token: "another-token"})
		defer sim.Close()
		merges := &action.Merges{}
		run := backfillRun{rules: withCompany, sim: sim, merges: merges, concurrency: 4, holdUntil: 30}
		var dl bytes.Buffer
		sum, err := run.dispatcher(t, &dl).Run(context.Background(), delivery.NewLineSource("events", strings.NewReader(in.String())))
		if !errors.Is(err, intercom.ErrUnauthorized) || sum.Failed != sum.Read || merges.Len() != 0 {
			t.Errorf("%v; %+v; %d parts left in the table", err, sum, merges.Len())
		}
	})
	t.Run("aborted", func(t *testing.T) {
		sim := simulator.NewServer(simulator.Options{Token: "tok"})
		defer sim.Close()
		hold := &holdFirstUpsert{held: make(chan struct{}), release: make(chan struct{})}
		merges := &action.Merges{}
		run := backfillRun{sim: sim, merges: merges, concurrency: 4, holdUntil: 30, transport: hold}
		var dl bytes.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan Summary)
		go func() {
			sum, _ := run.dispatcher(t, &dl).Run(ctx, (&settleLog{refs: map[string]int{}}).source(events, true))
			done <- sum
		}()
		<-hold.held
		cancel()
		close(hold.release)
		sum := <-done
		if sum.Unsettled == 0 || merges.Len() != 0 {
			t.Errorf("%+v; %d parts left in the table", sum, merges.Len())
		}
	})
	t.Run("only", func(t *testing.T) {
		sim := simulator.NewServer(simulator.Options{Token: "tok"})
		defer sim.Close()
		merges := &action.Merges{}
		group := strings.Split(events, "\n")[1]
		deadLetter := `{"event":` + group + `,"ref":"events:2","rule":"Identify Contact","error":"intercom: 500"}` + "\n"
		sum, _ := backfillRun{sim: sim, merges: merges, concurrency: 4}.run(t, delivery.NewLineSource("dead.ndjson", strings.NewReader(deadLetter)))
		if sum.Events != 1 || upsertsPerCompany(t, sim)["g0"] != 0 || merges.Len() != 0 {
			t.Errorf("%+v; %d parts left in the table for a group not to be sent", sum, merges.Len())
		}
	})
}
