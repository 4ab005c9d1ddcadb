package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/dispatch"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
	"github.com/intercom-actions/intercom-actions/rules"
)

// newCluster starts an in-process Kafka-protocol broker on 127.0.0.1 with
// the topic "events" of parts partitions and the topic "dead" of one, and
// short group timeouts so that a member that dies is noticed quickly.
func newCluster(t testing.TB, parts int32) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "events"), kfake.SeedTopics(1, "dead"),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// produce writes events (NDJSON) to topic, keyed as Forwarder keys them,
// in order.
func produce(t testing.TB, c *kfake.Cluster, topic, events string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for line := range strings.Lines(events) {
		line = strings.TrimSuffix(line, "\n")
		recs = append(recs, &kgo.Record{Key: Key([]byte(line)), Value: []byte(line)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readTopic returns the records of topic, all partitions, in partition and
// offset order.
func readTopic(t testing.TB, c *kfake.Cluster, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d records of %s, want %d", len(out), topic, want)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// workload is simulator.Workload for users users in 7 companies, as
// NDJSON.
func workload(users int) string {
	return strings.Join(simulator.Workload(users, 7), "\n") + "\n"
}

func testEngine(t testing.TB) *engine.Engine {
	t.Helper()
	set, err := rules.ParseAll(rules.Defaults()...)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func simClient(t testing.TB, sim *simulator.Server) *rest.Client {
	t.Helper()
	c, err := rest.New(rest.Config{BaseURL: sim.URL(), TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}),
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// canonical is the simulator's state in a form equal across runs.
func canonical(t testing.TB, sim *simulator.Server) string {
	t.Helper()
	b, err := json.MarshalIndent(sim.State().Canonical(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cleanState sends events through one dispatcher, in order, to a fresh
// simulator and returns its canonical state: what a run that loses and
// duplicates nothing ends with.
func cleanState(t testing.TB, events string) string {
	t.Helper()
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	d, err := dispatch.New(dispatch.Config{Engine: testEngine(t), Executor: action.Executor{API: simClient(t, sim)}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := d.Run(context.Background(), delivery.NewLineSource("events", strings.NewReader(events)))
	if err != nil || sum.Failed > 0 {
		t.Fatalf("clean run: %v; %+v", err, sum)
	}
	return canonical(t, sim)
}

// settled records, across consumers, each event settled: its ref and the
// order of settling.
type settled struct {
	mu   sync.Mutex
	seq  int
	refs map[string][]int // ref → the sequence numbers it was settled at
}

func newSettled() *settled { return &settled{refs: map[string][]int{}} }

func (s *settled) onResult(r delivery.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.refs[r.Ref] = append(s.refs[r.Ref], s.seq)
}

func (s *settled) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.refs)
}

// twice lists the refs settled more than once.
func (s *settled) twice() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for ref, seqs := range s.refs {
		if len(seqs) > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", ref, len(seqs)))
		}
	}
	slices.Sort(out)
	return out
}

// outOfOrder lists the partitions whose records were settled out of
// offset order where it matters: two records of one user (key).
func (s *settled) outOfOrder(t testing.TB, c *kfake.Cluster, n int) []string {
	t.Helper()
	recs := readTopic(t, c, "events", n)
	s.mu.Lock()
	defer s.mu.Unlock()
	last := map[string]int{} // key → seq of its previous record
	var out []string
	for _, r := range recs {
		ref := Ref(r.Topic, r.Partition, r.Offset)
		seqs := s.refs[ref]
		if len(seqs) == 0 {
			continue
		}
		seq := seqs[len(seqs)-1]
		if prev, ok := last[string(r.Key)]; ok && seq < prev {
			out = append(out, fmt.Sprintf("%s (user %s) settled before an earlier event of its user", ref, r.Key))
		}
		last[string(r.Key)] = seq
	}
	return out
}

// commits watches the offsets committed to the cluster, per partition.
type commits struct {
	mu   sync.Mutex
	byTP map[string][]commit
}

type commit struct {
	offset int64
	member string
}

func watchCommits(c *kfake.Cluster) *commits {
	w := &commits{byTP: map[string][]commit{}}
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.OffsetCommitRequest)
		w.mu.Lock()
		for _, t := range r.Topics {
			topic := t.Topic
			if topic == "" {
				topic = "events" // the only topic committed, named by id
			}
			for _, p := range t.Partitions {
				k := fmt.Sprintf("%s/%d", topic, p.Partition)
				w.byTP[k] = append(w.byTP[k], commit{p.Offset, r.MemberID})
			}
		}
		w.mu.Unlock()
		return nil, nil, false
	})
	return w
}

// problems lists partitions committed wrongly: an offset that went back,
// or a member committing a partition after another member took it over.
func (w *commits) problems() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for k, cs := range w.byTP {
		gone := map[string]bool{} // members that handed the partition over
		for i := 1; i < len(cs); i++ {
			if cs[i].offset < cs[i-1].offset {
				out = append(out, fmt.Sprintf("%s: went back from %d to %d", k, cs[i-1].offset, cs[i].offset))
			}
			if cs[i].member != cs[i-1].member {
				gone[cs[i-1].member] = true
			}
			if gone[cs[i].member] {
				out = append(out, fmt.Sprintf("%s: committed at %d by %s after it handed the partition over", k, cs[i].offset, cs[i].member))
			}
		}
	}
	slices.Sort(out)
	return out
}

// last returns the last offset committed per partition.
func (w *commits) last() map[string]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int64{}
	for k, cs := range w.byTP {
		out[k] = cs[len(cs)-1].offset
	}
	return out
}

// dispatchRunner runs each partition through a dispatcher of cfg, as the
// delivery core does.
type dispatchRunner struct{ cfg dispatch.Config }

func (r dispatchRunner) Start(ctx context.Context, src delivery.Source, sink delivery.Sink) delivery.Run {
	cfg := r.cfg
	cfg.Sink = sink
	d, err := dispatch.New(cfg)
	if err != nil {
		panic(err)
	}
	return d.Start(ctx, src)
}

// member is a running Consumer.
type member struct {
	c    *Consumer
	done chan struct{}
	sum  delivery.Summary
	err  error
}

// memberConfig is a consumer of "events" in group "g" sending to exec.
func memberConfig(t testing.TB, c *kfake.Cluster, exec dispatch.Executor, s *settled) Config {
	t.Helper()
	var log *slog.Logger
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return Config{
		Conn:              Conn{Brokers: c.ListenAddrs(), Log: log},
		Topics:            []string{"events"},
		Group:             "g",
		Runner:            dispatchRunner{dispatch.Config{Engine: testEngine(t), Executor: exec, Concurrency: 4, ContactWait: 2 * time.Second}},
		OnResult:          s.onResult,
		DeadLetterTopic:   "dead",
		CommitInterval:    50 * time.Millisecond,
		SessionTimeout:    time.Second,
		HeartbeatInterval: 100 * time.Millisecond,
		RebalanceTimeout:  5 * time.Second,
		FetchMaxWait:      100 * time.Millisecond,
	}
}

func runMember(t testing.TB, cfg Config) *member {
	t.Helper()
	c, err := NewConsumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &member{c: c, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(m.done)
		m.sum, m.err = c.Run(ctx)
	}()
	t.Cleanup(func() {
		c.Stop()
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			cancel()
			<-m.done
		}
		cancel()
	})
	return m
}

// stop stops m gracefully and waits for it.
func (m *member) stop(t testing.TB) {
	t.Helper()
	m.c.Stop()
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the consumer did not stop within 15s")
	}
}

// waitFor polls cond until it holds; it fails the test after limit.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// slowExecutor delays every action, so a rebalance finds work in flight.
type slowExecutor struct {
	dispatch.Executor
	delay time.Duration
}

func (s slowExecutor) Execute(ctx context.Context, a action.Action) (action.Result, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return action.Result{}, ctx.Err()
	}
	return s.Executor.Execute(ctx, a)
}

// endOffsets returns the end offset of each partition of topic.
func endOffsets(t testing.TB, brokers []string, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}
