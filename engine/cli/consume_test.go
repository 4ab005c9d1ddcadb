package cli

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/intercom-actions/intercom-actions/engine/internal/kafka"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// newKafka starts an in-process Kafka-protocol broker on 127.0.0.1 with
// the topics events (parts partitions) and dead (one), taking short group
// session timeouts so that a killed member is noticed in a second.
func newKafka(t testing.TB, parts int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(parts, "events"), kfake.SeedTopics(1, "dead"),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func kafkaClient(t testing.TB, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produceEvents writes NDJSON events to topic events, keyed by user.
func produceEvents(t testing.TB, c *kfake.Cluster, events string) {
	t.Helper()
	cl := kafkaClient(t, c, kgo.DefaultProduceTopic("events"))
	var recs []*kgo.Record
	for line := range strings.Lines(events) {
		line = strings.TrimSuffix(line, "\n")
		recs = append(recs, &kgo.Record{Key: kafka.Key([]byte(line)), Value: []byte(line)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// lag is how many records of the group are not committed, or -1 while the
// group has committed nothing.
func lag(t testing.TB, c *kfake.Cluster, group string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lags, err := kadm.NewClient(kafkaClient(t, c)).Lag(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := lags[group]
	if !ok || l.FetchErr != nil || len(l.Lag) == 0 {
		return -1
	}
	return l.Lag.Total()
}

// consumeArgs are the flags of a consume process of group g against the
// broker and the simulator, with short group timeouts.
func consumeArgs(c *kfake.Cluster, sim string, extra ...string) []string {
	return append([]string{"consume", "--brokers", strings.Join(c.ListenAddrs(), ","), "--topic", "events", "--group", "g",
		"--dead-letter-topic", "dead", "--api-base", sim, "--session-timeout", "1s", "--heartbeat-interval", "100ms",
		"--rebalance-timeout", "5s", "--commit-interval", "100ms"}, extra...)
}

var ownedRE = regexp.MustCompile(`msg="consume: partitions (?:assigned|revoked)" (?:added|revoked)=\S+ owned=(\S+)`)

// owned is what the last "partitions assigned" or "revoked" line of p's
// log says it owns.
func (p *proc) owned() string {
	m := ownedRE.FindAllStringSubmatch(p.stderr.String(), -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// TestConsumeTwoProcesses: two consume processes in one group split the
// partitions, send every event once between them (each stops with a
// summary; the counts add up), and Intercom ends as after a clean run.
func TestConsumeTwoProcesses(t *testing.T) {
	events := workload(500)
	want := cleanState(t, events)
	c := newKafka(t, 4)
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	dir := t.TempDir()
	a := start(t, dir, consumeArgs(c, sim.URL())...)
	waitFor(t, 30*time.Second, "the first process to own every partition", func() bool { return a.owned() == "events/0,events/1,events/2,events/3" })
	b := start(t, dir, consumeArgs(c, sim.URL())...)
	waitFor(t, 30*time.Second, "the partitions to be split", func() bool {
		oa, ob := a.owned(), b.owned()
		all := slices.Sorted(slices.Values(strings.Split(oa+","+ob, ",")))
		return oa != "" && ob != "" && strings.Join(all, ",") == "events/0,events/1,events/2,events/3"
	})
	produceEvents(t, c, events)
	waitFor(t, 30*time.Second, "every event to be committed", func() bool { return lag(t, c, "g") == 0 })
	a.signal(syscall.SIGTERM)
	b.signal(syscall.SIGTERM)
	if code := a.wait(30 * time.Second); code != 0 {
		t.Errorf("first process: exit %d\n%s", code, a.stderr.String())
	}
	if code := b.wait(30 * time.Second); code != 0 {
		t.Errorf("second process: exit %d\n%s", code, b.stderr.String())
	}
	settled := settledCount(t, a) + settledCount(t, b)
	if settled != 500 {
		t.Errorf("events settled by the two processes: %d, want 500 (each once)\n%s\n%s", settled, a.stderr.String(), b.stderr.String())
	}
	if got := canonical(t, sim.State()); got != want {
		t.Errorf("Intercom's state differs from a clean run's:\n%s", got)
	}
}

var settledRE = regexp.MustCompile(`msg="consume: stopped" events_settled=(\d+) .* failed=0 `)

func settledCount(t *testing.T, p *proc) int {
	t.Helper()
	m := settledRE.FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Errorf("no summary line without failures in:\n%s", p.stderr.String())
		return 0
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n
}

// TestConsumeKilledMidBatch: a consume process killed (SIGKILL) while it
// sends loses nothing: the one that takes its partitions over sends what it
// had not committed — the events it sent since its last commit among them,
// which Intercom ignores as identical — and Intercom ends as after a clean
// run.
func TestConsumeKilledMidBatch(t *testing.T) {
	events := workload(1000)
	want := cleanState(t, events)
	c := newKafka(t, 4)
	produceEvents(t, c, events)
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	// Intercom takes 500 requests, about half the run, then holds the
	// others: the kill comes mid-run whatever the machine's speed.
	ic := newFront(t, sim, 500)
	dir := t.TempDir()
	a := start(t, dir, consumeArgs(c, ic.URL())...)
	waitFor(t, 20*time.Second, "a request held after the first 500", func() bool { return ic.Stalled() > 0 })
	a.cmd.Process.Kill()
	a.wait(30 * time.Second)
	left := lag(t, c, "g")
	if left <= 0 {
		t.Fatalf("lag after the kill: %d; the kill came too late to test anything", left)
	}
	b := start(t, dir, consumeArgs(c, sim.URL())...)
	waitFor(t, 30*time.Second, "every event to be committed", func() bool { return lag(t, c, "g") == 0 })
	b.signal(syscall.SIGTERM)
	if code := b.wait(30 * time.Second); code != 0 {
		t.Errorf("second process: exit %d\n%s", code, b.stderr.String())
	}
	// Each record not committed at the kill is settled by the second
	// process, or known from the commit's metadata to be settled already.
	already := regexp.MustCompile(`already_settled=(\d+)`).FindStringSubmatch(b.stderr.String())
	if n := settledCount(t, b); already == nil || fmt.Sprint(int64(n)+atoi(already[1])) != fmt.Sprint(left) {
		t.Errorf("the second process settled %d events and skipped %v settled before; %d were not committed at the kill", n, already, left)
	}
	if got := canonical(t, sim.State()); got != want {
		t.Errorf("Intercom's state differs from a clean run's:\n%s", got)
	}
}

// TestConsumeSASL: SCRAM with the password from the environment works; a
// wrong password stops consume at once with the broker's reason, and the
// password is never printed.
func TestConsumeSASL(t *testing.T) {
	c := newKafka(t, 1, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "intercom", "s3cret-pass"))
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	dir := t.TempDir()
	args := consumeArgs(c, sim.URL(), "--sasl-mechanism", "scram-sha-256", "--sasl-user", "intercom")

	bad := startEnv(t, dir, []string{"KAFKA_SASL_PASSWORD=wrong-pass"}, args...)
	if code := bad.wait(20 * time.Second); code != 1 {
		t.Errorf("wrong password: exit %d, want 1\n%s", code, bad.stderr.String())
	}
	if !strings.Contains(bad.stderr.String(), "cannot reach the Kafka brokers") || !strings.Contains(bad.stderr.String(), "check the SASL mechanism, user and password") {
		t.Errorf("wrong password: %s", bad.stderr.String())
	}

	good := startEnv(t, dir, []string{"KAFKA_SASL_PASSWORD=s3cret-pass"}, args...)
	waitFor(t, 30*time.Second, "the member to own the partition", func() bool { return good.owned() == "events/0" })
	cl := kafkaClient(t, c, kgo.SASL(mustSASL(t)), kgo.DefaultProduceTopic("events"))
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("u1"), Value: []byte(`{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"}}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the contact to reach Intercom", func() bool { return len(sim.State().Contacts) == 1 })
	good.signal(syscall.SIGTERM)
	if code := good.wait(30 * time.Second); code != 0 {
		t.Errorf("exit %d\n%s", code, good.stderr.String())
	}
	for _, p := range []*proc{bad, good} {
		if out := p.stderr.String() + p.stdout.String(); strings.Contains(out, "s3cret-pass") || strings.Contains(out, "wrong-pass") {
			t.Errorf("a password was printed:\n%s", out)
		}
	}
}

func mustSASL(t testing.TB) sasl.Mechanism {
	t.Helper()
	m, err := kafka.SASLMechanism("scram-sha-256", "intercom", "s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestConsumeUsage: what cannot work is refused before any connection.
func TestConsumeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"consume", "--topic", "events"}, "consume: --brokers is required (host:port, comma-separated; or KAFKA_BROKERS)\n"},
		{[]string{"consume", "--brokers", "127.0.0.1:1"}, "consume: --topic is required\n"},
		{[]string{"consume", "--brokers", "127.0.0.1:1", "--topic", "e", "--rate-share", "2"}, "consume: --rate-share: \"2\": want auto or a fraction above 0 and at most 1 (e.g. 0.5)\n"},
		{[]string{"consume", "--brokers", "127.0.0.1:1", "--topic", "e", "--sasl-mechanism", "gssapi", "--sasl-user", "u"}, "consume: --sasl-mechanism: no password: set KAFKA_SASL_PASSWORD or --sasl-password-file\n"},
		{[]string{"consume", "--brokers", "127.0.0.1:1", "--topic", "e", "--sasl-user", "u"}, "consume: --sasl-user and --sasl-password-file need --sasl-mechanism (plain, scram-sha-256, scram-sha-512)\n"},
	} {
		t.Setenv("KAFKA_SASL_PASSWORD", "")
		code, _, errOut := runCLI(t, "", tc.args...)
		if code != 2 || errOut != tc.want {
			t.Errorf("%v: exit %d, %q; want 2, %q", tc.args, code, errOut, tc.want)
		}
	}
	t.Setenv("KAFKA_SASL_PASSWORD", "p")
	code, _, errOut := runCLI(t, "", "consume", "--brokers", "127.0.0.1:1", "--topic", "e", "--sasl-mechanism", "gssapi", "--sasl-user", "u")
	if want := "consume: --sasl-mechanism: \"gssapi\": want one of plain, scram-sha-256, scram-sha-512\n"; code != 2 || errOut != want {
		t.Errorf("gssapi: exit %d, %q; want 2, %q", code, errOut, want)
	}
}

// TestServeForwardKafka: serve --forward-kafka answers once the events are
// in the topic, each keyed by userId, else anonymousId.
func TestServeForwardKafka(t *testing.T) {
	c := newKafka(t, 2)
	dir := t.TempDir()
	p := start(t, dir, "serve", "--addr", "127.0.0.1:0", "--forward-kafka", strings.Join(c.ListenAddrs(), ","), "--forward-topic", "events")
	var base string
	waitFor(t, 30*time.Second, "serve to listen", func() bool {
		m := regexp.MustCompile(`addr=(http://\S+)`).FindStringSubmatch(p.stderr.String())
		if m != nil {
			base = m[1]
		}
		return base != ""
	})
	body := `{"batch":[{"type":"identify","userId":"u1","messageId":"m1","traits":{"email":"a@example.com"}},{"type":"track","anonymousId":"anon-7","event":"Viewed","messageId":"m2"}]}`
	resp, err := http.Post(base+"/v1/batch", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cl := kafkaClient(t, c, kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for len(got) < 2 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			got = append(got, fmt.Sprintf("%s %s", r.Key, regexp.MustCompile(`"messageId":"\w+"`).FindString(string(r.Value))))
		})
	}
	slices.Sort(got)
	if want := `anon-7 "messageId":"m2"|u1 "messageId":"m1"`; strings.Join(got, "|") != want {
		t.Errorf("records: %q, want %q", strings.Join(got, "|"), want)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit %d\n%s", code, p.stderr.String())
	}
}

func atoi(s string) int64 {
	var n int64
	fmt.Sscan(s, &n)
	return n
}

// TestConsumeStopMidStream: SIGTERM while events are being sent lets the
// requests in flight finish, commits what is settled (naming in the
// commit's metadata what settled after the first unsettled event), and
// exits 0; the next process sends the rest, and no event is sent twice.
func TestConsumeStopMidStream(t *testing.T) {
	events := workload(1000)
	want := cleanState(t, events)
	c := newKafka(t, 4)
	produceEvents(t, c, events)
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	// Intercom takes 500 requests, about half the run, then holds the
	// others until the stop has begun.
	ic := newFront(t, sim, 500)
	dir := t.TempDir()
	a := start(t, dir, consumeArgs(c, ic.URL())...)
	waitFor(t, 20*time.Second, "a request held after the first 500", func() bool { return ic.Stalled() > 0 })
	a.signal(syscall.SIGTERM)
	a.waitForStderr(t, 20*time.Second, `msg="consume: stopping:`)
	ic.Release()
	if code := a.wait(30 * time.Second); code != 0 {
		t.Fatalf("first process: exit %d\n%s", code, a.stderr.String())
	}
	if lag(t, c, "g") <= 0 {
		t.Fatal("the stop came too late to test anything")
	}
	b := start(t, dir, consumeArgs(c, sim.URL())...)
	waitFor(t, 30*time.Second, "every event to be committed", func() bool { return lag(t, c, "g") == 0 })
	b.signal(syscall.SIGTERM)
	if code := b.wait(30 * time.Second); code != 0 {
		t.Errorf("second process: exit %d\n%s", code, b.stderr.String())
	}
	t.Logf("second process: %s", regexp.MustCompile(`already_settled=\d+`).FindString(b.stderr.String()))
	if n := settledCount(t, a) + settledCount(t, b); n != 1000 {
		t.Errorf("events settled by the two processes: %d, want 1000 (each once)\n%s\n%s", n, a.stderr.String(), b.stderr.String())
	}
	if got := canonical(t, sim.State()); got != want {
		t.Errorf("Intercom's state differs from a clean run's:\n%s", got)
	}
}
