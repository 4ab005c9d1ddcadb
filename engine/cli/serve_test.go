package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	analytics "gopkg.in/segmentio/analytics-go.v3"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// served is a running `serve` process and its base URL.
type served struct {
	*proc
	base string
}

var listenRE = regexp.MustCompile(`msg="serve: listening" addr=(http://[0-9.:]+)`)

// startServe runs `serve` with args (a free loopback port unless they say
// otherwise) and waits until it listens.
func startServe(t testing.TB, env []string, args ...string) *served {
	t.Helper()
	p := startEnv(t, "", env, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	var base string
	waitFor(t, 30*time.Second, "serve to listen", func() bool {
		if m := listenRE.FindStringSubmatch(p.stderr.String()); m != nil {
			base = m[1]
			return true
		}
		if !p.running() {
			t.Fatalf("serve exited %d:\n%s", p.code, p.stderr.String())
		}
		return false
	})
	return &served{p, base}
}

// post sends body to url and returns the status, the answer and its headers.
func post(t testing.TB, url, body string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// simStateOf reads the state of serve's in-process simulator.
func simStateOf(t *testing.T, base string) simulator.State {
	t.Helper()
	_, body := get(t, base+"/_sim/state")
	var st simulator.State
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return st
}

// waitForMetrics waits until serve's /metrics holds every line part in
// wants, as serve counts what it settles just after Intercom has it; after
// 20 s it fails the test with those missing.
func waitForMetrics(t testing.TB, base string, wants ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, metrics := get(t, base+"/metrics")
		var missing []string
		for _, want := range wants {
			if !strings.Contains(metrics, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s, metrics lack %q:\n%s", missing, metrics)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *served) stop(t testing.TB) {
	t.Helper()
	s.signal(syscall.SIGTERM)
	if code := s.wait(60 * time.Second); code != 0 {
		t.Errorf("serve exited %d after SIGTERM:\n%s", code, s.stderr.String())
	}
}

// TestServeIntercomSimSendsToTheSimulator: serve on a fresh machine to
// try it offline — --intercom sim and a free port, no token, no data dir
// yet — says it uses the in-process simulator, takes a curl-style track,
// and the contact appears in the simulator's state.
func TestServeIntercomSimSendsToTheSimulator(t *testing.T) {
	stateHome := t.TempDir()
	s := startServe(t, []string{"XDG_STATE_HOME=" + stateHome}, "--intercom", "sim")
	defer s.stop(t)
	// serve writes these after the listening line startServe waited for.
	for _, want := range []string{
		`data_dir=` + filepath.Join(stateHome, "intercom-actions") + ` `,
		`msg="serve: actions go to an in-process Intercom simulator (--intercom sim); nothing reaches Intercom" sim_state=` + s.base + "/_sim/state\n",
		`msg="serve: no write key configured: any write key is accepted (set --write-key or INTERCOM_ACTIONS_WRITE_KEYS)"`,
	} {
		s.waitForStderr(t, 20*time.Second, want)
	}
	code, body, _ := post(t, s.base+"/v1/identify", `{"userId":"u1","traits":{"email":"ada@example.com","name":"Ada Lovelace"}}`)
	if code != 200 || body != `{"success":true}`+"\n" {
		t.Fatalf("%d %s", code, body)
	}
	post(t, s.base+"/v1/track", `{"userId":"u1","event":"Signed Up","timestamp":"2026-01-01T00:00:00Z"}`)
	waitFor(t, 20*time.Second, "the contact and its event", func() bool { return len(simStateOf(t, s.base).Events) == 1 })
	st := simStateOf(t, s.base)
	if c := st.Contacts[0]; c.ExternalID != "u1" || c.Email != "ada@example.com" || c.Name != "Ada Lovelace" || st.Events[0].EventName != "Signed Up" {
		t.Errorf("state: %+v", st)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, s.base+path); code != 200 {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	// The event is settled (and counted, and gone from the spool) just
	// after Intercom has it.
	waitForMetrics(t, s.base,
		`intercom_actions_events_received_total{endpoint="identify"} 1`,
		`intercom_actions_actions_total{action="track_event",status="sent"} 1`,
		`intercom_actions_spool_depth 0`,
		`intercom_actions_intercom_rate_limit_remaining `,
		`intercom_actions_intercom_requests_total{endpoint="POST /events"} 1`,
	)
}

// TestAnalyticsGoEndToEnd: the real Segment Go library, unmodified, sends
// identify, group and track for 200 users to serve; the simulator ends
// with exactly those contacts, companies and events.
func TestAnalyticsGoEndToEnd(t *testing.T) {
	s := startServe(t, nil, "--data-dir", t.TempDir(), "--write-key", "wk-test", "--intercom", "sim")
	defer s.stop(t)
	client, err := analytics.NewWithConfig("wk-test", analytics.Config{
		Endpoint:  s.base,
		Interval:  50 * time.Millisecond,
		BatchSize: 100,
		Logger:    testLogger{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	const users = 200
	for u := range users {
		id := fmt.Sprintf("u%03d", u)
		client.Enqueue(analytics.Identify{UserId: id, Traits: analytics.NewTraits().SetEmail(id + "@example.com").SetName("User " + id)})
		client.Enqueue(analytics.Group{UserId: id, GroupId: fmt.Sprintf("g%d", u%20), Traits: analytics.NewTraits().SetName(fmt.Sprintf("Company %d", u%20))})
		client.Enqueue(analytics.Track{UserId: id, Event: "Signed Up", Properties: analytics.NewProperties().Set("plan", "pro")})
	}
	if err := client.Close(); err != nil { // flushes
		t.Fatal(err)
	}
	var want []string
	for u := range users {
		id := fmt.Sprintf("u%03d", u)
		want = append(want, fmt.Sprintf("user %s/%s@example.com companies=[g%d(Company %d)] events=[Signed Up]", id, id, u%20, u%20))
	}
	sort.Strings(want)
	waitFor(t, 60*time.Second, "200 data events", func() bool { return len(simStateOf(t, s.base).Events) == users })
	// A group that overtook its identify waits for it; let those settle.
	waitFor(t, 60*time.Second, "every company attached", func() bool { return simState(simStateOf(t, s.base)) == strings.Join(want, "\n") })
	st := simStateOf(t, s.base)
	if len(st.Contacts) != users || len(st.Companies) != 20 || len(st.Events) != users {
		t.Errorf("%d contacts, %d companies, %d events", len(st.Contacts), len(st.Companies), len(st.Events))
	}
	for _, c := range st.Contacts {
		if c.Name != "User "+c.ExternalID {
			t.Errorf("contact %s named %q", c.ExternalID, c.Name)
		}
	}
	_, metrics := get(t, s.base+"/metrics")
	if !strings.Contains(metrics, `intercom_actions_events_received_total{endpoint="batch"} 600`) || !strings.Contains(metrics, "intercom_actions_dead_letters_total 0") {
		t.Errorf("metrics:\n%s", grepLines(metrics, "intercom_actions_events_received_total", "intercom_actions_dead_letters_total"))
	}
}

type testLogger struct{ t *testing.T }

func (l testLogger) Logf(format string, args ...any)   { l.t.Logf("analytics-go: "+format, args...) }
func (l testLogger) Errorf(format string, args ...any) { l.t.Errorf("analytics-go: "+format, args...) }

func grepLines(s string, subs ...string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(line, sub) {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestServeRejections: through the real server, with write keys and a
// tiny spool: a bad key, bad JSON, an event and a batch over Segment's
// limits, a gzip bomb, and a full spool (503 with Retry-After), each with
// its reason; the metrics count them by reason.
func TestServeRejections(t *testing.T) {
	s := startServe(t, nil, "--data-dir", t.TempDir(), "--write-key", "wk", "--spool-max", "3KB", "--intercom", "api", "--api-base", "http://127.0.0.1:1", "--shutdown-timeout", "100ms")
	defer func() {
		s.signal(syscall.SIGTERM)
		// Intercom is unreachable: delivery is paused, and the stop ends the
		// wait at once, cleanly; never having reached Intercom, the events
		// stay in the spool, none dead-lettered.
		if code := s.wait(30 * time.Second); code != 0 || !strings.Contains(s.stderr.String(), "dead_lettered=0 outcome_unknown=0 left_in_spool=6") {
			t.Errorf("exit %d, want 0 (a clean stop), all 6 events left in the spool:\n%s", code, s.stderr.String())
		}
	}()
	auth := []string{"Authorization", "Basic " + basic("wk")}
	big := `{"userId":"u1","event":"E","properties":{"x":"` + strings.Repeat("a", 33<<10) + `"}}`
	cases := []struct {
		name   string
		path   string
		body   string
		header []string
		code   int
		answer string
	}{
		{"no key", "/v1/track", `{"userId":"u1","event":"E"}`, nil, 401, `{"success":false,"error":"no write key: send it as the HTTP Basic user name, or as writeKey in the body"}`},
		{"bad key", "/v1/track", `{"userId":"u1","event":"E"}`, []string{"Authorization", "Basic " + basic("nope")}, 401, `{"success":false,"error":"unknown write key"}`},
		{"bad JSON", "/v1/track", `{"userId":`, auth, 400, `{"success":false,"error":"body is not a JSON object: unexpected end of JSON input (at byte 10)"}`},
		{"event over 32 KB", "/v1/track", big, auth, 400, `{"success":false,"error":"body is larger than Segment's 32 KB limit for an event"}`},
		{"batch over 500 KB", "/v1/batch", `{"batch":[` + strings.Repeat(`{"type":"track"},`, 40000) + `{}]}`, auth, 400, `{"success":false,"error":"body is larger than Segment's 500 KB limit for a batch"}`},
		{"gzip bomb", "/v1/batch", gzipped(`{"batch":[` + strings.Repeat(" ", 20<<20) + `]}`), append([]string{"Content-Encoding", "gzip"}, auth...), 400, `{"success":false,"error":"body is larger than Segment's 500 KB limit for a batch"}`},
	}
	for _, c := range cases {
		code, answer, _ := post(t, s.base+c.path, c.body, c.header...)
		if code != c.code || answer != c.answer+"\n" {
			t.Errorf("%s: %d %s\nwant %d %s", c.name, code, answer, c.code, c.answer)
		}
	}
	// Intercom is unreachable here, so events stay in the 3 KB spool until it is full.
	var code int
	var answer string
	var hdr http.Header
	for i := 0; i < 100; i++ {
		code, answer, hdr = post(t, s.base+"/v1/track", fmt.Sprintf(`{"userId":"u1","event":"E%d","properties":{"pad":"%s"}}`, i, strings.Repeat("p", 200)), auth...)
		if code != 200 {
			break
		}
	}
	if code != 503 || hdr.Get("Retry-After") != "5" || answer != `{"success":false,"error":"the spool is full: events are being sent to Intercom more slowly than they arrive; retry later"}`+"\n" {
		t.Errorf("full spool: %d %q %s", code, hdr.Get("Retry-After"), answer)
	}
	// Intercom at 127.0.0.1:1 refuses connections: said at once, while retrying.
	waitFor(t, 30*time.Second, "the unreachable warning", func() bool {
		return strings.Contains(s.stderr.String(), `level=WARN msg="intercom: cannot reach the API" base=http://127.0.0.1:1 reason="connection refused"`)
	})
	if code, body := get(t, s.base+"/readyz"); code != 503 || !strings.Contains(body, `"status":"full"`) {
		t.Errorf("readyz with a full spool: %d %s", code, body)
	}
	_, metrics := get(t, s.base+"/metrics")
	for _, want := range []string{
		`intercom_actions_events_rejected_total{reason="write_key"} 2`,
		`intercom_actions_events_rejected_total{reason="json"} 1`,
		`intercom_actions_events_rejected_total{reason="too_large"} 3`,
		`intercom_actions_events_rejected_total{reason="spool_full"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, grepLines(metrics, "rejected"))
		}
	}
}

func basic(key string) string {
	return base64Std(key + ":")
}

// TestDeadLetterCommands: serve keeps what fails as dead letters;
// `deadletter list` and `show` read them while serve runs (its admin
// socket) and after it stopped (the data dir); `replay` puts them back,
// and once their contact exists they are sent.
func TestDeadLetterCommands(t *testing.T) {
	dir := t.TempDir()
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	s := startServe(t, nil, "--data-dir", dir, "--api-base", sim.URL(), "--contact-wait", "10ms")
	post(t, s.base+"/v1/group", `{"userId":"ghost","groupId":"g1","traits":{"name":"G"},"messageId":"m-1"}`)
	post(t, s.base+"/v1/track", `{"userId":"u1","event":"E","timestamp":"tomorrow-ish"}`) // 400: not stored
	waitFor(t, 20*time.Second, "a dead letter", func() bool { return strings.Contains(s.stderr.String(), `msg=dead-lettered ref="messageId m-1"`) })

	// While serve runs: through its admin socket.
	code, out, errOut := runCLI(t, "", "deadletter", "list", "--data-dir", dir)
	wantLine := regexp.MustCompile(`^1\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\tmessageId m-1\tIdentify Company \(identify_company\)\tidentify_company: contact not found \(external_id "ghost"\); no identify for this contact succeeded within 10ms\n$`)
	if code != 0 || !wantLine.MatchString(out) || errOut != "1 dead letters in "+dir+"\n" {
		t.Errorf("list: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "", "deadletter", "show", "--data-dir", dir, "1")
	if code != 0 || !strings.Contains(out, `"event": {`) || !strings.Contains(out, `"groupId": "g1"`) || !strings.Contains(out, `"rule": "Identify Company"`) {
		t.Errorf("show: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, "", "deadletter", "show", "--data-dir", dir, "7"); code != 1 || errOut != "deadletter: no dead letter 7\n" {
		t.Errorf("show 7: exit %d %s", code, errOut)
	}
	s.stop(t)

	// Stopped: from the data dir. The contact exists now; replay sends the group.
	runCLI(t, `{"type":"identify","userId":"ghost","traits":{"email":"ghost@example.com"}}`, "send", "--api-base", sim.URL(), "--dead-letter", filepath.Join(dir, "d.ndjson"))
	code, out, errOut = runCLI(t, "", "deadletter", "replay", "--data-dir", dir)
	if code != 0 || out != "replayed 1 dead letters into the queue (serve is not running: they are sent at its next start)\n" {
		t.Errorf("replay: exit %d\n%s%s", code, out, errOut)
	}
	if _, out, errOut := runCLI(t, "", "deadletter", "list", "--data-dir", dir); out != "" || errOut != "0 dead letters in "+dir+"\n" {
		t.Errorf("list after replay: %s%s", out, errOut)
	}
	s = startServe(t, nil, "--data-dir", dir, "--api-base", sim.URL())
	defer s.stop(t)
	waitFor(t, 20*time.Second, "the group sent", func() bool {
		st := sim.State()
		return len(st.Contacts) == 1 && len(st.Contacts[0].CompanyIDs) == 1
	})
}

// TestServeLogsJSONAndNeverTheToken: --log-format json writes one JSON
// object a line; with -v (every retry and failure logged) the Intercom
// token and the events' traits appear nowhere.
func TestServeLogsJSONAndNeverTheToken(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Token: "s3cret-token", Window: time.Second, Faults: simulator.Faults{Burst429: 1}})
	defer sim.Close()
	p := startEnv(t, "", []string{"INTERCOM_ACCESS_TOKEN=s3cret-token"},
		"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--api-base", sim.URL(), "--log-format", "json", "-v")
	var base string
	waitFor(t, 30*time.Second, "the listening line", func() bool {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serve: listening" {
				base = rec.Addr
				return true
			}
		}
		return false
	})
	post(t, base+"/v1/identify", `{"userId":"u1","traits":{"email":"secret-trait@example.com","name":"Private Name"}}`)
	waitFor(t, 20*time.Second, "the contact", func() bool { return len(sim.State().Contacts) == 1 })
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
	log := p.stderr.String()
	for i, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("line %d is not JSON: %s", i+1, line)
		}
	}
	if !strings.Contains(log, `"msg":"intercom: retrying"`) {
		t.Errorf("no retry was logged with -v:\n%s", log)
	}
	for _, secret := range []string{"s3cret-token", "Private Name"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds %q:\n%s", secret, log)
		}
	}
}

// TestServeHasEveryDeliveryOption: serve takes the options send does — it
// used to lack --custom-attributes and --intercom-version, so every identify
// carrying an attribute the workspace did not have was dead-lettered. With
// --custom-attributes create the attribute is created and the contact
// saved; --intercom-version is the header sent.
func TestServeHasEveryDeliveryOption(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Token: "tok", DataAttributes: []string{}})
	defer sim.Close()
	rulesFile := writeFile(t, t.TempDir(), "r.yaml", "rules:\n  - name: Users\n    action: identify_contact\n    fields:\n      role: {value: user}\n      custom_attributes: {path: traits, except: [email]}\n")
	s := startServe(t, []string{"INTERCOM_ACCESS_TOKEN=tok"}, "--data-dir", t.TempDir(), "--api-base", sim.URL(), "--rules", rulesFile,
		"--custom-attributes", "create", "--intercom-version", "2.14")
	if code, body, _ := post(t, s.base+"/v1/identify", `{"userId":"u1","traits":{"email":"ada@example.com","tier":"gold"}}`); code != 200 {
		t.Fatalf("identify: %d %s", code, body)
	}
	waitFor(t, 30*time.Second, "the contact", func() bool { return len(sim.State().Contacts) == 1 })
	s.stop(t)
	c := sim.State().Contacts[0]
	if c.CustomAttributes["tier"] != "gold" {
		t.Errorf("contact %+v: no custom attribute tier", c)
	}
	var versions []string
	for _, r := range sim.Requests() {
		versions = append(versions, r.Method+" "+r.Path+"?"+r.Query+" "+r.Header.Get("Intercom-Version"))
	}
	want := []string{"GET /me? 2.14", "GET /data_attributes?model=contact 2.14", "GET /data_attributes?model=company 2.14", "POST /data_attributes? 2.14", "POST /contacts? 2.14"}
	if !slices.Equal(versions, want) {
		t.Errorf("requests: %q\nwant %q", versions, want)
	}
}

// TestServeRestartedKeepsItsMemory: what serve sent is remembered in its
// data dir across a restart, so the same identify and group call after it
// send nothing to Intercom; /metrics counts the calls saved by reason.
func TestServeRestartedKeepsItsMemory(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	dir := t.TempDir()
	events := []struct{ path, body string }{
		{"/v1/identify", `{"userId":"u1","timestamp":"2026-01-01T10:00:00Z","traits":{"email":"ada@example.com","name":"Ada"}}`},
		{"/v1/group", `{"userId":"u1","groupId":"acme","timestamp":"2026-01-01T10:00:01Z","traits":{"name":"Acme","plan":"pro"}}`},
	}
	send := func(s *served) {
		t.Helper()
		for _, ev := range events {
			if code, body, _ := post(t, s.base+ev.path, ev.body); code != 200 {
				t.Fatalf("%s: %d %s", ev.path, code, body)
			}
		}
	}
	s := startServe(t, nil, "--api-base", sim.URL(), "--data-dir", dir)
	send(s)
	waitForMetrics(t, s.base, `intercom_actions_events_dispatched_total{result="sent"} 2`)
	s.stop(t)
	if n := len(deliveries(sim)); n != 3 { // create, upsert, attach
		t.Fatalf("first run: %d requests, want 3", n)
	}
	sim.ResetRequests()

	s = startServe(t, nil, "--api-base", sim.URL(), "--data-dir", dir)
	send(s)
	waitForMetrics(t, s.base, `intercom_actions_events_dispatched_total{result="sent"} 2`,
		`intercom_actions_calls_saved_total{reason="attached"} 1`,
		`intercom_actions_calls_saved_total{reason="unchanged_company"} 1`,
		`intercom_actions_calls_saved_total{reason="unchanged_contact"} 1`)
	s.stop(t)
	if reqs := deliveries(sim); len(reqs) != 0 {
		t.Errorf("after the restart, %d requests: %+v", len(reqs), reqs)
	}
	if st := sim.State(); len(st.Contacts) != 1 || len(st.Contacts[0].CompanyIDs) != 1 || st.Contacts[0].Name != "Ada" {
		t.Errorf("state: %+v", st)
	}
}

// TestServeKeepsItsMemoryWhenItCannotListen: serve loads (and removes)
// the memory of calls sent (--skip-unchanged) from its data dir before it
// listens; one whose address is taken exits 1 and saves it back, so the
// next start still skips what Intercom holds. It used to be lost.
func TestServeKeepsItsMemoryWhenItCannotListen(t *testing.T) {
	dir := t.TempDir()
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	s := startServe(t, nil, "--data-dir", dir, "--api-base", sim.URL())
	post(t, s.base+"/v1/identify", `{"userId":"u1","traits":{"email":"u1@example.com"}}`)
	waitFor(t, 20*time.Second, "the contact", func() bool { return len(sim.State().Contacts) == 1 })
	s.stop(t)
	memory := filepath.Join(dir, "memory")
	saved, err := os.ReadFile(memory)
	if err != nil {
		t.Fatal(err)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	code, _, errOut := runCLI(t, "", "serve", "--addr", taken.Addr().String(), "--data-dir", dir, "--api-base", sim.URL())
	if want := "serve: listen tcp " + taken.Addr().String() + ": bind: address already in use\n"; code != 1 || !strings.HasSuffix(errOut, "region=US\n"+want) {
		t.Errorf("exit %d, stderr:\n%s\nwant 1, the token's check, then\n%s", code, errOut, want)
	}
	if again, err := os.ReadFile(memory); err != nil || !bytes.Equal(again, saved) {
		t.Errorf("memory after the failed start: %v (%d bytes, had %d)", err, len(again), len(saved))
	}
}

// TestServeMaxConnectionsWantsOneAtLeast: a --max-connections under 1 is
// a usage error like any other flag's bad value (it had a message of its
// own, without the pointer to --help).
func TestServeMaxConnectionsWantsOneAtLeast(t *testing.T) {
	code, out, errOut := runCLI(t, "", "serve", "--max-connections", "0", "--intercom", "sim")
	want := "intercom-actions serve: invalid value \"0\" for --max-connections: must be at least 1\nRun 'intercom-actions serve --help' for its flags.\n"
	if code != 2 || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant 2 and\n%s", code, out, errOut, want)
	}
}
