package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
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

// workload is n events (n/5 users in 50 companies) of
// simulator.Workload, as NDJSON.
func workload(n int) string {
	return strings.Join(simulator.Workload(n/5, 50), "\n") + "\n"
}

// sendAll sends events to a fresh simulator with the given faults and
// returns its final state, the summary and the dead letters.
func sendAll(t *testing.T, events string, faults simulator.Faults) (simulator.State, Summary, string) {
	return sendTo(t, events, simulator.Options{Faults: faults})
}

// sendTo is sendAll with any simulator options.
func sendTo(t *testing.T, events string, opts simulator.Options) (simulator.State, Summary, string) {
	t.Helper()
	opts.Token, opts.Seed = "tok", 7
	faults := opts.Faults
	sim := simulator.NewServer(opts)
	defer sim.Close()
	var dl bytes.Buffer
	d, client := simDispatcher(t, sim, rest.Config{MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxRetries: 12}, 8, &dl)
	sum, err := d.Run(context.Background(), delivery.NewLineSource("events", strings.NewReader(events)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("faults %+v: %d events, %d actions sent, client: %s", faults, sum.Events, sum.ActionsSent, client.Stats())
	return sim.State(), sum, dl.String()
}

// simDispatcher returns a dispatcher with the default rules that sends to
// sim (whose token is "tok") through a client configured by cfg, merging
// the upserts of a company still queued as send does (action.Merges).
func simDispatcher(tb testing.TB, sim *simulator.Server, cfg rest.Config, concurrency int, dl io.Writer) (*Dispatcher, *rest.Client) {
	tb.Helper()
	cfg.BaseURL = sim.URL()
	cfg.TokenSource = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok"})
	client, err := rest.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	set, _ := rules.ParseAll(rules.Defaults()...)
	eng, err := engine.Compile(set)
	if err != nil {
		tb.Fatal(err)
	}
	var dead delivery.DeadLetters
	if dl != nil {
		dead = delivery.DeadLetterWriter(dl)
	}
	merges := &action.Merges{}
	d, err := New(Config{Engine: eng, Executor: action.Executor{API: client, Merges: merges}, Merges: merges,
		Concurrency: concurrency, Sink: delivery.Sink{DeadLetters: dead}})
	if err != nil {
		tb.Fatal(err)
	}
	return d, client
}

// TestFaultyRunEndsLikeACleanRun sends 10,000 events once to a clean
// simulator and once to one that answers 2% of requests with 5xx and drops
// 1% of connections; every event must arrive exactly as in the clean run,
// with nothing dead-lettered.
func TestFaultyRunEndsLikeACleanRun(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	events := workload(n)
	clean, cleanSum, cleanDL := sendAll(t, events, simulator.Faults{})
	faulty, faultySum, faultyDL := sendAll(t, events, simulator.Faults{ErrorRate: 0.02, DropRate: 0.01})

	for name, dl := range map[string]string{"clean": cleanDL, "faulty": faultyDL} {
		if dl != "" {
			t.Errorf("%s run dead-lettered:\n%s", name, firstLines(dl, 5))
		}
	}
	if cleanSum.Events != n || cleanSum.Sent != n || faultySum.Sent != n {
		t.Errorf("sent %d (clean) and %d (faulty) of %d events", cleanSum.Sent, faultySum.Sent, n)
	}
	users := n / 5
	if len(clean.Contacts) != users || len(clean.Events) != 2*users || len(clean.Companies) != min(50, users) {
		t.Errorf("clean state has %d contacts, %d events, %d companies; want %d, %d, %d",
			len(clean.Contacts), len(clean.Events), len(clean.Companies), users, 2*users, min(50, users))
	}
	a, _ := json.Marshal(clean.Canonical())
	b, _ := json.Marshal(faulty.Canonical())
	if !bytes.Equal(a, b) {
		t.Errorf("the faulty run's final state differs from the clean run's:\n%s", firstDiff(string(a), string(b)))
	}
}

// TestRateLimitStormLosesNothing sends through a 429 storm (a burst of 100
// rejections, more than any retry budget, then a tight per-second limit):
// everything arrives, as in a clean run, and nothing is dead-lettered.
func TestRateLimitStormLosesNothing(t *testing.T) {
	events := workload(1000)
	clean, _, _ := sendAll(t, events, simulator.Faults{})
	stormy, sum, dl := sendTo(t, events, simulator.Options{
		RateLimit: 700, Window: time.Second,
		Faults: simulator.Faults{Burst429: 100},
	})
	if dl != "" || sum.Sent != 1000 {
		t.Errorf("sent %d of 1000 (%+v); dead letters:\n%s", sum.Sent, sum, firstLines(dl, 5))
	}
	a, _ := json.Marshal(clean.Canonical())
	b, _ := json.Marshal(stormy.Canonical())
	if !bytes.Equal(a, b) {
		t.Errorf("the stormy run's final state differs from the clean run's:\n%s", firstDiff(string(a), string(b)))
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func firstDiff(a, b string) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			lo := max(0, i-200)
			return fmt.Sprintf("clean:  ...%s\nfaulty: ...%s", a[lo:min(len(a), i+200)], b[lo:min(len(b), i+200)])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(a), len(b))
}

// TestUnauthorizedStopsTheRun: Intercom refuses the token. The run stops at
// the first 401 instead of failing every remaining action one by one: at
// most one request per worker reaches Intercom, nothing more is read, and
// every event read is dead-lettered with the reason, none lost silently.
func TestUnauthorizedStopsTheRun(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Token: "another-token"})
	defer sim.Close()
	var dl bytes.Buffer
	const workers = 4
	d, client := simDispatcher(t, sim, rest.Config{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, workers, &dl)
	sum, err := d.Run(context.Background(), delivery.NewLineSource("events", strings.NewReader(workload(1000))))

	var ae *intercom.APIError
	if !errors.Is(err, intercom.ErrUnauthorized) || !errors.As(err, &ae) || ae.Status != 401 ||
		!strings.HasPrefix(err.Error(), "intercom refused the access token: intercom: 401 unauthorized: Access Token Invalid (request sim-") {
		t.Fatalf("Run error = %v, want intercom.ErrUnauthorized with the 401", err)
	}
	if calls := client.Stats().Calls; calls < 1 || calls > workers {
		t.Errorf("%d calls reached Intercom, want 1 to %d (one per worker at most)", calls, workers)
	}
	lines := strings.Split(strings.TrimSpace(dl.String()), "\n")
	stopped := 0
	for _, line := range lines {
		switch {
		case strings.Contains(line, `"error":"not sent: the run was stopped (intercom refused the access token: intercom: 401 unauthorized: Access Token Invalid (request sim-`):
			stopped++
		case strings.Contains(line, `: intercom: 401 unauthorized: Access Token Invalid (request sim-`),
			strings.Contains(line, `: context canceled (the run was stopped: intercom refused the access token: intercom: 401 unauthorized: Access Token Invalid (request sim-`):
			// the 401 itself, or a call in flight when another worker met it
		default:
			t.Errorf("dead letter without the reason: %s", line)
		}
	}
	if sum.Read == 0 || sum.Events != sum.Read || sum.Failed != sum.Read || sum.Sent != 0 ||
		sum.DeadLettered != sum.Read || len(lines) != sum.Read || stopped < sum.Read-workers {
		t.Errorf("summary %+v; %d dead letters, %d of them 'not sent'", sum, len(lines), stopped)
	}
	t.Logf("read %d of 1000 events; %d calls; %d dead letters, %d not sent", sum.Read, client.Stats().Calls, len(lines), stopped)
}

// TestLostAnswersStoreNoEventTwice: 5% of the answers are lost after the
// simulator applied the request (a dropped connection or a proxy's error
// after Intercom did the work). The client resends exactly the same body,
// and Intercom's event de-duplication (modelled by the simulator) ignores
// the copy: no data event is stored twice, nothing is dead-lettered, and
// the final state equals a clean run's.
func TestLostAnswersStoreNoEventTwice(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 1000
	}
	events := workload(n)
	clean, _, _ := sendAll(t, events, simulator.Faults{})
	opts := simulator.Options{Token: "tok", Seed: 11, Faults: simulator.Faults{LostAnswerRate: 0.05}}
	sim := simulator.NewServer(opts)
	defer sim.Close()
	var dl bytes.Buffer
	d, client := simDispatcher(t, sim, rest.Config{MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxRetries: 12}, 8, &dl)
	sum, err := d.Run(context.Background(), delivery.NewLineSource("events", strings.NewReader(events)))
	if err != nil {
		t.Fatal(err)
	}
	if dl.Len() != 0 || sum.Sent != n {
		t.Errorf("sent %d of %d; dead letters:\n%s", sum.Sent, n, firstLines(dl.String(), 5))
	}

	// Every POST /events whose answer was lost after it was stored was sent
	// again, byte for byte.
	reqs := sim.Requests()
	bodies := map[string]int{}
	lostEvents, resent := 0, 0
	for _, r := range reqs {
		if r.Method != "POST" || r.Path != "/events" {
			continue
		}
		if bodies[string(r.Body)]++; bodies[string(r.Body)] > 1 {
			resent++
		}
		if r.Status == 0 {
			lostEvents++
		}
	}
	if lostEvents == 0 || resent < lostEvents {
		t.Errorf("%d event answers lost, %d events resent: the test needs lost answers, each resent with the same body", lostEvents, resent)
	}
	final := sim.State()
	seen := map[string]bool{}
	for _, e := range final.Canonical().Events {
		k, _ := json.Marshal(e)
		if seen[string(k)] {
			t.Errorf("event stored twice: %s", k)
		}
		seen[string(k)] = true
	}
	a, _ := json.Marshal(clean.Canonical())
	b, _ := json.Marshal(final.Canonical())
	if !bytes.Equal(a, b) {
		t.Errorf("the lossy run's final state differs from the clean run's:\n%s", firstDiff(string(a), string(b)))
	}
	t.Logf("%d events: %d stored (clean run %d); %d POST /events answers lost after storing, %d resent; client: %s",
		n, len(final.Events), len(clean.Events), lostEvents, resent, client.Stats())
}
