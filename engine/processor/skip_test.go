package processor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// sessionMix is a realistic day of an analytics.js app's traffic, in time
// order: users with several sessions (hours apart, each under an hour),
// an identify on about half of the page loads (always on a user's first),
// a group call per session, a track on about half of the page loads, a
// user's name changed now and then at the start of a session, and a
// company's plan now and then. minimum is the fewest calls that bring
// Intercom to the same state: one create per user, one update per later
// session with an identify (last_seen_at moves by hours), one upsert per
// company version, one attach per membership, one call per track.
type sessionMix struct {
	events  [][]byte
	minimum int
}

func newSessionMix(seed uint64, users int) sessionMix {
	rnd := rand.New(rand.NewPCG(seed, 1))
	start := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	companies := max(1, users/5)
	changes := make([][]time.Time, companies) // when each company changed plan
	for co := range changes {
		for range rnd.IntN(3) {
			changes[co] = append(changes[co], start.Add(time.Duration(rnd.IntN(20*60))*time.Minute))
		}
	}
	version := func(co int, at time.Time) int { // the company's plan version at a time
		v := 0
		for _, c := range changes[co] {
			if !c.After(at) {
				v++
			}
		}
		return v
	}
	versions := map[string]bool{} // company@version sent in a group call
	var mix sessionMix
	type timed struct {
		at time.Time
		ev string
	}
	var all []timed
	for u := range users {
		co := rnd.IntN(companies)
		name := 0
		sessions := 2 + rnd.IntN(5)
		for s := range sessions {
			at := start.Add(time.Duration(s*3+rnd.IntN(2))*time.Hour + time.Duration(rnd.IntN(60))*time.Minute)
			if s > 0 && rnd.IntN(8) == 0 {
				name++ // a trait changed: the session's first identify carries it
			}
			identified, grouped := false, false
			pages := 2 + rnd.IntN(6)
			for p := range pages {
				at = at.Add(time.Duration(1+rnd.IntN(6)) * time.Minute)
				ts := at.Format(time.RFC3339)
				if (s == 0 && p == 0) || rnd.IntN(2) == 0 {
					all = append(all, timed{at, fmt.Sprintf(`{"type":"identify","userId":"u%d","timestamp":%q,"traits":{"email":"u%d@example.com","name":"User %d v%d"}}`, u, ts, u, u, name)})
					identified = true
				}
				if !grouped { // after the first page's identify, if any
					v := version(co, at)
					all = append(all, timed{at.Add(time.Second), fmt.Sprintf(`{"type":"group","userId":"u%d","groupId":"co%d","timestamp":%q,"traits":{"name":"Company %d","plan":"plan-%d","employees":%d}}`, u, co, ts, co, v, 10+co)})
					versions[fmt.Sprintf("%d@%d", co, v)] = true
					grouped = true
				}
				if rnd.IntN(2) == 0 {
					all = append(all, timed{at.Add(2 * time.Second), fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Viewed Page %d","timestamp":%q}`, u, p, ts)})
					mix.minimum++
				}
			}
			if s > 0 && identified {
				mix.minimum++ // the session's update
			}
		}
		mix.minimum += 2 // the create, the attach
	}
	mix.minimum += len(versions)
	// In time order, as a day of traffic arrives (stable: a user's events at one instant stay in order).
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && all[j].at.Before(all[j-1].at); j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	for _, t := range all {
		mix.events = append(mix.events, []byte(t.ev))
	}
	return mix
}

// sendMix sends the mix to a new simulator and returns its final state and
// the calls spent.
func sendMix(t testing.TB, mix sessionMix, cfg Config) (simulator.State, int) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	cfg.APIBase, cfg.TokenSource = sim.URL(), token("t")
	cfg.Concurrency = 1 // one order of the company's upserts for both runs
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	results, err := p.ProcessBatch(context.Background(), mix.events)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Status != Sent {
			t.Fatalf("event %d %s: %+v", i, mix.events[i], r)
		}
	}
	return sim.State(), len(sim.Requests())
}

// TestSkipUnchangedEndsInTheSameState: on a realistic session mix, the
// calls are at most 1.15 times the minimum, and Intercom ends as a run
// that sends every call leaves it: the latest traits, last_seen_at within
// the resolution of the last identify, every track once, every membership
// attached.
func TestSkipUnchangedEndsInTheSameState(t *testing.T) {
	mix := newSessionMix(1, 60)
	every, callsEvery := sendMix(t, mix, Config{SendUnchanged: true})
	skip, calls := sendMix(t, mix, Config{})
	t.Logf("%d events: %d calls sending every call, %d skipping unchanged; minimum %d", len(mix.events), callsEvery, calls, mix.minimum)
	if float64(calls) > 1.15*float64(mix.minimum) {
		t.Errorf("%d calls skipping unchanged, more than 1.15 × the minimum %d", calls, mix.minimum)
	}
	if calls >= callsEvery {
		t.Errorf("%d calls skipping unchanged, %d sending every call", calls, callsEvery)
	}
	a, b := every.Canonical(), skip.Canonical()
	if len(a.Contacts) != len(b.Contacts) {
		t.Fatalf("%d contacts, want %d", len(b.Contacts), len(a.Contacts))
	}
	for i := range a.Contacts {
		if d := a.Contacts[i].LastSeenAt - b.Contacts[i].LastSeenAt; d < 0 || d > int64(time.Hour/time.Second) {
			t.Errorf("contact %s: last_seen_at %d, the last identify's %d", a.Contacts[i].ExternalID, b.Contacts[i].LastSeenAt, a.Contacts[i].LastSeenAt)
		}
		a.Contacts[i].LastSeenAt, b.Contacts[i].LastSeenAt = 0, 0
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the state skipping unchanged differs from sending every call:\n%+v\nwant\n%+v", b, a)
	}
	if len(a.Events) == 0 || len(a.Companies) == 0 {
		t.Errorf("the mix sent no track or group: %+v", a)
	}
}

// BenchmarkSessionMix reports the calls per event of the realistic session
// mix and the calls against the minimum that brings Intercom to the same
// state (x_minimum), sending every call and skipping unchanged ones.
func BenchmarkSessionMix(b *testing.B) {
	mix := newSessionMix(2, 200)
	for _, c := range []struct {
		name string
		cfg  Config
	}{{"every-call", Config{SendUnchanged: true}}, {"skip-unchanged", Config{}}} {
		b.Run(c.name, func(b *testing.B) {
			var calls int
			for b.Loop() {
				_, calls = sendMix(b, mix, c.cfg)
			}
			b.ReportMetric(float64(calls)/float64(len(mix.events)), "calls/event")
			b.ReportMetric(float64(calls)/float64(mix.minimum), "x_minimum")
		})
	}
}

// TestRepeatedIdentifySendsNothing: through Process, as every face sends,
// an identify repeated with the same traits sends nothing and says so in
// its Result; a changed trait is sent; with SendUnchanged
// (--no-skip-unchanged) the repeat is sent too.
func TestRepeatedIdentifySendsNothing(t *testing.T) {
	identify := func(name string) []byte {
		return []byte(`{"type":"identify","userId":"u1","timestamp":"2026-01-01T10:00:00Z","traits":{"email":"ada@example.com","name":"` + name + `"}}`)
	}
	for _, c := range []struct {
		cfg                Config
		repeatCalls, saved int
	}{{Config{}, 0, 1}, {Config{SendUnchanged: true}, 1, 0}} {
		sim := simulator.NewServer(simulator.Options{})
		c.cfg.APIBase = sim.URL()
		p := newProcessor(t, c.cfg)
		ctx := context.Background()
		for i, step := range []struct {
			name         string
			calls, saved int
		}{{"Ada", 1, 0}, {"Ada", c.repeatCalls, c.saved}, {"Ada L.", 1, 0}} {
			r, err := p.Process(ctx, identify(step.name))
			if err != nil || r.Status != Sent || r.Calls != step.calls || r.Saved != step.saved {
				t.Errorf("SendUnchanged %v, identify %d (%s): %+v, %v; want %d calls, %d saved",
					c.cfg.SendUnchanged, i, step.name, r, err, step.calls, step.saved)
			}
		}
		if got := sim.State().Contacts[0].Name; got != "Ada L." {
			t.Errorf("Intercom holds name %q", got)
		}
		sim.Close()
	}
}

// TestLastSeenResolutionOption: an identify one minute later is no change
// at the default resolution (1 h); with the option at 0 it is sent.
func TestLastSeenResolutionOption(t *testing.T) {
	identify := func(ts string) []byte {
		return []byte(`{"type":"identify","userId":"u1","timestamp":"` + ts + `","traits":{"email":"ada@example.com"}}`)
	}
	for _, c := range []struct {
		option, value string
		calls         int
	}{{"", "", 0}, {"last-seen-resolution", "0", 1}} {
		sim := simulator.NewServer(simulator.Options{})
		cfg := Config{APIBase: sim.URL()}
		if c.option != "" {
			if err := cfg.Set(c.option, c.value); err != nil {
				t.Fatal(err)
			}
		}
		p := newProcessor(t, cfg)
		ctx := context.Background()
		if _, err := p.Process(ctx, identify("2026-01-01T10:00:00Z")); err != nil {
			t.Fatal(err)
		}
		r, err := p.Process(ctx, identify("2026-01-01T10:01:00Z"))
		if err != nil || r.Calls != c.calls {
			t.Errorf("--%s=%s: an identify a minute later: %+v, %v; want %d calls", c.option, c.value, r, err, c.calls)
		}
		sim.Close()
	}
}
