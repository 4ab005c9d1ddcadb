package cli

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine/internal/kafka"
)

// kafkaFlags are the TLS and SASL flags of commands that talk to Kafka,
// named as Kafka's own tools name them (serve prefixes them with kafka-).
type kafkaFlags struct {
	tls                             *bool
	tlsCA, tlsCert, tlsKey, tlsName *string
	saslMechanism, saslUser         *string
	saslPassFile                    *string
	prefix                          string
}

// saslPasswordEnv holds the SASL password when no file is given: a
// password never goes on the command line, where ps shows it.
const saslPasswordEnv = "KAFKA_SASL_PASSWORD"

func addKafkaFlags(fs *flag.FlagSet, prefix string) *kafkaFlags {
	k := &kafkaFlags{prefix: prefix}
	k.tls = fs.Bool(prefix+"tls", false, "connect to the brokers with TLS (the system's roots unless --"+prefix+"tls-ca)")
	k.tlsCA = fs.String(prefix+"tls-ca", "", "PEM file of the CA certificates the brokers' certificates must chain to (implies --"+prefix+"tls)")
	k.tlsCert = fs.String(prefix+"tls-cert", "", "PEM client certificate, for brokers that ask for one (mutual TLS; with --"+prefix+"tls-key)")
	k.tlsKey = fs.String(prefix+"tls-key", "", "PEM key of --"+prefix+"tls-cert")
	k.tlsName = fs.String(prefix+"tls-server-name", "", "the name the brokers' certificates must carry, if not their host name")
	k.saslMechanism = fs.String(prefix+"sasl-mechanism", "", "SASL authentication: plain, scram-sha-256 or scram-sha-512 (with --"+prefix+"sasl-user; the password from "+saslPasswordEnv+" or --"+prefix+"sasl-password-file)")
	k.saslUser = fs.String(prefix+"sasl-user", "", "SASL user name")
	k.saslPassFile = fs.String(prefix+"sasl-password-file", "", "file holding the SASL password (else "+saslPasswordEnv+")")
	return k
}

// conn builds the connection to brokers (comma-separated).
func (k *kafkaFlags) conn(brokers string, log *slog.Logger) (kafka.Conn, error) {
	c := kafka.Conn{Log: log}
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.Brokers = append(c.Brokers, b)
		}
	}
	if len(c.Brokers) == 0 {
		return c, fmt.Errorf("no broker given (host:port, comma-separated)")
	}
	if *k.tls || *k.tlsCA != "" || *k.tlsCert != "" {
		cfg, err := kafka.TLSConfig(*k.tlsCA, *k.tlsCert, *k.tlsKey, *k.tlsName)
		if err != nil {
			return c, fmt.Errorf("--%stls: %w", k.prefix, err)
		}
		c.TLS = cfg
	}
	if *k.saslMechanism == "" {
		if *k.saslUser != "" || *k.saslPassFile != "" {
			return c, fmt.Errorf("--%ssasl-user and --%ssasl-password-file need --%ssasl-mechanism (%s)", k.prefix, k.prefix, k.prefix, strings.Join(kafka.SASLMechanisms, ", "))
		}
		return c, nil
	}
	pass := os.Getenv(saslPasswordEnv)
	if *k.saslPassFile != "" {
		b, err := os.ReadFile(*k.saslPassFile)
		if err != nil {
			return c, fmt.Errorf("--%ssasl-password-file: %w", k.prefix, err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	if pass == "" {
		return c, errors.New("--" + k.prefix + "sasl-mechanism: no password: set " + saslPasswordEnv + " or --" + k.prefix + "sasl-password-file")
	}
	m, err := kafka.SASLMechanism(*k.saslMechanism, *k.saslUser, pass)
	if err != nil {
		return c, fmt.Errorf("--%ssasl-mechanism: %w", k.prefix, err)
	}
	c.SASL = m
	return c, nil
}
