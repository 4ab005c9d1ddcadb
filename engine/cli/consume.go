package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/kafka"
	"github.com/intercom-actions/intercom-actions/engine/internal/metrics"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

func init() {
	register(&command{name: "consume", summary: "send the events of Kafka topics to Intercom, as a member of a consumer group", run: runConsume})
}

const consumeUsage = `
Usage: intercom-actions consume --brokers HOST:PORT,... --topic T [flags]

Joins a Kafka consumer group and sends the events (Segment JSON, one per
record) of the partitions it is assigned to Intercom through the rules.
Run as many as the topic has partitions, on as many machines: the group
shares the partitions among them and moves them when one joins or leaves.

Order: each partition is read in offset order and its events are sent in
order per contact, as 'send' does; with records keyed by userId (else
anonymousId), as 'serve --forward-kafka' writes them, every event of a user
is on one partition, so a user's events reach Intercom in order.

At-least-once: an offset is committed only once every event before it is
sent, skipped (no rule matched) or dead-lettered; the events settled after
it are named in the commit's metadata, so the partition's next owner does
not send them again. On a rebalance, the revoked partitions' requests in
flight finish (--revoke-timeout), what was fetched and not started is left
to the next owner, and the partition is committed once, before the next
owner starts. After a crash, the events settled since the last commit
(--commit-interval) go again; Intercom ignores a data event of the same
contact, name and created_at as one it stored (whatever its metadata).
Their dead letters are written again too: the dead-letter topic or file
may then hold two records of one failure (unlike send's and serve's, which
keep one).

Dead letters (events that cannot be used, actions that finally failed)
go to --dead-letter-topic (the JSON of each, keyed as its event, header
"error") or else are appended to --dead-letter; one that cannot be stored
keeps its event uncommitted.

Intercom's rate limit is per app: each consume process keeps to its part
of each window's limit, its share of the topics' partitions (--rate-share
auto), so that together they spend it without running into 429s.

Connection: --tls (with --tls-ca, --tls-cert/--tls-key for mutual TLS),
--sasl-mechanism plain|scram-sha-256|scram-sha-512 with --sasl-user and
the password in KAFKA_SASL_PASSWORD or --sasl-password-file (never on
the command line).

Stopping: the first SIGINT or SIGTERM stops fetching, lets the requests
to Intercom in flight finish (--shutdown-timeout), commits what is settled
and leaves the group, so its partitions move at once; a second signal
aborts (a request cut off is dead-lettered as outcome unknown). Exit
status 0 after a clean stop, 130 when requests had to be cut off, 1 on
failure (brokers not reachable, no such topic, Intercom refusing the
token at start), 2 on bad usage (no token, a workspace in another region).

Intercom down or refusing the token later: delivery pauses and nothing new
is committed or dead-lettered for it; an outage is waited out in order, a
refused token is read again and checked every --token-recheck and on
SIGHUP; the metric intercom_actions_delivery_paused says why.

Examples:
  intercom-actions consume --brokers 127.0.0.1:9092 --topic events --group intercom-actions --api-base http://127.0.0.1:8089
  KAFKA_SASL_PASSWORD=... INTERCOM_ACCESS_TOKEN=... intercom-actions consume --brokers b1:9093,b2:9093 \
      --tls --sasl-mechanism scram-sha-512 --sasl-user intercom --topic events --dead-letter-topic events-dead --region eu
`

func runConsume(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("consume", consumeUsage, stderr, stdout)
	brokers := fs.String("brokers", "", "Kafka brokers, host:port, comma-separated (or KAFKA_BROKERS)")
	var topics listFlag
	fs.Var(&topics, "topic", "topic to consume (repeatable)")
	group := fs.String("group", "intercom-actions", "consumer group")
	dlTopic := fs.String("dead-letter-topic", "", "topic the dead letters are written to (instead of --dead-letter)")
	deadLetter := fs.String("dead-letter", "dead-letter.ndjson", "file the dead letters are appended to, when no --dead-letter-topic")
	kf := addKafkaFlags(fs, "")
	var cfg processor.Config
	addOptions(fs, &cfg)
	rateShare := fs.String("rate-share", "auto", "part of Intercom's rate limit this process keeps to: auto (its share of the topics' partitions), or a fraction such as 0.5 (1: all the headers say is left)")
	commitInterval := durationFlag(fs, "commit-interval", time.Second, time.Millisecond, "how often the settled offsets are committed")
	shutdownTimeout := addShutdownTimeout(fs)
	revokeTimeout := durationFlag(fs, "revoke-timeout", 0, 0, "on a rebalance, how long the revoked partitions' requests in flight may take before they are cut off (under --rebalance-timeout; default: two thirds of it)")
	sessionTimeout := durationFlag(fs, "session-timeout", 45*time.Second, time.Millisecond, "how long the group waits for a member that stopped heartbeating before moving its partitions")
	heartbeat := durationFlag(fs, "heartbeat-interval", 3*time.Second, time.Millisecond, "how often the member heartbeats (at most a third of --session-timeout)")
	rebalanceTimeout := durationFlag(fs, "rebalance-timeout", 60*time.Second, time.Millisecond, "how long the members may take to rejoin in a rebalance")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464; default: none)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	verbose := fs.Bool("v", false, "debug logs: each retry, wait and failure (ids only, never tokens or traits)")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "consume: unexpected argument %q (consume takes flags only)\n", fs.Arg(0))
		return 2
	}
	if *brokers == "" {
		*brokers = os.Getenv("KAFKA_BROKERS")
	}
	switch {
	case *brokers == "":
		fmt.Fprintln(stderr, "consume: --brokers is required (host:port, comma-separated; or KAFKA_BROKERS)")
		return 2
	case len(topics) == 0:
		fmt.Fprintln(stderr, "consume: --topic is required")
		return 2
	case *group == "":
		fmt.Fprintln(stderr, "consume: --group must not be empty")
		return 2
	}
	share, err := parseShare(*rateShare)
	if err != nil {
		fmt.Fprintf(stderr, "consume: --rate-share: %v\n", err)
		return 2
	}
	log, _, err := newLogger(*logFormat, *verbose, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "consume: %v\n", err)
		return 2
	}
	kconn, err := kf.conn(*brokers, log)
	if err != nil {
		fmt.Fprintf(stderr, "consume: %v\n", err)
		return 2
	}
	cfg.Logger = log
	if msg := missingToken("consume", cfg, "run 'intercom-actions simulate --addr 127.0.0.1:8089' and give consume --api-base http://127.0.0.1:8089"); msg != "" {
		fmt.Fprint(stderr, msg)
		return 2
	}
	p, code, ok := newProcessor("consume", cfg, stderr)
	if !ok {
		return code
	}
	defer p.Close()
	if code, ok := checkToken("consume", p, log, stderr); !ok {
		return code
	}
	defer reloadTokenOnHUP("consume", p, log)()
	if share > 0 {
		p.SetRateShare(share)
	}

	kcfg := kafka.Config{
		Conn:   kconn,
		Topics: topics,
		Group:  *group,
		Runner: p,
		OnResult: func(r processor.EventResult) {
			if r.Status == processor.Failed {
				logDeadLettered(log, r)
			}
		},
		DeadLetterTopic:   *dlTopic,
		CommitInterval:    *commitInterval,
		RevokeTimeout:     *revokeTimeout,
		SessionTimeout:    *sessionTimeout,
		HeartbeatInterval: *heartbeat,
		RebalanceTimeout:  *rebalanceTimeout,
		Log:               log,
	}
	if share == 0 { // auto: the part of the partitions this member owns
		last := ""
		kcfg.OnAssignment = func(owned, total int) { // called by one goroutine at a time
			if owned > 0 && total > 0 {
				p.SetRateShare(float64(owned) / float64(total))
				if s := fmt.Sprintf("%d/%d", owned, total); s != last {
					last = s
					log.Info("consume: keeping to this share of Intercom's rate limit: the part of the partitions owned", "share", s)
				}
			}
		}
	}
	if *dlTopic == "" {
		dlFile := &delivery.DeadLetterFile{Path: *deadLetter, Sync: true} // its event's offset is committed after it
		defer dlFile.Close()
		kcfg.DeadLetter = func(_ context.Context, dl processor.DeadLetter) error { return dlFile.Put(dl) }
	}
	c, err := kafka.NewConsumer(kcfg)
	if err != nil {
		fmt.Fprintf(stderr, "consume: %v\n", err)
		return 2
	}
	if *metricsAddr != "" {
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			fmt.Fprintf(stderr, "consume: --metrics-addr: %v\n", err)
			return 1
		}
		met := metrics.New(metrics.Sources{Dispatch: c.Summary, Client: p})
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", met.Handler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("consume: metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	}

	apiBase, _ := cfg.BaseURL()
	log.Info("consume: starting", "brokers", strings.Join(kconn.Brokers, ","), "topics", strings.Join(topics, ","), "group", *group,
		"api_base", apiBase, "rules", rulesLabel(cfg.Rules.Files), "dead_letters", deadLetterLabel(*dlTopic, *deadLetter))

	ctx, abort := context.WithCancel(context.Background())
	defer abort()
	var forced bool
	sigs := catchSignals()
	defer sigs.release()
	runDone := make(chan struct{})
	var sum processor.Summary
	var runErr error
	go func() {
		defer close(runDone)
		sum, runErr = c.Run(ctx)
	}()
	select {
	case sig := <-sigs.C:
		log.Info("consume: stopping: no more records are fetched; the requests to Intercom in flight may finish; a second signal aborts them",
			"signal", signalName(sig), "shutdown_timeout", shutdownTimeout.String())
		c.Stop()
		forced = sigs.logDrain(log, "consume", runDone, *shutdownTimeout, abort)
	case <-runDone:
	}
	<-runDone
	if runErr != nil && !errors.Is(runErr, processor.ErrStopped) && !errors.Is(runErr, context.Canceled) {
		log.Error("consume: failed", "error", runErr)
		return 1
	}
	logStopped(log, "consume", sum, "left_uncommitted", sum.Unsettled, "already_settled", c.Already(), "calls", p.Stats().Calls)
	if forced {
		return exitInterrupted
	}
	return 0
}

// parseShare reads --rate-share: 0 for auto, else a fraction in (0, 1].
func parseShare(s string) (float64, error) {
	if s == "auto" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 1 {
		return 0, fmt.Errorf("%q: want auto or a fraction above 0 and at most 1 (e.g. 0.5)", s)
	}
	return f, nil
}

func deadLetterLabel(topic, file string) string {
	if topic != "" {
		return "topic " + topic
	}
	return "file " + file
}

// newLogger makes the slog logger of a service command: text or json on
// stderr, debug with verbose.
func newLogger(format string, verbose bool, stderr io.Writer) (*slog.Logger, slog.Handler, error) {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	case "json":
		h = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	default:
		return nil, nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
	return slog.New(h), h, nil
}
