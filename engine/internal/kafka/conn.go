// Package kafka spreads delivery over machines with Kafka consumer groups:
// a Consumer is a group member that sends the events of the partitions it
// is assigned through the rules to Intercom, in order per partition, and
// commits a partition's offset only once every event before it is settled
// (sent, skipped or dead-lettered); a Forwarder writes events to a topic,
// keyed by user, so ingestion (serve --forward-kafka) and delivery
// (consume) scale apart; dead letters can go to a topic too. It does I/O,
// through github.com/twmb/franz-go.
package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Conn says how to reach the brokers.
type Conn struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// TLS, if set, encrypts every connection (see TLSConfig).
	TLS *tls.Config
	// SASL, if set, authenticates every connection (see SASLMechanism).
	SASL sasl.Mechanism
	// Log receives the client's warnings and errors (never credentials);
	// nil discards.
	Log *slog.Logger
}

// opts are the client options of c.
func (c Conn) opts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS))
	}
	if c.SASL != nil {
		opts = append(opts, kgo.SASL(c.SASL))
	}
	if c.Log != nil {
		opts = append(opts, kgo.WithLogger(kgoLogger{c.Log}))
	}
	return opts
}

// TLSConfig builds the TLS configuration of a connection: the system's
// roots, or those of the PEM file caFile; a client certificate from
// certFile and keyFile (mutual TLS) if given; serverName, if given, is the
// name the brokers' certificates must carry.
func TLSConfig(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca: %s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case certFile != "" || keyFile != "":
		return nil, errors.New("tls client certificate: give both the certificate and its key")
	}
	return cfg, nil
}

// SASLMechanisms are the names SASLMechanism takes.
var SASLMechanisms = []string{"plain", "scram-sha-256", "scram-sha-512"}

// SASLMechanism returns the SASL mechanism of that name (plain,
// scram-sha-256 or scram-sha-512, any case) for user and pass.
func SASLMechanism(name, user, pass string) (sasl.Mechanism, error) {
	if user == "" || pass == "" {
		return nil, errors.New("a user and a password are needed")
	}
	switch strings.ToLower(name) {
	case "plain":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "scram-sha-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "scram-sha-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("%q: want one of %s", name, strings.Join(SASLMechanisms, ", "))
}

// ping checks that a broker answers, so that a wrong address, TLS setting
// or password is said at once rather than retried for ever.
func ping(ctx context.Context, cl *kgo.Client, conn Conn) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := cl.Ping(ctx)
	switch {
	case err == nil:
		return nil
	case conn.SASL != nil && errors.Is(err, io.EOF):
		// Brokers close the connection on a failed authentication.
		return fmt.Errorf("cannot reach the Kafka brokers %s: %w (the connection was closed: check the SASL mechanism, user and password)", strings.Join(conn.Brokers, ","), err)
	case conn.TLS == nil && errors.Is(err, io.EOF):
		return fmt.Errorf("cannot reach the Kafka brokers %s: %w (the connection was closed: do they want TLS?)", strings.Join(conn.Brokers, ","), err)
	}
	return fmt.Errorf("cannot reach the Kafka brokers %s: %w", strings.Join(conn.Brokers, ","), err)
}

// Key is the record key of an event: its userId, else its anonymousId
// (nil when it has neither), so that every event of a user goes to one
// partition and is delivered in order.
func Key(event []byte) []byte {
	ids := gjson.GetManyBytes(event, "userId", "anonymousId")
	for _, id := range ids {
		if s := id.String(); s != "" {
			return []byte(s)
		}
	}
	return nil
}

// kgoLogger passes the client's warnings and errors to slog (its info and
// debug lines are about connections and fetches: noise for a service log).
type kgoLogger struct{ log *slog.Logger }

func (l kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelWarn
	if level == kgo.LogLevelError {
		lv = slog.LevelError
	}
	l.log.Log(context.Background(), lv, "kafka: "+msg, keyvals...)
}
