package processor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
	"github.com/intercom-actions/intercom-actions/rules"
)

func token(t string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: t})
}

func newProcessor(t *testing.T, cfg Config) *Processor {
	t.Helper()
	if cfg.TokenSource == nil {
		cfg.TokenSource = token("token")
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// interleaved is a batch of users' events, one user's after another's in
// turn: each user's group comes before its identify, then tracks
// step-1..step-n.
func interleaved(users, steps int) [][]byte {
	var out [][]byte
	for s := -1; s <= steps; s++ {
		for u := range users {
			var ev string
			switch s {
			case -1:
				ev = fmt.Sprintf(`{"type":"group","userId":"u%d","groupId":"g%d","traits":{"name":"G%d"}}`, u, u%3, u%3)
			case 0:
				ev = fmt.Sprintf(`{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com","name":"User %d"}}`, u, u, u)
			default:
				ev = fmt.Sprintf(`{"type":"track","userId":"u%d","event":"step-%d","timestamp":"2024-03-01T12:00:%02dZ"}`, u, s, s)
			}
			out = append(out, []byte(ev))
		}
	}
	return out
}

// A batch sends each contact's events in batch order, different contacts
// in parallel, and ends in the state sending them one at a time gives.
func TestBatchKeepsPerContactOrder(t *testing.T) {
	const users, steps = 24, 5
	batch := interleaved(users, steps)

	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	p := newProcessor(t, Config{APIBase: sim.URL(), Concurrency: 8})
	results, err := p.ProcessBatch(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Status != Sent || r.Err != nil || r.Sent != 1 {
			t.Errorf("event %d (%s): %+v", i, batch[i], r)
		}
	}
	st := sim.State()
	byContact := map[string][]string{}
	for _, e := range st.Events {
		byContact[e.ContactID] = append(byContact[e.ContactID], e.EventName)
	}
	var want []string
	for s := 1; s <= steps; s++ {
		want = append(want, fmt.Sprintf("step-%d", s))
	}
	if len(byContact) != users {
		t.Fatalf("events of %d contacts, want %d", len(byContact), users)
	}
	for c, got := range byContact {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("contact %s: events arrived %v, want %v", c, got, want)
		}
	}

	// The same events one at a time, in order, to a fresh simulator.
	ref := simulator.NewServer(simulator.Options{})
	defer ref.Close()
	one := newProcessor(t, Config{APIBase: ref.URL(), Concurrency: 1})
	ids := map[string]bool{}
	for _, ev := range batch {
		// A group before its identify cannot wait across calls: send the
		// reference's identifies first, as the batch's order does for it.
		if strings.Contains(string(ev), `"group"`) {
			continue
		}
		if _, err := one.Process(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		ids[string(ev)] = true
	}
	for _, ev := range batch {
		if !ids[string(ev)] {
			if r, err := one.Process(context.Background(), ev); err != nil || r.Status != Sent {
				t.Fatalf("%s: %+v %v", ev, r, err)
			}
		}
	}
	gotState, wantState := st.Canonical(), ref.State().Canonical()
	// Companies' and contacts' timestamps are the simulator's; Canonical
	// zeroes them. Attach order may differ; Canonical sorts it.
	if !reflect.DeepEqual(gotState, wantState) {
		t.Errorf("state after the batch:\n%+v\nafter one at a time:\n%+v", gotState, wantState)
	}
}

// Result.Err is typed, and says what Intercom answered.
func TestResultErrors(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	p := newProcessor(t, Config{APIBase: sim.URL()})
	results, err := p.ProcessBatch(context.Background(), [][]byte{
		[]byte(`{"type":"track","userId":"u1"}`),
		[]byte(`[1,2]`),
		[]byte(`{"type":"group","userId":"nobody","groupId":"g1"}`),
		[]byte(`{"type":"identify","userId":"u1","traits":{"email":"not an email"}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ruleErrs engine.RuleErrors
	if r := results[0]; r.Status != Failed || !errors.As(r.Err, &ruleErrs) ||
		r.Err.Error() != `rule "Track Event": field event_name: required, but event is missing or empty` {
		t.Errorf("track without a name: %+v", r)
	}
	var evErr *engine.EventError
	if r := results[1]; r.Status != Failed || !errors.As(r.Err, &evErr) ||
		r.Err.Error() != `invalid event: a JSON array, not an object` {
		t.Errorf("an array: %+v (%v)", r, r.Err)
	}
	if r := results[2]; r.Status != Failed || r.Sent != 0 || r.Actions != 1 ||
		r.Err.Error() != `rule "Identify Company": identify_company: contact not found (external_id "nobody"); no identify for this contact came before the end of the input` {
		t.Errorf("group for nobody: %+v (%v)", r, r.Err)
	}
	var apiErr *intercom.APIError
	if r := results[3]; r.Status != Failed || !errors.As(r.Err, &apiErr) || apiErr.Status != 400 {
		t.Errorf("a bad email: %+v (%v)", r, r.Err)
	}
}

// With StopOnRefusedToken (send's way), a refused token cuts the call
// short: the event that met the 401 fails with Intercom's answer, the
// others are not sent, and the call's error says why.
func TestUnauthorized(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Token: "right"})
	defer sim.Close()
	p := newProcessor(t, Config{APIBase: sim.URL(), TokenSource: token("wrong"), Concurrency: 1, StopOnRefusedToken: true})
	batch := interleaved(3, 1)[3:] // identifies, then tracks
	results, err := p.ProcessBatch(context.Background(), batch)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("error %v, want ErrUnauthorized", err)
	}
	var apiErr *intercom.APIError
	if r := results[0]; r.Status != Failed || !errors.As(r.Err, &apiErr) || apiErr.Status != 401 {
		t.Errorf("first event: %+v (%v)", r, r.Err)
	}
	for i, r := range results[1:] {
		if r.Status != Failed || !errors.Is(r.Err, ErrNotSent) || !errors.Is(r.Err, ErrUnauthorized) {
			t.Errorf("event %d: %+v (%v)", i+1, r, r.Err)
		}
	}
	if n := len(sim.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// A call whose context is done before it starts sends nothing and says
// so for every event.
func TestCancelledContext(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	p := newProcessor(t, Config{APIBase: sim.URL()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	results, err := p.ProcessBatch(ctx, interleaved(2, 1))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	for i, r := range results {
		if r.Status != Failed || !errors.Is(r.Err, ErrNotSent) || !errors.Is(r.Err, context.Canceled) || r.Err.Error() != "not sent: context canceled" {
			t.Errorf("event %d: %+v (%v)", i, r, r.Err)
		}
	}
	if n := len(sim.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// inFlight is an http.RoundTripper that counts the requests in flight.
type inFlight struct {
	base     http.RoundTripper
	now, max atomic.Int64
	seen     atomic.Int64
}

func (f *inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	n := f.now.Add(1)
	defer f.now.Add(-1)
	f.seen.Add(1)
	for {
		m := f.max.Load()
		if n <= m || f.max.CompareAndSwap(m, n) {
			break
		}
	}
	return f.base.RoundTrip(r)
}

// Calls at the same time share the Processor's Concurrency, over the
// caller's HTTP client, and together deliver everything.
func TestConcurrentCallsShareConcurrency(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Faults: simulator.Faults{SlowRate: 1, SlowDelay: 2 * time.Millisecond}})
	defer sim.Close()
	rt := &inFlight{base: http.DefaultTransport.(*http.Transport).Clone()}
	p := newProcessor(t, Config{APIBase: sim.URL(), Concurrency: 3, HTTPClient: &http.Client{Transport: rt}})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch [][]byte
			for u := range 10 {
				batch = append(batch, fmt.Appendf(nil, `{"type":"identify","userId":"c%d-u%d","traits":{"email":"c%du%d@example.com"}}`, c, u, c, u))
			}
			results, err := p.ProcessBatch(context.Background(), batch)
			if err != nil {
				t.Error(err)
				return
			}
			for i, r := range results {
				if r.Status != Sent {
					t.Errorf("call %d event %d: %+v", c, i, r)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(sim.State().Contacts); n != 40 {
		t.Errorf("%d contacts, want 40", n)
	}
	if rt.seen.Load() != 40 {
		t.Errorf("the caller's client carried %d requests, want 40", rt.seen.Load())
	}
	if m := rt.max.Load(); m > 3 {
		t.Errorf("%d requests in flight at once, want at most 3", m)
	}
}

// Close lets the actions being sent finish, fails the events not started
// with ErrNotSent, and later calls return ErrClosed.
func TestCloseStopsCallsInProgress(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	// The requests wait at the gate until Close has begun: the actions in
	// flight then are the ones sent, however fast the machine.
	g := &gate{base: http.DefaultTransport.(*http.Transport).Clone(), arrived: make(chan struct{}, 64), open: make(chan struct{})}
	p := newProcessor(t, Config{APIBase: sim.URL(), Concurrency: 2, HTTPClient: &http.Client{Transport: g}})
	var batch [][]byte
	for u := range 40 {
		batch = append(batch, fmt.Appendf(nil, `{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com"}}`, u, u))
	}
	type out struct {
		results []Result
		err     error
	}
	done := make(chan out, 1)
	go func() {
		r, err := p.ProcessBatch(context.Background(), batch)
		done <- out{r, err}
	}()
	<-g.arrived // the first request is on its way to Intercom
	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	// Close has begun once a call returns ErrClosed; until then, a call
	// with a done context sends nothing.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := p.Process(cancelled, batch[0]); err == ErrClosed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Close did not begin")
		}
	}
	close(g.open)
	o := <-done
	<-closed
	if !errors.Is(o.err, ErrClosed) {
		t.Fatalf("error %v, want ErrClosed", o.err)
	}
	sent := 0
	for i, r := range o.results {
		switch {
		case r.Status == Sent:
			sent++
		case r.Status == Failed && errors.Is(r.Err, ErrNotSent) && errors.Is(r.Err, ErrClosed) && r.Err.Error() == "not sent: processor: closed":
		default:
			t.Errorf("event %d: %+v (%v)", i, r, r.Err)
		}
	}
	if n := len(sim.State().Contacts); sent == 0 || sent > 2 || n != sent {
		t.Errorf("%d events sent (want those in flight at Close: 1 or 2, the concurrency), %d contacts in Intercom", sent, n)
	}
	if r, err := p.Process(context.Background(), batch[0]); err != ErrClosed || r != (Result{}) {
		t.Errorf("after Close: %+v, %v", r, err)
	}
}

// gate is an http.RoundTripper that holds every request until open is
// closed, telling arrived of each.
type gate struct {
	base    http.RoundTripper
	arrived chan struct{}
	open    chan struct{}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	g.arrived <- struct{}{}
	select {
	case <-g.open:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return g.base.RoundTrip(r)
}

// Close leaves no goroutine behind: not the dispatcher's, not the HTTP
// client's connections.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	settle := func(atMost int) int { // the count, once it is atMost or after 30 s
		n := runtime.NumGoroutine()
		for deadline := time.Now().Add(30 * time.Second); n > atMost && time.Now().Before(deadline); n = runtime.NumGoroutine() {
			time.Sleep(10 * time.Millisecond)
		}
		return n
	}
	before := runtime.NumGoroutine() // once the earlier tests' have ended
	for n := before; ; before = n {
		time.Sleep(20 * time.Millisecond)
		if n = runtime.NumGoroutine(); n >= before {
			break
		}
	}

	eng, err := Rules{}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Engine: eng, APIBase: sim.URL(), TokenSource: token("t"), Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.ProcessBatch(context.Background(), interleaved(6, 2)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, err := p.Process(context.Background(), []byte(`{"type":"track","userId":"u1","event":"x"}`)); err != nil {
		t.Fatal(err)
	}
	// The check can fail: open connections are goroutines (the client's
	// and the simulator's).
	if n := runtime.NumGoroutine(); n <= before {
		t.Fatalf("%d goroutines with the processor open, %d before: the check would see nothing", n, before)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := settle(before); n > before {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf)
	}
}

// TestNewChecksConfig: New refuses a bad option with the message every
// face gives (the command line puts "--" before the option's name), and
// the zero Config is the embedded defaults sent to Intercom's US region.
func TestNewChecksConfig(t *testing.T) {
	t.Setenv("INTERCOM_ACCESS_TOKEN", "")
	absent := filepath.Join(t.TempDir(), "absent.json")
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{TokenFile: absent}, "no intercom token: set INTERCOM_ACCESS_TOKEN to an access token, or run `intercom-actions auth login` (no token file at " + absent + ")"},
		{Config{TokenSource: token("t"), APIBase: "http://intercom.example.com"},
			"api-base http://intercom.example.com: plain http would send the access token unencrypted; use https (http is allowed only for a loopback address, such as a local simulator)"},
		{Config{TokenSource: token("t"), APIBase: "api.intercom.io"},
			`api-base "api.intercom.io": want an https:// URL with a host`},
		{Config{TokenSource: token("t"), Region: "mars"},
			`unknown intercom region "mars" (expected one of us, north_america, eu, europe, au, australia)`},
		{Config{TokenSource: token("t"), IntercomVersion: "2.17"},
			"intercom-version 2.17 is not supported: want a version from 2.11 to 2.16 (default 2.16)"},
		{Config{TokenSource: token("t"), IntercomVersion: "2.9"},
			"intercom-version 2.9 is not supported: want a version from 2.11 to 2.16 (default 2.16)"},
		{Config{TokenSource: token("t"), ArchivedContacts: "delete"},
			`archived-contacts "delete": want unarchive or dead-letter`},
		{Config{TokenSource: token("t"), SearchWait: time.Hour}, "search-wait 1h0m0s: must be from 0 to 30m0s"},
		{Config{TokenSource: token("t"), CustomAttributes: "drop"},
			`custom-attributes: unknown custom attribute mode "drop" (expected one of send, create, existing)`},
		{Config{TokenSource: token("t"), Concurrency: -1}, "concurrency -1: must be at least 1"},
	} {
		if _, err := New(tc.cfg); err == nil || err.Error() != tc.want {
			t.Errorf("New(%+v): %v, want %s", tc.cfg, err, tc.want)
		}
	}
	for _, base := range []string{"", "https://api.eu.intercom.io", "http://127.0.0.1:8089", "http://localhost:1", "http://[::1]:2"} {
		p, err := New(Config{TokenSource: token("t"), APIBase: base})
		if err != nil {
			t.Errorf("%q: %v", base, err)
			continue
		}
		p.Close()
	}
}

func TestRulesCompile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(file, []byte(`rules:
  - name: Track Event
    action: track_event
    trigger: type == "track" && event == "Paid"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	names := func(eng *engine.Engine) []string {
		var out []string
		for _, r := range eng.Rules() {
			out = append(out, r.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		rules Rules
		want  []string
	}{
		{"defaults", Rules{}, []string{"Identify Contact", "Identify Company", "Track Event"}},
		{"a file instead", Rules{Files: []string{dir}}, []string{"Track Event"}},
		{"a file on the defaults", Rules{Files: []string{file}, WithDefaults: true}, []string{"Identify Contact", "Identify Company", "Track Event"}},
		{"inline and a preset", Rules{Sources: []rules.Source{{Name: "inline.yaml", Data: []byte("rules:\n  - name: N\n    action: add_note\n    trigger: event == \"x\"\n    fields: {body: event}\n")}}, Presets: []string{"classic-company"}},
			[]string{"N", "Classic Company", "Classic Company By Name", "Classic Company Name Only", "Classic Company Removal"}},
	} {
		eng, err := tc.rules.Compile()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := names(eng); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: rules %q, want %q", tc.name, got, tc.want)
		}
	}
	// The defaults' Track Event was replaced by the file's, in its place.
	eng, _ := Rules{Files: []string{file}, WithDefaults: true}.Compile()
	if acts, err := eng.Evaluate([]byte(`{"type":"track","userId":"u","event":"Viewed"}`)); err != nil || len(acts) != 0 {
		t.Errorf("overlay: %v %v", acts, err)
	}

	_, err := Rules{Files: []string{"../../testdata/rules/three-mistakes.yaml"}}.Compile()
	var list rules.ErrorList
	if !errors.As(err, &list) || len(list) != 3 || !strings.HasPrefix(list[0].Error(), "../../testdata/rules/three-mistakes.yaml:5:34: ") {
		t.Errorf("three mistakes: %v", err)
	}
	if _, err := (Rules{Files: []string{filepath.Join(dir, "absent.yaml")}}).Compile(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
	if _, err := (Rules{Presets: []string{"nope"}}).Compile(); err == nil || !strings.HasPrefix(err.Error(), `unknown preset "nope"`) {
		t.Errorf("unknown preset: %v", err)
	}
}

// The caller may reuse its buffers once a call returns: what the processor
// keeps from an event (here the attribute names the client learned) must
// not change with them. u2's event overwrites u1's buffer, "tier" with
// "xxxx"; u3's "tier" (in a buffer of its own) must still be known, so
// each attribute is created once.
func TestCallerMayReuseItsBuffers(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	eng, err := Rules{Sources: []rules.Source{{Name: "rules.yaml", Data: []byte(`rules:
  - name: Users
    action: identify_contact
    fields:
      role: {value: user}
      custom_attributes: traits
`)}}}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	p := newProcessor(t, Config{Engine: eng, APIBase: sim.URL(), CustomAttributes: "create"})
	buf := []byte(`{"type":"identify","userId":"u1","traits":{"tier":"gold"}}`)
	send := func(ev []byte) {
		t.Helper()
		if res, err := p.Process(context.Background(), ev); err != nil || res.Status != Sent {
			t.Fatalf("%s: %+v, %v", ev, res, err)
		}
	}
	send(buf)
	copy(buf, `{"type":"identify","userId":"u2","traits":{"xxxx":"gold"}}`)
	send(buf)
	send([]byte(`{"type":"identify","userId":"u3","traits":{"tier":"gold"}}`))
	var created []string
	for _, r := range sim.Requests() {
		if r.Method == http.MethodPost && r.Path == "/data_attributes" {
			created = append(created, string(r.Body))
		}
	}
	if len(created) != 2 {
		t.Errorf("POST /data_attributes %d times, want 2 (tier and xxxx): %v", len(created), created)
	}
}

// TestRulesFolder: a folder given in Files is read from disk, every *.yaml
// and *.yml in name order, each file named folder/name in messages; an
// empty folder or an absent file is reported as it is.
func TestRulesFolder(t *testing.T) {
	dir := t.TempDir()
	write := func(dir, name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(dir, "b.yml", "rules:\n  - name: B\n    action: track_event\n    trigger: type == \"track\"\n")
	write(dir, "a.yaml", "rules:\n  - name: A\n    action: identify_company\n    trigger: type == \"group\"\n    enabled: false\n")
	write(dir, "notes.txt", "not rules")
	eng, err := Rules{Files: []string{dir}}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range eng.Rules() {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "A,B" {
		t.Errorf("rules %v, want A,B in file-name order", names)
	}

	write(dir, "c.yaml", "rules:\n  - name: C\n    actoin: track_event\n")
	_, err = Rules{Files: []string{dir}}.Compile()
	if want := filepath.Join(dir, "c.yaml") + `:3:5: rule "C": unknown key "actoin" (did you mean "action"?)`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("mistake in a folder's file: got %v, want %s", err, want)
	}

	empty := t.TempDir()
	if _, err := (Rules{Files: []string{empty}}).Compile(); err == nil || err.Error() != empty+": no *.yaml or *.yml rule files in this folder" {
		t.Errorf("empty folder: got %v", err)
	}
	absent := filepath.Join(dir, "absent.yaml")
	_, want := os.Stat(absent)
	if _, err := (Rules{Files: []string{absent}}).Compile(); err == nil || err.Error() != want.Error() {
		t.Errorf("absent file: got %v, want %v", err, want)
	}
}
