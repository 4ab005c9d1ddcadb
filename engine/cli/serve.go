package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/bounded"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/ingest"
	"github.com/intercom-actions/intercom-actions/engine/internal/metrics"
	"github.com/intercom-actions/intercom-actions/engine/internal/spool"
	"github.com/intercom-actions/intercom-actions/engine/processor"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

func init() {
	register(&command{name: "serve", summary: "run the destination: Segment-compatible ingestion, a durable spool, dispatch to Intercom", run: runServe})
}

const serveUsage = `
Usage: intercom-actions serve [flags]

Runs the destination as a service. It takes events as Segment's HTTP
Tracking API does — so Segment libraries (analytics-go, analytics-node,
analytics-python, analytics.js, ...) can send to it unchanged — and as
Segment's and RudderStack's webhook destinations forward them; it answers
only once the events are written and fsynced to the spool in --data-dir;
and it sends them to Intercom through the rules, in order per contact,
keeping what fails as dead letters ('intercom-actions deadletter').

It listens on 127.0.0.1:8088, keeps its data in the user's state dir and
uses the embedded default rules. It needs an Intercom token
(INTERCOM_ACCESS_TOKEN, --token-file, or 'intercom-actions auth login'),
checks it at start (GET /me: the admin, workspace and region are logged;
a workspace in another region than --region is refused), and refuses to
start without one. To try it offline: --intercom sim sends to an
in-process Intercom simulator whose state is at /_sim/state.

Intercom down or refusing the token: delivery pauses, events are still
taken into the spool, nothing is dead-lettered for it; /readyz answers
200 {"status":"paused","detail":"delivery paused: ..."} and the metric
intercom_actions_delivery_paused says why. An outage (connection errors,
timeouts, 5xx, 429) is waited out in order; a refused token is read again
and checked every --token-recheck, and at once on SIGHUP.

Endpoints:
  POST /v1/identify /v1/track /v1/group /v1/page /v1/screen /v1/alias /v1/batch
       (and /v1/i /v1/t /v1/g /v1/p /v1/s /v1/a /v1/b): Segment's HTTP API
  POST /v1/webhook     one forwarded event (or an array), X-Signature checked
                       when INTERCOM_ACTIONS_WEBHOOK_SECRET or --webhook-secret-file is set
  GET  /healthz        the process answers
  GET  /readyz         it takes events (503 while stopping, with the spool full,
                       or while the spool cannot be written: a full disk;
                       200 "paused" while delivery waits for Intercom)
  GET  /metrics        Prometheus metrics
  GET  /_sim/state     the simulator's contacts, companies and events (--intercom sim)

Write keys: --write-key (repeatable), --write-keys-file (one a line) or
INTERCOM_ACTIONS_WRITE_KEYS (comma-separated); the key is the HTTP Basic
user name, or writeKey in the body. With none configured any key is
accepted (the log says so).

Limits as Segment's: 32 KB an event, 500 KB a batch (400 beyond). A
messageId seen within --dedup-window is dispatched once. Past --spool-max
of events not yet sent and dead letters kept, requests are answered 503
with Retry-After.

Scaling out: with --forward-kafka BROKERS --forward-topic T, serve only
takes events: each request is answered once its events are in the topic
(keyed by userId, else anonymousId), and 'intercom-actions consume'
processes send them; TLS and SASL as consume's flags, prefixed kafka-
(--kafka-tls, --kafka-sasl-mechanism, ...). No spool, no simulator.

Stopping: the first SIGINT or SIGTERM stops taking events, lets the
requests to Intercom in flight finish (--shutdown-timeout) and keeps
everything else in the spool for the next start; a second signal aborts
(a request cut off is dead-lettered as outcome unknown). Exit status 0
after a clean stop, 130 when requests had to be cut off, 1 on failure.

Examples:
  intercom-actions serve --intercom sim
  curl -s -u my-write-key: http://127.0.0.1:8088/v1/track -d '{"userId":"u1","event":"Signed Up"}'
  curl -s http://127.0.0.1:8088/_sim/state
  INTERCOM_ACCESS_TOKEN=... intercom-actions serve --addr :8088 --region eu --write-key $KEY --log-format json
  intercom-actions serve --addr :8088 --forward-kafka b1:9092,b2:9092 --forward-topic events
`

func runServe(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("serve", serveUsage, stderr, stdout)
	addr := fs.String("addr", "127.0.0.1:8088", "address to listen on")
	dataDir := fs.String("data-dir", defaultDataDir(), "where the spool, the dead letters and the memory of calls sent are kept")
	var cfg processor.Config
	addOptions(fs, &cfg)
	mode := fs.String("intercom", "", "where actions go: api (Intercom's REST API: needs a token; the default) or sim (an in-process simulator, to try it offline)")
	shutdownTimeout := addShutdownTimeout(fs)
	var writeKeys listFlag
	fs.Var(&writeKeys, "write-key", "a write key to accept (repeatable; also INTERCOM_ACTIONS_WRITE_KEYS, comma-separated)")
	writeKeysFile := fs.String("write-keys-file", "", "file of write keys to accept, one a line")
	secretFile := fs.String("webhook-secret-file", "", "file holding the shared secret that signs /v1/webhook requests (or INTERCOM_ACTIONS_WEBHOOK_SECRET)")
	spoolMax := fs.String("spool-max", "1GiB", "most bytes of events waiting and dead letters kept in the spool; past it, 503 (e.g. 512MiB, 2GB)")
	dedupWindow := fs.Duration("dedup-window", spool.DefaultDedupWindow, "how long a messageId is remembered to drop duplicates")
	maxConns := intFlag(fs, "max-connections", defaultMaxConns, 1, "HTTP connections kept open at most; at the cap a new one replaces the longest idle, and /healthz, /readyz and /metrics are still answered when all are busy")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	verbose := fs.Bool("v", false, "debug logs: each retry, wait and failure (ids only, never tokens or traits)")
	forwardKafka := fs.String("forward-kafka", "", "Kafka brokers (host:port, comma-separated) to write accepted events to, keyed by userId (else anonymousId), instead of the spool; 'consume' sends them (see --forward-topic)")
	forwardTopic := fs.String("forward-topic", "", "the topic of --forward-kafka")
	kf := addKafkaFlags(fs, "kafka-")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "serve: unexpected argument %q (serve takes flags only)\n", fs.Arg(0))
		return 2
	}
	if *forwardKafka != "" || *forwardTopic != "" {
		return runServeForward(serveForward{brokers: *forwardKafka, topic: *forwardTopic, kafka: kf, addr: *addr,
			writeKeys: writeKeys, writeKeysFile: *writeKeysFile, secretFile: *secretFile, shutdownTimeout: *shutdownTimeout,
			logFormat: *logFormat, verbose: *verbose, maxConns: *maxConns}, stderr)
	}
	maxBytes, err := parseSize(*spoolMax)
	if err != nil {
		fmt.Fprintf(stderr, "serve: --spool-max: %v\n", err)
		return 2
	}
	log, handler, err := newLogger(*logFormat, *verbose, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 2
	}
	keys, secret, err := serveSecrets(writeKeys, *writeKeysFile, *secretFile)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 2
	}
	// Where actions go.
	var sim *simulator.Server
	useSim, err := chooseIntercom(*mode, &cfg)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 2
	}
	if useSim {
		sim = simulator.NewServer(simulator.Options{MaxRequests: 10000}) // a long-running serve keeps only the latest requests
		defer sim.Close()
		cfg.APIBase = sim.URL()
	}
	cfg.Logger = log // the client warns at once when Intercom cannot be reached
	if !useSim {     // the simulator starts empty: what was sent to the last one is not there
		cfg.MemoryFile = filepath.Join(*dataDir, "memory") // what --skip-unchanged remembers, across restarts
	}
	p, code, ok := newProcessor("serve", cfg, stderr)
	if !ok {
		return code
	}
	defer p.Close() // on every way out: it saves the memory it loaded (and removed)
	// The spool first: a local fault is refused before Intercom is asked.
	sp, err := spool.Open(*dataDir, spool.Options{MaxBytes: maxBytes, DedupWindow: *dedupWindow, OnWriteError: func(err error) {
		if err != nil {
			log.Error("serve: the spool cannot be written: nothing is taken or settled until it can (every event stays in the spool); /readyz says not ready", "error", err)
		} else {
			log.Info("serve: the spool can be written again")
		}
	}})
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	defer sp.Close()

	if code, ok := checkToken("serve", p, log, stderr); !ok {
		return code
	}
	defer reloadTokenOnHUP("serve", p, log)()

	var run processor.Run
	met := metrics.New(metrics.Sources{Dispatch: func() processor.Summary { return run.Summary() }, Client: p, Spool: sp})
	src := sp.Source()
	src.Settled = met.Delivered
	sink := processor.Sink{
		DeadLetters: hookDeadLetters(delivery.DeadLetterFunc(sp.PutDeadLetter)),
		// An event is settled once its dead letter is written: tried again
		// while the disk is full (the spool probes it), kept if serve stops.
		DeadLetterRetry: time.Second,
		OnResult: func(r processor.EventResult) {
			if r.Status == processor.Failed {
				logDeadLettered(log, r)
			}
		},
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	base := "http://" + ln.Addr().String()
	about := "intercom-actions serve: POST events to " + base + "/v1/track, /v1/identify, /v1/batch, ...; GET /healthz, /readyz, /metrics"
	web := &ingestion{
		Events: ingest.New(ingest.Config{Store: gatedStore{sp, func() error {
			if crowded(p) {
				return &delivery.Refusal{Reason: "waiting_full", Msg: crowdedMsg(p)}
			}
			return nil
		}}, WriteKeys: keys, WebhookSecret: secret, Observer: met, Log: log}),
		Metrics:  met.Handler(),
		MaxConns: *maxConns,
		NotReady: func() (string, string) {
			if crowded(p) {
				return "waiting_full", crowdedMsg(p)
			}
			if err := sp.WriteError(); err != nil {
				return "write_failed", "the spool cannot be written (" + err.Error() + "): events are neither taken nor settled until it can; free the disk"
			}
			if sp.Full() {
				if sp.DeadBytes() > sp.Bytes() {
					return "full", "the spool is full, mostly of dead letters: replay or delete them ('intercom-actions deadletter')"
				}
				return "full", "the spool is full: events are sent to Intercom more slowly than they arrive"
			}
			return "", ""
		},
		Degraded: func() (string, string) { // events are still taken into the spool
			if h := p.Health(); h.Paused() {
				return "paused", h.Reason()
			}
			return "", ""
		},
	}
	if sim != nil {
		web.Extra = map[string]http.Handler{"/_sim/": sim}
		about += ", /_sim/state"
	}
	web.About = about
	srv, ln := web.server(handler, ln, met)
	admin, adminErr := serveAdmin(*dataDir, sp)
	if adminErr != nil {
		log.Warn("no admin socket: deadletter commands need serve stopped", "error", adminErr)
	}

	sigs := catchSignals() // before it says it listens: a signal then stops it as any other
	defer sigs.release()
	log.Info("serve: listening", "addr", base, "data_dir", *dataDir, "spool_events", sp.Depth(), "rules", rulesLabel(cfg.Rules.Files))
	if sim != nil {
		log.Info("serve: actions go to an in-process Intercom simulator (--intercom sim); nothing reaches Intercom",
			"sim_state", base+"/_sim/state")
	} else {
		apiBase, _ := cfg.BaseURL()
		log.Info("serve: actions go to Intercom", "api_base", apiBase)
	}
	if len(keys) == 0 {
		log.Warn("serve: no write key configured: any write key is accepted (set --write-key or INTERCOM_ACTIONS_WRITE_KEYS)")
	}

	ctx, abort := context.WithCancel(context.Background())
	defer abort()
	runDone := make(chan struct{})
	var sum processor.Summary
	var runErr error
	run = p.Start(ctx, src, sink)
	go func() {
		defer close(runDone)
		sum, runErr = run.Wait()
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	var forced bool
	select {
	case sig := <-sigs.C:
		log.Info("serve: stopping: no more events are taken; the requests to Intercom in flight may finish; a second signal aborts them",
			"signal", signalName(sig), "shutdown_timeout", shutdownTimeout.String())
	case err := <-serveErr:
		log.Error("serve: the HTTP server failed", "error", err)
		forced = true
	case <-runDone:
		log.Error("serve: dispatch ended", "error", runErr)
		forced = true
	}
	web.stop()
	run.Stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // requests being acknowledged finish; no new ones are taken
		defer wg.Done()
		shut, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if sigs.logDrain(log, "serve", runDone, *shutdownTimeout, abort) {
		forced = true
	}
	<-runDone
	srv.Close()
	wg.Wait()
	if admin != nil {
		admin.Close()
	}
	closeErr := sp.Close()
	left := sp.Depth() // an atomic count, kept up to the last settle before Close
	p.Close()
	logStopped(log, "serve", sum, "left_in_spool", left, "calls", p.Stats().Calls)
	if closeErr != nil {
		log.Error("serve: closing the spool", "error", closeErr)
		return 1
	}
	if runErr != nil && !errors.Is(runErr, processor.ErrStopped) && !errors.Is(runErr, context.Canceled) {
		log.Error("serve: dispatch failed", "error", runErr)
		return 1
	}
	if forced {
		return exitInterrupted
	}
	return 0
}

// chooseIntercom says whether actions go to the in-process simulator:
// only when asked (--intercom sim). With no token and no --api-base, it
// refuses, saying how to give one: a service that went on would deliver
// nowhere.
func chooseIntercom(mode string, cfg *processor.Config) (bool, error) {
	switch mode {
	case "sim":
		if cfg.APIBase != "" {
			return false, errors.New("--intercom sim and --api-base: pick one")
		}
		return true, nil
	case "api", "":
		if msg := missingToken("serve", *cfg, "intercom-actions serve --intercom sim"); msg != "" {
			return false, errors.New(strings.TrimPrefix(strings.TrimSuffix(msg, "\n"), "serve: "))
		}
		return false, nil // a token, or a problem the client will report
	}
	return false, fmt.Errorf("--intercom %q: want api or sim", mode)
}

// serveSecrets gathers the write keys (flags, file, environment) and the
// webhook secret (file, environment).
func serveSecrets(flagKeys []string, keysFile, secretFile string) ([]string, string, error) {
	keys := append([]string(nil), flagKeys...)
	for _, k := range strings.Split(os.Getenv("INTERCOM_ACTIONS_WRITE_KEYS"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	if keysFile != "" {
		data, err := os.ReadFile(keysFile)
		if err != nil {
			return nil, "", fmt.Errorf("--write-keys-file: %w", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if k := strings.TrimSpace(line); k != "" && !strings.HasPrefix(k, "#") {
				keys = append(keys, k)
			}
		}
	}
	secret := os.Getenv("INTERCOM_ACTIONS_WEBHOOK_SECRET")
	if secretFile != "" {
		data, err := os.ReadFile(secretFile)
		if err != nil {
			return nil, "", fmt.Errorf("--webhook-secret-file: %w", err)
		}
		secret = strings.TrimSpace(string(data))
	}
	return keys, secret, nil
}

// defaultDataDir is $XDG_STATE_HOME/intercom-actions, else
// ~/.local/state/intercom-actions (on macOS and Windows, the user config
// dir's intercom-actions).
func defaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "intercom-actions")
	}
	if runtime.GOOS == "linux" || runtime.GOOS == "freebsd" || runtime.GOOS == "openbsd" {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".local", "state", "intercom-actions")
		}
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "intercom-actions")
	}
	return "intercom-actions-data"
}

// parseSize reads a byte count: 1048576, 512MiB, 2GB, 1.5GiB.
func parseSize(s string) (int64, error) {
	n, err := bounded.Size(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (e.g. 1GiB, 512MiB, 2000000)", s)
	}
	return n, nil
}

// crowded says whether the actions waiting for their contact's identify
// hold more than 90% of --waiting-max: serve then takes no new events
// (503), rather than let them push the waiting actions out early, until
// identifies come or the waits end.
func crowded(p *processor.Processor) bool {
	return p.WaitingBytes() > p.WaitingMax()/10*9
}

func crowdedMsg(p *processor.Processor) string {
	bound := fmt.Sprintf("%d bytes", p.WaitingMax())
	if p.WaitingMax()%(1<<20) == 0 {
		bound = fmt.Sprintf("%dMiB", p.WaitingMax()>>20)
	}
	return fmt.Sprintf("too many events wait for their contact's identify (90%% of --waiting-max %s): retry later", bound)
}

// gatedStore refuses to store while gate returns an error.
type gatedStore struct {
	ingest.Store
	gate func() error
}

func (g gatedStore) Append(ctx context.Context, items []delivery.Item) (delivery.Stored, error) {
	if err := g.gate(); err != nil {
		return delivery.Stored{}, err
	}
	return g.Store.Append(ctx, items)
}
