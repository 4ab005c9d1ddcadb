package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// Config configures a Consumer.
type Config struct {
	Conn Conn
	// Topics are the topics to consume; Group is the consumer group.
	Topics []string
	Group  string
	// Runner sends the events of each partition this member owns: one run
	// a partition, stopped when the partition is revoked (the delivery
	// core).
	Runner delivery.Runner
	// OnResult, if set, is given each event's Result (from several
	// goroutines).
	OnResult func(delivery.Result)
	// DeadLetterTopic, if set, receives each dead letter as the JSON of a
	// delivery.DeadLetter, keyed as its event, written by the consumer's
	// own client.
	DeadLetterTopic string
	// DeadLetter, used when DeadLetterTopic is empty, stores one dead letter
	// durably (e.g. appends it to a file). An event whose dead letter cannot
	// be stored is not committed: it comes again after a restart or a
	// rebalance.
	DeadLetter func(context.Context, delivery.DeadLetter) error
	// CommitInterval is how often the settled offsets are committed
	// (default 1s); they are also committed when partitions are revoked and
	// when the consumer stops.
	CommitInterval time.Duration
	// MaxBuffered bounds the records fetched and not yet dispatched per
	// partition: past it the partition's fetching pauses (default 1000).
	MaxBuffered int
	// RevokeTimeout bounds how long a revoked partition's events being
	// sent may take before they are cut off (default: two thirds of
	// RebalanceTimeout); it must be shorter than RebalanceTimeout.
	RevokeTimeout time.Duration
	// SessionTimeout, RebalanceTimeout and HeartbeatInterval are the group's
	// (Kafka's defaults 45s, 60s and 3s when zero).
	SessionTimeout, RebalanceTimeout, HeartbeatInterval time.Duration
	// FetchMaxWait is how long a fetch waits for records (default 1s).
	FetchMaxWait time.Duration
	// OnAssignment, if set, is called after every change of the partitions
	// this member owns, with their number and the number of partitions of
	// its topics (e.g. to take that share of Intercom's rate limit).
	OnAssignment func(owned, total int)
	// Log receives what the consumer does: partitions assigned and revoked,
	// commits that failed; nil discards.
	Log *slog.Logger
}

// Consumer is a member of a consumer group that sends the events of the
// partitions it owns to Intercom. Each partition has its own dispatcher
// reading its records in offset order, so the order of a partition — and,
// with records keyed by user, of each user — holds; an offset is committed
// only once every record before it is settled (at-least-once: a crash or
// a lost partition brings back at most the records not yet committed).
//
// On a rebalance the revoked partitions' dispatchers are stopped as
// Dispatcher.Stop does: the actions being sent finish (RevokeTimeout bounds
// them), the records fetched and not started are left, uncommitted, for
// the partition's next owner; then the partition's offset is committed
// once, in the revoke callback, before the new owner may fetch it.
type Consumer struct {
	cfg Config
	cl  *kgo.Client
	dl  delivery.DeadLetters // nil: discarded
	log *slog.Logger

	stop     chan struct{}
	stopOnce sync.Once

	runCtx context.Context // Run's; each partition's run derives from it

	topicIDs map[[16]byte]string // from checkTopics: commits of Kafka 3.x+ name topics by id

	mu      sync.Mutex
	parts   map[tp]*partition
	owned   map[tp]bool
	skips   map[tp]map[int64]bool // records an earlier owner settled after its commit
	done    delivery.Summary      // of the partitions no longer owned
	failed  error                 // why a partition's dispatcher ended by itself (a 401)
	already int                   // records not sent again: an earlier owner had settled them

	commitMu sync.Mutex // one commit at a time; a revoke's commit is the partition's last
}

// tp is a topic partition.
type tp struct {
	topic string
	part  int32
}

func (t tp) String() string { return t.topic + "/" + strconv.Itoa(int(t.part)) }

// NewConsumer checks cfg and makes the group client; nothing is fetched
// before Run.
func NewConsumer(cfg Config) (*Consumer, error) {
	switch {
	case len(cfg.Conn.Brokers) == 0:
		return nil, errors.New("kafka: no brokers")
	case len(cfg.Topics) == 0:
		return nil, errors.New("kafka: no topic")
	case cfg.Group == "":
		return nil, errors.New("kafka: no consumer group")
	case cfg.Runner == nil:
		return nil, errors.New("kafka: no Runner to send the events")
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = time.Second
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = 1000
	}
	if cfg.RevokeTimeout <= 0 {
		cfg.RevokeTimeout = 40 * time.Second // two thirds of Kafka's default rebalance timeout
		if cfg.RebalanceTimeout > 0 {
			cfg.RevokeTimeout = cfg.RebalanceTimeout * 2 / 3
		}
	}
	if cfg.FetchMaxWait <= 0 {
		cfg.FetchMaxWait = time.Second
	}
	if cfg.RebalanceTimeout > 0 && cfg.RevokeTimeout >= cfg.RebalanceTimeout {
		return nil, fmt.Errorf("kafka: the revoke timeout (%s) must be shorter than the rebalance timeout (%s): a member still finishing a revoke when the rebalance times out is dropped from the group", cfg.RevokeTimeout, cfg.RebalanceTimeout)
	}
	c := &Consumer{cfg: cfg, log: cfg.Conn.Log, stop: make(chan struct{}), parts: map[tp]*partition{}, owned: map[tp]bool{}, skips: map[tp]map[int64]bool{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	opts := append(cfg.Conn.opts(),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topics...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxWait(cfg.FetchMaxWait),
		kgo.OnPartitionsAssigned(c.assigned),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.lost),
	)
	if cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(cfg.SessionTimeout))
	}
	if cfg.RebalanceTimeout > 0 {
		opts = append(opts, kgo.RebalanceTimeout(cfg.RebalanceTimeout))
	}
	if cfg.HeartbeatInterval > 0 {
		opts = append(opts, kgo.HeartbeatInterval(cfg.HeartbeatInterval))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	c.cl = cl
	put := cfg.DeadLetter
	if cfg.DeadLetterTopic != "" {
		put = topicDeadLetters(cl, cfg.DeadLetterTopic)
	}
	if put != nil {
		c.dl = delivery.DeadLetterFunc(func(dl delivery.DeadLetter) error {
			err := put(c.runCtx, dl)
			if err != nil {
				c.log.Error("consume: a dead letter could not be stored: its event is not committed and comes again after a restart", "ref", dl.Ref, "error", err)
				c.block(dl.Ref)
			}
			return err
		})
	}
	return c, nil
}

// Stop ends Run gracefully: no more records are fetched, every partition's
// dispatcher stops (the actions being sent finish; cancel Run's context to
// cut them off), the settled offsets are committed and the group is left.
// It may be called from any goroutine, more than once.
func (c *Consumer) Stop() { c.stopOnce.Do(func() { close(c.stop) }) }

// Summary returns the counts so far, over every partition this consumer
// has had.
func (c *Consumer) Summary() delivery.Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	var sum delivery.Summary
	sum.Add(c.done)
	for _, p := range c.parts {
		sum.Add(p.run.Summary())
	}
	return sum
}

// Already returns the number of records not sent again because an
// earlier owner of their partition had settled them after its last commit
// (named in the commit's metadata).
func (c *Consumer) Already() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.already
}

// Owned returns the partitions this member owns, as "topic/partition".
func (c *Consumer) Owned() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for t := range c.owned {
		out = append(out, t.String())
	}
	slices.Sort(out)
	return out
}

// Run joins the group and sends the records of the partitions it is
// assigned until Stop (it then returns delivery.ErrStopped), until ctx is
// cancelled (an abort: the requests in flight are cut off, as
// Dispatcher.Run's are; what is settled is still committed), or until a
// partition's dispatcher ends by itself (Intercom refused the token:
// intercom.ErrUnauthorized). It first checks that the brokers answer and
// the topics exist. A Consumer runs once.
func (c *Consumer) Run(ctx context.Context) (delivery.Summary, error) {
	defer c.cl.Close()
	c.runCtx = ctx
	if err := ping(ctx, c.cl, c.cfg.Conn); err != nil {
		return delivery.Summary{}, err
	}
	if err := c.checkTopics(ctx); err != nil {
		return delivery.Summary{}, err
	}
	pollCtx, endPoll := context.WithCancel(ctx)
	defer endPoll()
	go func() {
		select {
		case <-c.stop:
		case <-pollCtx.Done():
		}
		endPoll()
	}()
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		t := time.NewTicker(c.cfg.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				c.commit(ctx, nil)
			case <-pollCtx.Done():
				return
			}
		}
	}()
	for {
		fetches := c.cl.PollRecords(pollCtx, 500)
		if pollCtx.Err() != nil || fetches.IsClientClosed() {
			c.cl.AllowRebalance()
			break
		}
		fetches.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn("consume: fetch failed; retrying", "partition", tp{topic, part}.String(), "error", err)
			}
		})
		fetches.EachRecord(c.push)
		c.cl.AllowRebalance()
	}
	<-commitDone

	// Stopping: every partition stops as if revoked; its settled offset is
	// committed; then the group is left (its revoke finds nothing left).
	c.mu.Lock()
	all := slices.Collect(maps.Keys(c.parts))
	c.mu.Unlock()
	c.release(all, true, 0)
	c.cl.CloseAllowingRebalance()

	sum := c.Summary()
	c.mu.Lock()
	failed := c.failed
	c.mu.Unlock()
	switch {
	case failed != nil:
		return sum, failed
	case ctx.Err() != nil:
		return sum, ctx.Err()
	}
	return sum, delivery.ErrStopped
}

// checkTopics says which topics the brokers do not have.
func (c *Consumer) checkTopics(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	details, err := kadm.NewClient(c.cl).ListTopics(ctx, c.cfg.Topics...)
	if err != nil {
		return fmt.Errorf("listing the topics: %w", err)
	}
	var missing []string
	c.topicIDs = map[[16]byte]string{}
	for _, t := range c.cfg.Topics {
		d, ok := details[t]
		if !ok || d.Err != nil {
			missing = append(missing, t)
			continue
		}
		c.topicIDs[d.ID] = t
	}
	if t := c.cfg.DeadLetterTopic; t != "" {
		// Writing to a topic that does not exist would wait for it for ever.
		dl, err := kadm.NewClient(c.cl).ListTopics(ctx, t)
		if err != nil {
			return fmt.Errorf("listing the topics: %w", err)
		}
		if d, ok := dl[t]; !ok || d.Err != nil {
			missing = append(missing, t+" (the dead-letter topic)")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no such topic on the brokers %s: %s", strings.Join(c.cfg.Conn.Brokers, ","), strings.Join(missing, ", "))
	}
	return nil
}

// push hands a fetched record to its partition's dispatcher.
func (c *Consumer) push(r *kgo.Record) {
	t := tp{r.Topic, r.Partition}
	c.mu.Lock()
	p := c.parts[t]
	if p == nil {
		p = c.start(t)
	}
	c.mu.Unlock()
	if p.push(r, c.cfg.MaxBuffered) {
		c.cl.PauseFetchPartitions(map[string][]int32{t.topic: {t.part}})
	}
}

// start makes and runs the dispatcher of a partition; the caller holds mu.
func (c *Consumer) start(t tp) *partition {
	p := &partition{tp: t, off: newOffsets(c.skips[t]), wake: make(chan struct{}, 1), done: make(chan struct{}), lastOffset: -1,
		resume:  func() { c.cl.ResumeFetchPartitions(map[string][]int32{t.topic: {t.part}}) },
		already: func() { c.mu.Lock(); c.already++; c.mu.Unlock() }}
	delete(c.skips, t)
	var ctx context.Context
	ctx, p.abort = context.WithCancel(c.runCtx)
	p.run = c.cfg.Runner.Start(ctx, p, delivery.Sink{DeadLetters: c.dl, OnResult: c.cfg.OnResult})
	c.parts[t] = p
	go func() {
		defer close(p.done)
		p.sum, p.err = p.run.Wait()
		if p.err != nil && !errors.Is(p.err, delivery.ErrStopped) && ctx.Err() == nil {
			// Ended by itself (Intercom refuses the token): every partition
			// would fail the same way.
			c.log.Error("consume: stopping: dispatch ended", "partition", t.String(), "error", p.err)
			c.mu.Lock()
			if c.failed == nil {
				c.failed = p.err
			}
			c.mu.Unlock()
			c.Stop()
		}
	}()
	return p
}

// assigned is the group's callback for partitions given to this member.
func (c *Consumer) assigned(ctx context.Context, cl *kgo.Client, added map[string][]int32) {
	c.mu.Lock()
	for topic, parts := range added {
		for _, part := range parts {
			c.owned[tp{topic, part}] = true
		}
	}
	c.mu.Unlock()
	if len(list(added)) == 0 {
		return
	}
	c.loadSkips(ctx, cl, added)
	c.log.Info("consume: partitions assigned", "added", list(added), "owned", strings.Join(c.Owned(), ","))
	c.assignment(ctx, cl)
}

// loadSkips reads the metadata committed with the offsets of the added
// partitions: the records an earlier owner settled after its last commit,
// which this member then does not send again.
func (c *Consumer) loadSkips(ctx context.Context, cl *kgo.Client, added map[string][]int32) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resps, err := kadm.NewClient(cl).FetchOffsets(ctx, c.cfg.Group)
	if err != nil {
		c.log.Warn("consume: could not read the committed offsets' metadata: records settled after the last commit may be sent again", "error", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for topic, parts := range added {
		for _, part := range parts {
			if r, ok := resps.Lookup(topic, part); ok && r.Err == nil {
				if skip := parseMeta(r.At, r.Metadata); len(skip) > 0 {
					c.skips[tp{topic, part}] = skip
				}
			}
		}
	}
}

// revoked is the group's callback for partitions taken from this member:
// their dispatchers stop, and their settled offsets are committed before
// the callback returns, so the next owner starts after them.
func (c *Consumer) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	c.dropOwned(revoked)
	ts := c.existing(revoked)
	if len(list(revoked)) > 0 {
		c.log.Info("consume: partitions revoked", "revoked", list(revoked), "owned", strings.Join(c.Owned(), ","), "in_flight", c.inFlight(ts))
	}
	c.release(ts, true, c.cfg.RevokeTimeout)
	if len(list(revoked)) > 0 {
		c.assignment(ctx, cl)
	}
}

// lost is the group's callback for partitions lost without a revoke (the
// member was dropped from the group): their dispatchers stop, and nothing
// is committed (another member may own them already).
func (c *Consumer) lost(ctx context.Context, cl *kgo.Client, lost map[string][]int32) {
	c.dropOwned(lost)
	ts := c.existing(lost)
	if len(lost) > 0 {
		c.log.Warn("consume: partitions lost (this member left the group): their uncommitted events go to the next owner", "lost", list(lost))
	}
	c.release(ts, false, c.cfg.RevokeTimeout)
	c.assignment(ctx, cl)
}

func (c *Consumer) dropOwned(m map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for topic, parts := range m {
		for _, part := range parts {
			delete(c.owned, tp{topic, part})
		}
	}
}

// existing are the partitions of m that have a dispatcher.
func (c *Consumer) existing(m map[string][]int32) []tp {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ts []tp
	for topic, parts := range m {
		for _, part := range parts {
			if c.parts[tp{topic, part}] != nil {
				ts = append(ts, tp{topic, part})
			}
		}
	}
	return ts
}

func (c *Consumer) inFlight(ts []tp) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range ts {
		n += c.parts[t].off.pending()
	}
	return n
}

// release stops the dispatchers of ts and waits for them (cutting off what
// is still being sent after timeout, if not 0), commits their settled
// offsets if commit is set, and forgets them.
func (c *Consumer) release(ts []tp, commit bool, timeout time.Duration) {
	if len(ts) == 0 {
		return
	}
	c.mu.Lock()
	ps := make([]*partition, 0, len(ts))
	for _, t := range ts {
		if p := c.parts[t]; p != nil {
			ps = append(ps, p)
		}
	}
	c.mu.Unlock()
	for _, p := range ps {
		p.run.Stop()
	}
	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	for _, p := range ps {
		select {
		case <-p.done:
		case <-expired:
			c.log.Warn("consume: the events being sent of revoked partitions did not finish in time: cutting them off", "timeout", timeout.String())
			for _, q := range ps {
				q.abort()
			}
			<-p.done
		}
	}
	if commit {
		c.commit(c.runCtx, ps)
	}
	c.mu.Lock()
	for _, p := range ps {
		p.abort()
		if c.parts[p.tp] == p { // not released meanwhile by a revoke
			c.done.Add(p.sum)
			delete(c.parts, p.tp)
		}
	}
	c.mu.Unlock()
	// A paused partition stays paused across rebalances: resume it, so it
	// is fetched when it is assigned again.
	for _, p := range ps {
		p.resume()
	}
}

// commit commits the settled offsets of ps (nil: of every partition) that
// moved since their last commit, and waits for the answer.
func (c *Consumer) commit(ctx context.Context, ps []*partition) {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	if ps == nil {
		c.mu.Lock()
		ps = slices.Collect(maps.Values(c.parts))
		c.mu.Unlock()
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	type mark struct {
		offset int64
		meta   string
	}
	moved := map[tp]mark{}
	for _, p := range ps {
		off, epoch, meta, ok := p.off.mark()
		if !ok || off < p.lastOffset || (off == p.lastOffset && meta == p.lastMeta) {
			continue
		}
		if offsets[p.topic] == nil {
			offsets[p.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[p.topic][p.part] = kgo.EpochOffset{Epoch: epoch, Offset: off}
		moved[p.tp] = mark{off, meta}
	}
	if len(offsets) == 0 {
		return
	}
	if ctx.Err() != nil { // an abort: what is settled is still committed, briefly
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}
	// The records settled after each offset go in the commit's metadata.
	ctx = kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
		for i := range req.Topics {
			t := &req.Topics[i]
			name := t.Topic
			if name == "" {
				name = c.topicIDs[t.TopicID]
			}
			for j := range t.Partitions {
				if m, ok := moved[tp{name, t.Partitions[j].Partition}]; ok && m.meta != "" {
					meta := m.meta
					t.Partitions[j].Metadata = &meta
				}
			}
		}
		return nil
	})
	var commitErr error
	c.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			clear(moved)
			return
		}
		for _, t := range resp.Topics {
			name := t.Topic
			if name == "" {
				name = c.topicIDs[t.TopicID]
			}
			for _, pr := range t.Partitions {
				if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
					commitErr = fmt.Errorf("%s/%d: %w", name, pr.Partition, err)
					delete(moved, tp{name, pr.Partition})
				}
			}
		}
	})
	for _, p := range ps {
		if m, ok := moved[p.tp]; ok {
			p.lastOffset, p.lastMeta = m.offset, m.meta
		}
	}
	if commitErr != nil {
		c.log.Warn("consume: committing offsets failed; the next commit tries again", "error", commitErr)
	}
}

// block marks the event read at ref as not to be committed.
func (c *Consumer) block(ref string) {
	t, off, ok := parseRef(ref)
	if !ok {
		return
	}
	c.mu.Lock()
	p := c.parts[t]
	c.mu.Unlock()
	if p != nil {
		p.off.block(off)
	}
}

// assignment tells OnAssignment what this member owns now.
func (c *Consumer) assignment(ctx context.Context, cl *kgo.Client) {
	select {
	case <-c.stop: // leaving the group: no share to set
		return
	default:
	}
	if c.cfg.OnAssignment == nil {
		return
	}
	c.mu.Lock()
	owned := len(c.owned)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	details, err := kadm.NewClient(cl).ListTopics(ctx, c.cfg.Topics...)
	if err != nil {
		c.log.Warn("consume: could not count the topics' partitions", "error", err)
		return
	}
	total := 0
	for _, d := range details {
		total += len(d.Partitions)
	}
	c.cfg.OnAssignment(owned, total)
}

// Ref is where a record was read: "topic/partition@offset", the Ref of its
// event and of its dead letters.
func Ref(topic string, part int32, offset int64) string {
	return topic + "/" + strconv.Itoa(int(part)) + "@" + strconv.FormatInt(offset, 10)
}

func parseRef(ref string) (tp, int64, bool) {
	at := strings.LastIndexByte(ref, '@')
	slash := strings.LastIndexByte(ref[:max(at, 0)], '/')
	if at < 0 || slash < 0 {
		return tp{}, 0, false
	}
	part, err1 := strconv.ParseInt(ref[slash+1:at], 10, 32)
	off, err2 := strconv.ParseInt(ref[at+1:], 10, 64)
	if err1 != nil || err2 != nil {
		return tp{}, 0, false
	}
	return tp{ref[:slash], int32(part)}, off, true
}

func list(m map[string][]int32) string {
	var out []string
	for topic, parts := range m {
		for _, p := range parts {
			out = append(out, tp{topic, p}.String())
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
