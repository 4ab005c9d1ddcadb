package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/internal/auth"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// TestServeWithoutTokenRefuses: serve (and consume) with no token and no
// --api-base refuse to start, rather than deliver nowhere, and say how to
// give a token and how to try it offline.
func TestServeWithoutTokenRefuses(t *testing.T) {
	config := t.TempDir()
	tokenPath := filepath.Join(config, "intercom-actions", "token.json")
	for _, c := range []struct {
		args    []string
		offline string
	}{
		{[]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, "intercom-actions serve --intercom sim"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--intercom", "api"}, "intercom-actions serve --intercom sim"},
		{[]string{"consume", "--brokers", "127.0.0.1:1", "--topic", "events"},
			"run 'intercom-actions simulate --addr 127.0.0.1:8089' and give consume --api-base http://127.0.0.1:8089"},
	} {
		p := startEnv(t, "", []string{"XDG_CONFIG_HOME=" + config}, c.args...)
		code := p.wait(30 * time.Second)
		want := c.args[0] + ": no Intercom token (INTERCOM_ACCESS_TOKEN is not set, and there is no token file at " + tokenPath + "), so nothing could reach Intercom. Give one:\n" +
			"  - set INTERCOM_ACCESS_TOKEN to an access token,\n" +
			"  - or --token-file FILE, a token as 'intercom-actions auth login' saves it,\n" +
			"  - or run 'intercom-actions auth login' once.\n" +
			"To try it offline, with an Intercom simulator (nothing reaches Intercom): " + c.offline + "\n"
		if code != 2 || p.stderr.String() != want {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit 2 and:\n%s", strings.Join(c.args, " "), code, p.stderr.String(), want)
		}
	}
}

// TestServeChecksTheTokenAtStart: the token is checked at
// start (GET /me): one Intercom refuses stops serve before it listens;
// one that works has its admin, workspace and region logged.
func TestServeChecksTheTokenAtStart(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Token: "right", Region: "Europe"})
	defer sim.Close()
	p := startEnv(t, "", []string{"INTERCOM_ACCESS_TOKEN=wrong"}, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--api-base", sim.URL())
	code := p.wait(30 * time.Second)
	want := "serve: Intercom refuses the token: intercom: 401 unauthorized: Access Token Invalid (request sim-000000000001)\n" +
		"  check it with 'intercom-actions auth status': it is mistyped, was revoked, or belongs to a workspace in another region (--region)\n"
	if code != 1 || p.stderr.String() != want {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and:\n%s", code, p.stderr.String(), want)
	}
	s := startServe(t, []string{"INTERCOM_ACCESS_TOKEN=right"}, "--data-dir", t.TempDir(), "--api-base", sim.URL())
	s.waitForStderr(t, 20*time.Second, `msg="serve: Intercom takes the token" admin=Simulator admin_id=1 workspace="Intercom Simulator" workspace_id=sim region=Europe`)
	s.stop(t)
}

// TestServePausesOnARefusedToken: Intercom refuses serve's token while it
// runs (revoked) under load. Delivery pauses: serve keeps taking events
// into the spool, /readyz and the metrics say "delivery paused: token
// refused", nothing is dead-lettered. Once the token file holds a good
// token and serve gets SIGHUP, delivery resumes: every acknowledged event
// is delivered once, and Intercom ends as after a clean run.
func TestServePausesOnARefusedToken(t *testing.T) {
	events := strings.Split(strings.TrimSpace(workload(300)), "\n")
	sim := simulator.NewServer(simulator.Options{Token: "first"})
	defer sim.Close()
	tokenFile := filepath.Join(t.TempDir(), "token.json")
	if err := auth.Save(tokenFile, &oauth2.Token{AccessToken: "first"}); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, nil, "--data-dir", t.TempDir(), "--api-base", sim.URL(), "--token-file", tokenFile,
		"--token-recheck", "1h") // only SIGHUP brings the new token in time
	postBatch := func(evs []string) {
		t.Helper()
		if code, body, _ := post(t, s.base+"/v1/batch", `{"batch":[`+strings.Join(evs, ",")+`]}`); code != 200 {
			t.Fatalf("batch: %d %s", code, body)
		}
	}
	third := len(events) / 3
	postBatch(events[:third])
	sim.SetToken("second") // the first token is revoked while serve sends
	for i := third; i < len(events); i += 20 {
		postBatch(events[i:min(i+20, len(events))]) // still taken, into the spool
	}
	waitForMetrics(t, s.base, `intercom_actions_delivery_paused{reason="token refused"} 1`)
	code, ready := get(t, s.base+"/readyz")
	if code != 200 || !strings.HasPrefix(ready, `{"status":"paused","detail":"delivery paused: token refused (since `) {
		t.Errorf("/readyz: %d %s", code, ready)
	}
	time.Sleep(100 * time.Millisecond)
	waitForMetrics(t, s.base, "intercom_actions_dead_letters_total 0\n", `intercom_actions_delivery_paused{reason="token refused"} 1`)

	if err := auth.Save(tokenFile, &oauth2.Token{AccessToken: "second"}); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	waitForMetrics(t, s.base, `intercom_actions_delivery_paused{reason="token refused"} 0`, "intercom_actions_spool_depth 0\n",
		fmt.Sprintf("intercom_actions_events_dispatched_total{result=\"sent\"} %d\n", len(events)))
	if _, ready := get(t, s.base+"/readyz"); ready != `{"status":"ready"}`+"\n" {
		t.Errorf("/readyz after the pause: %s", ready)
	}
	s.stop(t)
	for _, want := range []string{`msg="delivery paused: token refused; events wait, nothing is dead-lettered for it;`, `msg="serve: SIGHUP: reading the token again"`,
		`msg="delivery resumed: the token works again"`, "dead_lettered=0"} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, s.stderr.String())
		}
	}
	if n := sim.DuplicateEvents(); n != 0 {
		t.Errorf("%d data events sent twice", n)
	}
	if got, want := canonical(t, sim.State()), cleanState(t, workload(300)); got != want {
		t.Errorf("final state differs from a clean run's:\n got: %s\nwant: %s", got, want)
	}
}

// TestServeWaitsOutA5xxStorm: Intercom answers 502 to everything for a
// while (longer than the retries); serve says "Intercom unreachable since
// …" in its log, /readyz and metrics, dead-letters nothing, and once the
// storm is over delivers everything: the state of a clean run.
func TestServeWaitsOutA5xxStorm(t *testing.T) {
	events := strings.Split(strings.TrimSpace(workload(300)), "\n")
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	s := startServe(t, nil, "--data-dir", t.TempDir(), "--api-base", sim.URL())
	third := len(events) / 3
	if code, body, _ := post(t, s.base+"/v1/batch", `{"batch":[`+strings.Join(events[:third], ",")+`]}`); code != 200 {
		t.Fatalf("batch: %d %s", code, body)
	}
	sim.SetOutage(simulator.Outage{Status: 502})
	for i := third; i < len(events); i += 20 {
		if code, body, _ := post(t, s.base+"/v1/batch", `{"batch":[`+strings.Join(events[i:min(i+20, len(events))], ",")+`]}`); code != 200 {
			t.Fatalf("batch: %d %s", code, body)
		}
	}
	// The client's retries (8, from 200 ms) take seconds before it counts as
	// an outage.
	waitFor(t, 60*time.Second, "the outage in /readyz", func() bool {
		_, ready := get(t, s.base+"/readyz")
		return strings.HasPrefix(ready, `{"status":"paused","detail":"delivery paused: Intercom unreachable since `)
	})
	waitForMetrics(t, s.base, `intercom_actions_delivery_paused{reason="intercom unreachable"} 1`, "intercom_actions_intercom_unreachable_since_seconds ",
		"intercom_actions_dead_letters_total 0\n")
	sim.SetOutage(simulator.Outage{})
	waitFor(t, 120*time.Second, "every event sent", func() bool {
		_, m := get(t, s.base+"/metrics")
		return strings.Contains(m, fmt.Sprintf("intercom_actions_events_dispatched_total{result=\"sent\"} %d\n", len(events)))
	})
	s.stop(t)
	for _, want := range []string{`msg="delivery paused: Intercom unreachable since `, `msg="delivery resumed: Intercom answers again"`, "dead_lettered=0"} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, s.stderr.String())
		}
	}
	if got, want := canonical(t, sim.State()), cleanState(t, workload(300)); got != want {
		t.Errorf("final state differs from a clean run's:\n got: %s\nwant: %s", got, want)
	}
}

// TestSendStopsAfterOutageWaitAndResumes: send against an API nobody
// answers stops after --outage-wait and dead-letters nothing; having
// settled nothing it keeps no checkpoint, and the same command, once
// Intercom answers, ends as a clean run.
func TestSendStopsAfterOutageWaitAndResumes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close() // nobody listens there
	dir := t.TempDir()
	writeFile(t, dir, "events.ndjson", workload(50))
	p := start(t, dir, "send", "--api-base", down, "--outage-wait", "1s", "events.ndjson")
	if code := p.wait(60 * time.Second); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, p.stderr.String())
	}
	errOut := p.stderr.String()
	for _, want := range []string{
		"send: stopped: identify_contact: create contact: intercom unreachable since ",
		" (gave up after 1s): intercom: ",
		"\n  nothing was dead-lettered for it; check --api-base or --region and the network, then continue once Intercom answers\n",
		"send: nothing was settled, so no checkpoint is kept: run the same command again to start over\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "dead-letter.ndjson")); !os.IsNotExist(err) {
		t.Errorf("dead letters written: %v", err)
	}
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	p = start(t, dir, "send", "--api-base", sim.URL(), "events.ndjson")
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("the run again: exit %d:\n%s", code, p.stderr.String())
	}
	if got, want := canonical(t, sim.State()), cleanState(t, workload(50)); got != want {
		t.Errorf("final state differs from a clean run's:\n got: %s\nwant: %s", got, want)
	}
}

// TestSendStopsAfterOutageWaitOn429s: a storm of 429s (Intercom answers
// GET /me at start, then only 429s) is bounded by --outage-wait as other
// outages are: send stops resumably, dead-letters nothing. It used to wait
// the storm out for as long as it lasted.
func TestSendStopsAfterOutageWaitOn429s(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/me" {
			sim.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"type":"error.list","errors":[{"code":"rate_limit_exceeded","message":"Exceeded rate limit"}]}`)
	}))
	defer front.Close()
	dir := t.TempDir()
	writeFile(t, dir, "events.ndjson", workload(20))
	p := start(t, dir, "send", "--api-base", front.URL, "--outage-wait", "1s", "events.ndjson")
	if code := p.wait(60 * time.Second); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, p.stderr.String())
	}
	for _, want := range []string{
		": intercom unreachable since ",
		" (gave up after 1s): intercom: 429 rate_limit_exceeded: Exceeded rate limit",
		"\n  nothing was dead-lettered for it; check --api-base or --region and the network, then continue once Intercom answers\n",
	} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "dead-letter.ndjson")); !os.IsNotExist(err) {
		t.Errorf("dead letters written: %v", err)
	}
}

// TestSendStopsOnATokenRefusedLater: a token Intercom takes at start and
// refuses later stops send at once, as before, resumably: resumed with a
// good token, and its dead letter (the action that met the 401) sent
// again, Intercom ends as after a clean run.
func TestSendStopsOnATokenRefusedLater(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Token: "first"})
	defer sim.Close()
	var n atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 40 {
			sim.SetToken("second") // revoked mid-run
		}
		sim.ServeHTTP(w, r)
	}))
	defer front.Close()
	dir := t.TempDir()
	writeFile(t, dir, "events.ndjson", workload(100))
	p := startEnv(t, dir, []string{"INTERCOM_ACCESS_TOKEN=first"}, "send", "--api-base", front.URL, "--concurrency", "2", "events.ndjson")
	if code := p.wait(60 * time.Second); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, p.stderr.String())
	}
	for _, want := range []string{
		": intercom refused the access token: intercom: 401 unauthorized: Access Token Invalid",
		"; with a token that works, continue with: intercom-actions send --resume --api-base " + front.URL + " --concurrency 2 events.ndjson\n",
	} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr.String())
		}
	}
	p = startEnv(t, dir, []string{"INTERCOM_ACCESS_TOKEN=second"}, "send", "--resume", "--api-base", sim.URL(), "events.ndjson")
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("resumed run: exit %d:\n%s", code, p.stderr.String())
	}
	p = startEnv(t, dir, []string{"INTERCOM_ACCESS_TOKEN=second"}, "send", "--api-base", sim.URL(), "--dead-letter", "again.ndjson", "dead-letter.ndjson")
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("dead letters sent again: exit %d:\n%s", code, p.stderr.String())
	}
	if got, want := canonical(t, sim.State()), cleanState(t, workload(100)); got != want {
		t.Errorf("final state differs from a clean run's:\n got: %s\nwant: %s", got, want)
	}
}

// TestConsumePausesOnARefusedToken: Intercom refuses consume's token
// while it runs; delivery pauses, nothing new is committed, nothing is
// dead-lettered; after the token file is fixed and SIGHUP, every record is
// sent and committed, and Intercom ends as after a clean run.
func TestConsumePausesOnARefusedToken(t *testing.T) {
	events := workload(300)
	want := cleanState(t, events)
	lines := strings.SplitAfter(events, "\n")
	c := newKafka(t, 2)
	sim := simulator.NewServer(simulator.Options{Token: "first"})
	defer sim.Close()
	tokenFile := filepath.Join(t.TempDir(), "token.json")
	if err := auth.Save(tokenFile, &oauth2.Token{AccessToken: "first"}); err != nil {
		t.Fatal(err)
	}
	p := start(t, t.TempDir(), consumeArgs(c, sim.URL(), "--token-file", tokenFile, "--token-recheck", "1h")...)
	waitFor(t, 30*time.Second, "the partitions", func() bool { return p.owned() == "events/0,events/1" })
	produceEvents(t, c, strings.Join(lines[:150], ""))
	waitFor(t, 30*time.Second, "the first half committed", func() bool { return lag(t, c, "g") == 0 })
	sim.SetToken("second") // revoked
	produceEvents(t, c, strings.Join(lines[150:], ""))
	p.waitForStderr(t, 30*time.Second, `msg="delivery paused: token refused; events wait, nothing is dead-lettered for it;`)
	time.Sleep(500 * time.Millisecond) // five commit intervals
	if l := lag(t, c, "g"); l != 150 {
		t.Errorf("lag %d while paused, want 150: nothing new committed", l)
	}
	if err := auth.Save(tokenFile, &oauth2.Token{AccessToken: "second"}); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	waitFor(t, 30*time.Second, "every record committed", func() bool { return lag(t, c, "g") == 0 })
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 || !strings.Contains(p.stderr.String(), " failed=0 ") ||
		!strings.Contains(p.stderr.String(), "dead_lettered=0") {
		t.Errorf("exit %d:\n%s", code, p.stderr.String())
	}
	if got := canonical(t, sim.State()); got != want {
		t.Errorf("final state differs from a clean run's:\n got: %s\nwant: %s", got, want)
	}
}
