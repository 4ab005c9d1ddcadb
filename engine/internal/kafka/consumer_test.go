package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/dispatch"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// gatedExecutor lets the first free actions through, then holds the others
// until open is closed.
type gatedExecutor struct {
	dispatch.Executor
	free  *atomic.Int64
	open  chan struct{}
	delay time.Duration
}

func (g gatedExecutor) Execute(ctx context.Context, a action.Action) (action.Result, error) {
	if g.free.Add(-1) < 0 {
		select {
		case <-g.open:
		case <-ctx.Done():
			return action.Result{}, ctx.Err()
		}
	}
	time.Sleep(g.delay)
	return g.Executor.Execute(ctx, a)
}

// TestTwoConsumersShareThePartitions: a second member joins the group while
// the first has actions in flight and records fetched but not sent. The
// partitions are split; the first finishes what it was sending on the
// revoked partitions and commits them before the second starts them; every
// event is settled once, in order per user, every commit moves forward, and
// Intercom ends as after a clean run.
func TestTwoConsumersShareThePartitions(t *testing.T) {
	const users = 60
	events := workload(users)
	n := 5 * users
	want := cleanState(t, events)

	cluster := newCluster(t, 4)
	commits := watchCommits(cluster)
	produce(t, cluster, "events", events)
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	api := action.Executor{API: simClient(t, sim)}
	log := newSettled()

	free := new(atomic.Int64)
	free.Store(40)
	open := make(chan struct{})
	a := runMember(t, memberConfig(t, cluster, gatedExecutor{Executor: api, free: free, open: open, delay: time.Millisecond}, log))
	waitFor(t, 30*time.Second, "the first member to own the 4 partitions and hold actions", func() bool {
		return len(a.c.Owned()) == 4 && free.Load() < 0
	})
	b := runMember(t, memberConfig(t, cluster, api, log))
	// The first member's actions wait until its partitions are being
	// revoked: the revoke finds them in flight.
	waitFor(t, 30*time.Second, "the rebalance to revoke partitions of the first member", func() bool { return len(a.c.Owned()) < 4 })
	close(open)
	waitFor(t, 20*time.Second, fmt.Sprintf("all %d events to be settled", n), func() bool { return log.count() == n })
	waitFor(t, 30*time.Second, "both members to own partitions", func() bool { return len(a.c.Owned()) > 0 && len(b.c.Owned()) > 0 })
	owned := append(a.c.Owned(), b.c.Owned()...)
	slices.Sort(owned)
	if got := strings.Join(owned, " "); got != "events/0 events/1 events/2 events/3" {
		t.Errorf("partitions owned by the two members: %s", got)
	}
	a.stop(t)
	b.stop(t)

	if tw := log.twice(); len(tw) > 0 {
		t.Errorf("events settled more than once: %v", tw)
	}
	if bad := log.outOfOrder(t, cluster, n); len(bad) > 0 {
		t.Errorf("per-user order broken:\n%s", strings.Join(bad, "\n"))
	}
	if a.sum.Events+b.sum.Events != n || a.sum.Events == 0 || b.sum.Events == 0 {
		t.Errorf("events settled: first member %d, second %d; want %d in all, some by each", a.sum.Events, b.sum.Events, n)
	}
	if a.sum.Failed+b.sum.Failed > 0 {
		t.Errorf("failures: %v %v", a.sum.Failures, b.sum.Failures)
	}
	if p := commits.problems(); len(p) > 0 {
		t.Errorf("commits that did not move forward:\n%s", strings.Join(p, "\n"))
	}
	checkCommittedToEnd(t, cluster, commits, 4)
	if got := canonical(t, sim); got != want {
		t.Errorf("Intercom's state differs from a clean run's:\n%s\nwant:\n%s", got, want)
	}
	if !errors.Is(a.err, delivery.ErrStopped) || !errors.Is(b.err, delivery.ErrStopped) {
		t.Errorf("Run errors: %v, %v; want ErrStopped", a.err, b.err)
	}
}

// checkCommittedToEnd checks that each partition of "events" is committed
// up to its end: nothing is left to deliver again.
func checkCommittedToEnd(t *testing.T, cluster interface{ ListenAddrs() []string }, commits *commits, parts int) {
	t.Helper()
	ends := endOffsets(t, cluster.ListenAddrs(), "events")
	last := commits.last()
	for p := range parts {
		k := fmt.Sprintf("events/%d", p)
		if ends[int32(p)] > 0 && last[k] != ends[int32(p)] {
			t.Errorf("%s: last commit %d, want its end %d", k, last[k], ends[int32(p)])
		}
	}
}

// TestPoisonMessage: a record that is not an event, and one that is not
// JSON, go to the dead-letter topic with the reason, keyed as their event,
// and the events after them on their partition are delivered and committed.
func TestPoisonMessage(t *testing.T) {
	cluster := newCluster(t, 1)
	commits := watchCommits(cluster)
	produce(t, cluster, "events", `{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"}}
not json {
{"userId":"u1","event":"No Type"}
{"type":"track","userId":"u1","event":"Signed Up","timestamp":"2024-01-01T00:00:00Z"}
`)
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	log := newSettled()
	m := runMember(t, memberConfig(t, cluster, action.Executor{API: simClient(t, sim)}, log))
	waitFor(t, 30*time.Second, "the 4 events to be settled", func() bool { return log.count() == 4 })
	m.stop(t)

	dead := readTopic(t, cluster, "dead", 2)
	slices.SortFunc(dead, func(a, b *kgo.Record) int { return strings.Compare(string(a.Value), string(b.Value)) })
	var got []string
	for _, r := range dead {
		var dl delivery.DeadLetter
		if err := json.Unmarshal(r.Value, &dl); err != nil {
			t.Fatalf("dead letter %q: %v", r.Value, err)
		}
		got = append(got, fmt.Sprintf("key=%q ref=%s event=%s error=%q header=%q", r.Key, dl.Ref, dl.Event, dl.Error, r.Headers[0].Value))
	}
	want := []string{
		`key="" ref=events/0@1 event="not json {" error="invalid event: not valid JSON: invalid character 'o' in literal null (expecting 'u') (at byte 2)" header="invalid event: not valid JSON: invalid character 'o' in literal null (expecting 'u') (at byte 2)"`,
		`key="u1" ref=events/0@2 event={"userId":"u1","event":"No Type"} error="invalid event: no \"type\" (expected one of identify, track, group, page, screen, alias)" header="invalid event: no \"type\" (expected one of identify, track, group, page, screen, alias)"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dead letters:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st := sim.State()
	if len(st.Events) != 1 || st.Events[0].EventName != "Signed Up" {
		t.Errorf("Intercom's events: %+v; want the track after the poison messages", st.Events)
	}
	if last := commits.last()["events/0"]; last != 4 {
		t.Errorf("committed up to %d, want 4 (past the poison messages)", last)
	}
}

// TestDeadLetterNotStoredNotCommitted: an event whose dead letter cannot be
// stored is not committed, nor is anything after it on its partition; the
// events after it are still sent.
func TestDeadLetterNotStoredNotCommitted(t *testing.T) {
	cluster := newCluster(t, 1)
	commits := watchCommits(cluster)
	produce(t, cluster, "events", `{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"}}
not json {
{"type":"track","userId":"u1","event":"Signed Up","timestamp":"2024-01-01T00:00:00Z"}
`)
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	log := newSettled()
	cfg := memberConfig(t, cluster, action.Executor{API: simClient(t, sim)}, log)
	cfg.DeadLetterTopic = ""
	var mu sync.Mutex
	var tried []string
	cfg.DeadLetter = func(_ context.Context, dl delivery.DeadLetter) error {
		mu.Lock()
		defer mu.Unlock()
		tried = append(tried, dl.Ref)
		return errors.New("disk full")
	}
	m := runMember(t, cfg)
	waitFor(t, 30*time.Second, "the 3 events to be handled", func() bool { return log.count() == 3 })
	time.Sleep(3 * cfg.CommitInterval) // commits that would go past it had their chance
	m.stop(t)
	if last := commits.last()["events/0"]; last != 1 {
		t.Errorf("committed up to %d, want 1 (the event whose dead letter was lost comes again)", last)
	}
	if len(sim.State().Events) != 1 {
		t.Errorf("the track after it was not sent")
	}
	if fmt.Sprint(tried) != "[events/0@1]" {
		t.Errorf("dead letters tried: %v", tried)
	}
}

// TestUnauthorizedStops: when Intercom refuses the token, the consumer
// stops (every partition would fail the same way) with
// intercom.ErrUnauthorized; the events whose action met the 401 are
// dead-lettered, and the others are not committed: they come again once
// the token is fixed.
func TestUnauthorizedStops(t *testing.T) {
	cluster := newCluster(t, 2)
	commits := watchCommits(cluster)
	produce(t, cluster, "events", workload(4))
	sim := simulator.NewServer(simulator.Options{Token: "the-right-token"})
	defer sim.Close()
	m := runMember(t, memberConfig(t, cluster, action.Executor{API: simClient(t, sim)}, newSettled()))
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the consumer did not stop by itself")
	}
	if !errors.Is(m.err, intercom.ErrUnauthorized) {
		t.Errorf("Run: %v, want ErrUnauthorized", m.err)
	}
	// Only the events whose action met the 401 are dead-lettered (and so
	// settled, and committed); the others stay in Kafka, uncommitted.
	committed := int64(0)
	for _, off := range commits.last() {
		committed += off
	}
	for reason := range m.sum.Failures {
		if !strings.Contains(reason, "intercom 401") {
			t.Errorf("dead-lettered for %q", reason)
		}
	}
	if committed > int64(m.sum.Events) || m.sum.Events != m.sum.Failed || committed >= 20 {
		t.Errorf("committed %d of 20 events; %d settled, %d of them dead-lettered", committed, m.sum.Events, m.sum.Failed)
	}
}

// TestMissingTopic: a topic the brokers do not have is said at once.
func TestMissingTopic(t *testing.T) {
	cluster := newCluster(t, 1)
	cfg := memberConfig(t, cluster, action.Executor{}, newSettled())
	cfg.Topics = []string{"events", "evnts"}
	cfg.DeadLetterTopic = "deadd"
	c, err := NewConsumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Run(context.Background())
	want := "no such topic on the brokers " + strings.Join(cluster.ListenAddrs(), ",") + ": evnts, deadd (the dead-letter topic)"
	if err == nil || err.Error() != want {
		t.Errorf("Run: %v\nwant: %s", err, want)
	}
}
