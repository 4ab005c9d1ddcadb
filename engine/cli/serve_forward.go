package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/ingest"
	"github.com/intercom-actions/intercom-actions/engine/internal/kafka"
	"github.com/intercom-actions/intercom-actions/engine/internal/metrics"
)

// serveForward is serve with --forward-kafka: ingestion only, the
// accepted events written to a Kafka topic for `consume` to send.
type serveForward struct {
	brokers, topic  string
	kafka           *kafkaFlags
	addr            string
	writeKeys       []string
	writeKeysFile   string
	secretFile      string
	shutdownTimeout time.Duration
	logFormat       string
	verbose         bool
	maxConns        int
}

// runServeForward takes events as serve does and writes them to a topic,
// keyed by userId (else anonymousId), answering a request only once the
// brokers have acknowledged its events. Nothing is sent to Intercom here:
// `consume` processes do that, so ingestion and delivery scale apart.
func runServeForward(o serveForward, stderr io.Writer) int {
	if o.brokers == "" || o.topic == "" {
		fmt.Fprintln(stderr, "serve: --forward-kafka and --forward-topic go together: the brokers and the topic to write events to")
		return 2
	}
	log, handler, err := newLogger(o.logFormat, o.verbose, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 2
	}
	keys, secret, err := serveSecrets(o.writeKeys, o.writeKeysFile, o.secretFile)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 2
	}
	conn, err := o.kafka.conn(o.brokers, log)
	if err != nil {
		fmt.Fprintf(stderr, "serve: --forward-kafka: %v\n", err)
		return 2
	}
	fwd, err := kafka.NewForwarder(context.Background(), conn, o.topic)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	defer fwd.Close()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	base := "http://" + ln.Addr().String()
	met := metrics.New(metrics.Sources{})
	web := &ingestion{
		Events:   ingest.New(ingest.Config{Store: fwd, WriteKeys: keys, WebhookSecret: secret, Observer: met, Log: log}),
		Metrics:  met.Handler(),
		MaxConns: o.maxConns,
		About:    fmt.Sprintf("intercom-actions serve: POST events to %s/v1/track, /v1/identify, /v1/batch, ...; they go to Kafka topic %s; GET /healthz, /readyz, /metrics", base, o.topic),
	}
	srv, ln := web.server(handler, ln, met)
	log.Info("serve: listening; accepted events go to Kafka (send them with 'intercom-actions consume')", "addr", base,
		"brokers", o.brokers, "topic", o.topic)
	if len(keys) == 0 {
		log.Warn("serve: no write key configured: any write key is accepted (set --write-key or INTERCOM_ACTIONS_WRITE_KEYS)")
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	sigs := catchSignals()
	defer sigs.release()
	select {
	case sig := <-sigs.C:
		log.Info("serve: stopping: no more events are taken; the requests being acknowledged finish", "signal", signalName(sig))
	case err := <-serveErr:
		log.Error("serve: the HTTP server failed", "error", err)
		return 1
	}
	web.stop()
	ctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			log.Warn("serve: requests cut off at the shutdown timeout: their clients were not answered and will send them again", "error", err)
			return exitInterrupted
		}
	case sig := <-sigs.C:
		log.Warn("serve: aborting: requests being acknowledged are cut off (their clients were not answered and will send them again)", "signal", signalName(sig))
		srv.Close()
		return exitInterrupted
	}
	log.Info("serve: stopped")
	return 0
}
