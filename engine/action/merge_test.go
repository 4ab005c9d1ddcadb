package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/internal/suppress"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// member is the group call of user as a member of company, with the
// company's plan and custom attributes as that member's traits say.
func member(company, user, plan string, attrs ...intercom.Member) Action {
	return Action{Rule: "Group", Kind: identifyCompany, Fields: &IdentifyCompany{
		CompanyID: company, Name: "Acme", Plan: plan, CustomAttributes: attrs, ExternalID: user,
	}}
}

func attr(key, raw string) intercom.Member { return intercom.Member{Key: key, Raw: raw} }

// seedUsers creates the users with their identifies, then forgets what the
// requests were.
func seedUsers(t *testing.T, s *simulator.Server, api intercom.API, users ...string) {
	t.Helper()
	for _, u := range users {
		exec(t, api, identifyUser(u, u+"@example.com"))
	}
	s.ResetRequests()
}

// upserts returns the bodies of the POST /companies s received, with their
// status.
func upserts(s *simulator.Server) []string {
	var out []string
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && r.Path == "/companies" {
			out = append(out, string(r.Body)+" "+http.StatusText(r.Status))
		}
	}
	return out
}

// inOrder is where Intercom ends when the actions are sent one by one, in
// the order given, without merging: what a merged run must end as.
func inOrder(t *testing.T, actions ...Action) []byte {
	t.Helper()
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	for _, a := range actions {
		seedUsers(t, s, c, a.Contact().ExternalID)
	}
	for _, a := range actions {
		exec(t, c, a)
	}
	return canonicalState(t, s)
}

func canonicalState(t *testing.T, s *simulator.Server) []byte {
	t.Helper()
	b, err := json.Marshal(s.State().Canonical())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMergesLaterAnnouncedWinsWhoeverRunsFirst: three group calls of a
// company are announced, then run last first. The first to run sends one
// upsert carrying all three, merged in the order announced (the last
// announced plan wins, custom attributes key by key), and the others only
// attach their contact: Intercom ends as when the three are sent one by
// one in order, though the first announced ran last.
func TestMergesLaterAnnouncedWinsWhoeverRunsFirst(t *testing.T) {
	actions := []Action{
		member("acme", "u1", "free", attr("seats", "1")),
		member("acme", "u2", "pro", attr("region", `"eu"`)),
		member("acme", "u3", "enterprise", attr("seats", "5")),
	}
	s := newSim(t, simulator.Options{})
	c := newClient(t, s)
	seedUsers(t, s, c, "u1", "u2", "u3")
	m := &Merges{}
	e := Executor{API: c, Merges: m}
	for _, a := range actions {
		e.Announce(a)
	}
	for _, i := range []int{2, 1, 0} {
		if _, err := e.Execute(context.Background(), actions[i]); err != nil {
			t.Fatalf("%s: %v", actions[i].Contact().ExternalID, err)
		}
	}
	want := []string{`{"company_id":"acme","custom_attributes":{"seats":5,"region":"eu"},"name":"Acme","plan":"enterprise"} OK`}
	if got := upserts(s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("upserts:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := canonicalState(t, s), inOrder(t, actions...); !bytes.Equal(got, want) {
		t.Errorf("Intercom ends as\n%s\nnot as when sent in order:\n%s", got, want)
	}
	if m.Len() != 0 {
		t.Errorf("%d parts left in the table", m.Len())
	}
}

// TestMergesAPartWaitsForTheCallInFlight: while the first part's call is
// in flight, a part it carries waits for its answer instead of sending,
// and a part announced after the call left waits for it to end before it
// sends its own, so that the earlier merge cannot overtake it.
func TestMergesAPartWaitsForTheCallInFlight(t *testing.T) {
	m := &Merges{}
	a1, a2, a3 := member("acme", "u1", "free"), member("acme", "u2", "pro"), member("acme", "u3", "enterprise")
	m.Announce(a1)
	m.Announce(a2)

	var mu sync.Mutex
	var log []string
	record := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	sender := func(name string, release chan struct{}) func([]any) []MergeOutcome {
		return func(parts []any) []MergeOutcome {
			record(name + " sends " + users(parts))
			if release != nil {
				<-release
			}
			record(name + " answered")
			outs := make([]MergeOutcome, len(parts))
			for i := range outs {
				outs[i].Answer = name
			}
			return outs
		}
	}
	release := make(chan struct{})
	results := make(chan string, 3)
	turn := func(a Action, send func([]any) []MergeOutcome) {
		out, merged, err := m.turn(context.Background(), a.Fields, send)
		results <- a.Contact().ExternalID + " took " + out.Answer.(string) + " " + boolText(merged) + " " + errText(err)
	}
	go turn(a1, sender("u1", release))
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(log) == 1 })
	m.Announce(a3)
	go turn(a2, sender("u2", nil))
	go turn(a3, sender("u3", nil))
	time.Sleep(20 * time.Millisecond) // time for a wrong table to let u2 or u3 send
	close(release)
	got := map[string]bool{}
	for range 3 {
		got[<-results] = true
	}
	want := []string{"u1 sends u1 u2", "u1 answered", "u3 sends u3", "u3 answered"}
	if strings.Join(log, "; ") != strings.Join(want, "; ") {
		t.Errorf("calls: %s\nwant %s", strings.Join(log, "; "), strings.Join(want, "; "))
	}
	for _, w := range []string{"u1 took u1 merged <nil>", "u2 took u1 merged <nil>", "u3 took u3 merged <nil>"} {
		if !got[w] {
			t.Errorf("missing %q in %v", w, got)
		}
	}
	if m.Len() != 0 {
		t.Errorf("%d parts left in the table", m.Len())
	}
}

func users(parts []any) string {
	var names []string
	for _, p := range parts {
		names = append(names, p.(*IdentifyCompany).ExternalID)
	}
	return strings.Join(names, " ")
}

func boolText(merged bool) string {
	if merged {
		return "merged"
	}
	return "alone"
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// failFirstUpsert answers the first POST /companies with 503 without
// passing it on; every other request goes through.
type failFirstUpsert struct {
	mu     sync.Mutex
	failed bool
}

func (f *failFirstUpsert) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	fail := !f.failed && r.Method == http.MethodPost && r.URL.Path == "/companies"
	f.failed = f.failed || fail
	f.mu.Unlock()
	if fail {
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable",
			Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
			Body: http.NoBody}, nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestMergesFailedCallLeavesPartsToSendTheirOwn: the merged upsert fails
// for a reason that is not its body's (503, no retries left). The action
// that sent it fails; each part it carried sends its own body when it runs,
// and succeeds.
func TestMergesFailedCallLeavesPartsToSendTheirOwn(t *testing.T) {
	actions := []Action{
		member("acme", "u1", "free"),
		member("acme", "u2", "pro"),
		member("acme", "u3", "enterprise"),
	}
	s := newSim(t, simulator.Options{})
	c := newClient(t, s, func(cfg *rest.Config) {
		cfg.MaxRetries = -1
		cfg.HTTPClient = &http.Client{Transport: &failFirstUpsert{}}
	})
	seedUsers(t, s, c, "u1", "u2", "u3")
	e := Executor{API: c, Merges: &Merges{}}
	for _, a := range actions {
		e.Announce(a)
	}
	if _, err := e.Execute(context.Background(), actions[0]); intercom.StatusOf(err) != http.StatusServiceUnavailable {
		t.Errorf("the sender's error: %v, want its 503", err)
	}
	for _, a := range actions[1:] {
		if _, err := e.Execute(context.Background(), a); err != nil {
			t.Errorf("%s: %v", a.Contact().ExternalID, err)
		}
	}
	want := []string{ // the 503 never reached the simulator
		`{"company_id":"acme","name":"Acme","plan":"pro"} OK`,
		`{"company_id":"acme","name":"Acme","plan":"enterprise"} OK`,
	}
	if got := upserts(s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("upserts:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := s.State(); len(st.Companies) != 1 || st.Companies[0].UserCount != 2 {
		t.Errorf("companies: %+v", st.Companies)
	}
}

// TestMergesRefusedMergedBodyFailsOnlyItsCulprit: one member's custom
// attribute is one the workspace lacks, so Intercom refuses the merged
// upsert whole. The action that sent it sends each part alone, in order:
// only the culprit's is refused, and only the culprit's action fails,
// with its own refusal; the others only attach their contact, and the
// company has their traits.
func TestMergesRefusedMergedBodyFailsOnlyItsCulprit(t *testing.T) {
	actions := []Action{
		member("acme", "u1", "free", attr("seats", "1")),
		member("acme", "u2", "pro", attr("bogus", "true")),
		member("acme", "u3", "enterprise", attr("region", `"eu"`)),
	}
	s := newSim(t, simulator.Options{DataAttributes: []string{"seats", "region"}})
	c := newClient(t, s)
	seedUsers(t, s, c, "u1", "u2", "u3")
	e := Executor{API: c, Merges: &Merges{}}
	for _, a := range actions {
		e.Announce(a)
	}
	errs := make([]error, len(actions))
	for i, a := range actions {
		_, errs[i] = e.Execute(context.Background(), a)
	}
	var ae *intercom.APIError
	if errs[0] != nil || errs[2] != nil || !errors.As(errs[1], &ae) || !strings.Contains(ae.Message, "bogus") {
		t.Errorf("errors: %v", errs)
	}
	want := []string{
		`{"company_id":"acme","custom_attributes":{"seats":1,"bogus":true,"region":"eu"},"name":"Acme","plan":"enterprise"} Bad Request`,
		`{"company_id":"acme","custom_attributes":{"seats":1},"name":"Acme","plan":"free"} OK`,
		`{"company_id":"acme","custom_attributes":{"bogus":true},"name":"Acme","plan":"pro"} Bad Request`,
		`{"company_id":"acme","custom_attributes":{"region":"eu"},"name":"Acme","plan":"enterprise"} OK`,
	}
	if got := upserts(s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("upserts:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st := s.State()
	if len(st.Companies) != 1 || st.Companies[0].Plan != "enterprise" || st.Companies[0].UserCount != 2 ||
		len(st.Companies[0].CustomAttributes) != 2 {
		t.Errorf("companies: %+v", st.Companies)
	}
}

// TestMergesForget: a part forgotten before any call carried it is left
// out of the merge; one forgotten after a call carried it leaves the
// table. Nothing is left behind.
func TestMergesForget(t *testing.T) {
	m := &Merges{}
	a1, a2, a3 := member("acme", "u1", "free"), member("acme", "u2", "pro"), member("acme", "u3", "enterprise")
	for _, a := range []Action{a1, a2, a3} {
		m.Announce(a)
	}
	m.Forget(a3)
	var sent string
	out, merged, err := m.turn(context.Background(), a1.Fields, func(parts []any) []MergeOutcome {
		sent = users(parts)
		return make([]MergeOutcome, len(parts))
	})
	if sent != "u1 u2" || !merged || err != nil || out.Err != nil {
		t.Errorf("the call carried %q (merged %v, %v, %v); want u1 u2", sent, merged, err, out.Err)
	}
	if m.Len() != 1 {
		t.Errorf("%d parts in the table, want 1 (u2's)", m.Len())
	}
	m.Forget(a2) // carried, but it will not run
	if _, merged, _ := m.turn(context.Background(), a3.Fields, nil); merged || m.Len() != 0 || len(m.queues) != 0 {
		t.Errorf("after Forget: merged %v, %d parts, %d queues", merged, m.Len(), len(m.queues))
	}
}

// TestMergesCallCarriesAtMostMaxParts: a call carries at most
// maxMergedParts parts, unless its sender comes later in the queue; the
// parts it leaves wait, in order, for a later call.
func TestMergesCallCarriesAtMostMaxParts(t *testing.T) {
	m := &Merges{}
	var all []Action
	for i := range 2*maxMergedParts + 60 {
		a := member("acme", fmt.Sprintf("u%d", i), "free")
		m.Announce(a)
		all = append(all, a)
	}
	carried := func(a Action) int {
		n := -1
		out, merged, err := m.turn(context.Background(), a.Fields, func(parts []any) []MergeOutcome {
			n = len(parts)
			return make([]MergeOutcome, len(parts))
		})
		if !merged || err != nil || out.Err != nil {
			t.Fatalf("merged %v, %v, %v", merged, err, out.Err)
		}
		return n
	}
	for _, step := range []struct {
		runs int // the index of the part that runs
		want int // the parts its call carries; -1: none, a call carried it
	}{
		{0, maxMergedParts}, // u0 carries u0..u99
		{50, -1},            // carried by u0's call
		{maxMergedParts + 150, 2*maxMergedParts - 49}, // u250 runs first: u100..u250, everything before it
		{2 * maxMergedParts, -1},                      // u200 was carried too
		{2*maxMergedParts + 51, 9},                    // u251..u259
	} {
		if got := carried(all[step.runs]); got != step.want {
			t.Errorf("u%d's turn: its call carried %d parts, want %d", step.runs, got, step.want)
		}
	}
}

// TestMergesSkipIdenticalUpsert: the merged upsert is remembered (by
// engine/internal/suppress, as every face has it) as the last body sent
// for the company, so a later group call that would leave it unchanged
// sends no upsert, as without merging.
func TestMergesSkipIdenticalUpsert(t *testing.T) {
	s := newSim(t, simulator.Options{})
	c := suppress.Wrap(newClient(t, s), suppress.New(suppress.Config{}))
	seedUsers(t, s, c, "u1", "u2", "u3")
	e := Executor{API: c, Merges: &Merges{}}
	run := func(actions ...Action) {
		t.Helper()
		for _, a := range actions {
			e.Announce(a)
		}
		for _, a := range actions {
			if _, err := e.Execute(context.Background(), a); err != nil {
				t.Fatalf("%s: %v", a.Contact().ExternalID, err)
			}
		}
	}
	run(member("acme", "u1", "free"), member("acme", "u2", "pro"))
	run(member("acme", "u3", "pro"))
	want := []string{`{"company_id":"acme","name":"Acme","plan":"pro"} OK`}
	if got := upserts(s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("upserts:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := s.State(); len(st.Companies) != 1 || st.Companies[0].UserCount != 3 {
		t.Errorf("companies: %+v", st.Companies)
	}
}

// TestMergesSenderPanicLetsTheOthersGo: should the sender of a merged call
// panic, the parts it carried are not left waiting for it: each sends its
// own when it runs.
func TestMergesSenderPanicLetsTheOthersGo(t *testing.T) {
	m := &Merges{}
	a1, a2 := member("acme", "u1", "free"), member("acme", "u2", "pro")
	m.Announce(a1)
	m.Announce(a2)
	func() {
		defer func() { _ = recover() }()
		m.turn(context.Background(), a1.Fields, func([]any) []MergeOutcome { panic("boom") })
	}()
	var sent string
	_, merged, err := m.turn(context.Background(), a2.Fields, func(parts []any) []MergeOutcome {
		sent = users(parts)
		return make([]MergeOutcome, len(parts))
	})
	if sent != "u2" || !merged || err != nil || m.Len() != 0 {
		t.Errorf("after the panic, u2 sent %q (merged %v, %v); %d parts left", sent, merged, err, m.Len())
	}
}

// TestMergesAPartLeftUnsentWaitsForTheCallInFlight: a part whose carrying
// call failed sends its own when it runs, but not while a later call of
// its company is in flight: it waits for that call to end first.
func TestMergesAPartLeftUnsentWaitsForTheCallInFlight(t *testing.T) {
	m := &Merges{}
	a1, a2, a3 := member("acme", "u1", "free"), member("acme", "u2", "pro"), member("acme", "u3", "enterprise")
	m.Announce(a1)
	m.Announce(a2)
	m.turn(context.Background(), a1.Fields, func(parts []any) []MergeOutcome {
		outs := make([]MergeOutcome, len(parts))
		for i := range outs {
			outs[i] = MergeOutcome{Err: errors.New("503"), Unsent: true}
		}
		return outs
	})
	m.Announce(a3)
	var mu sync.Mutex
	var log []string
	record := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		m.turn(context.Background(), a3.Fields, func(parts []any) []MergeOutcome {
			record("u3 sends " + users(parts))
			<-release
			record("u3 answered")
			return make([]MergeOutcome, len(parts))
		})
		close(done)
	}()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(log) == 1 })
	go func() {
		time.Sleep(20 * time.Millisecond) // time for a wrong table to let u2 send
		close(release)
	}()
	m.turn(context.Background(), a2.Fields, func(parts []any) []MergeOutcome {
		record("u2 sends " + users(parts))
		return make([]MergeOutcome, len(parts))
	})
	<-done
	want := "u3 sends u3; u3 answered; u2 sends u2"
	if got := strings.Join(log, "; "); got != want {
		t.Errorf("calls: %s\nwant %s", got, want)
	}
}
