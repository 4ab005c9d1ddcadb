// cmd/kafkadev: a Kafka-compatible broker for trying `intercom-actions
// consume` on one machine, without Kafka, Redpanda or Docker: franz-go's
// in-process broker (kfake), on 127.0.0.1. It keeps everything in memory
// and is for development and tests only. It also writes NDJSON events to a
// topic, keyed by userId (else anonymousId) as `serve --forward-kafka`
// writes them.
//
//	go run ./cmd/kafkadev --topic events:4 --topic events-dead:1
//	go run ./cmd/kafkadev produce --topic events testdata/events/sample.ndjson
//	go run ./cmd/kafkadev groups

package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/intercom-actions/intercom-actions/engine/internal/kafka"
)

// KafkaDev runs cmd/kafkadev with args (without the program name) and returns
// the exit code.
func KafkaDev(args []string) int {
	var err error
	switch {
	case len(args) > 0 && args[0] == "produce":
		err = produce(args[1:])
	case len(args) > 0 && args[0] == "groups":
		err = groups(args[1:])
	default:
		err = broker(args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafkadev:", err)
		return 1
	}
	return 0
}

type topicsFlag []string

func (t *topicsFlag) String() string     { return strings.Join(*t, ",") }
func (t *topicsFlag) Set(s string) error { *t = append(*t, s); return nil }

// broker runs the broker until SIGINT or SIGTERM.
func broker(args []string) error {
	fs := flag.NewFlagSet("kafkadev", flag.ExitOnError)
	port := fs.Int("port", 9092, "port to listen on, on 127.0.0.1")
	var topics topicsFlag
	fs.Var(&topics, "topic", "topic to create, NAME:PARTITIONS (repeatable; default events:4 and events-dead:1)")
	fs.Parse(args)
	if len(topics) == 0 {
		topics = topicsFlag{"events:4", "events-dead:1"}
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(*port)}
	for _, t := range topics {
		name, n, _ := strings.Cut(t, ":")
		parts, err := strconv.Atoi(n)
		if err != nil || parts < 1 || name == "" {
			return fmt.Errorf("--topic %q: want NAME:PARTITIONS, e.g. events:4", t)
		}
		opts = append(opts, kfake.SeedTopics(int32(parts), name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Printf("kafkadev: a Kafka-compatible broker (in memory, for development) on %s; topics %s; Ctrl-C stops it\n",
		strings.Join(c.ListenAddrs(), ","), strings.Join(topics, ", "))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	<-sigs
	return nil
}

// produce writes NDJSON events to a topic, keyed as serve --forward-kafka
// keys them.
func produce(args []string) error {
	fs := flag.NewFlagSet("kafkadev produce", flag.ExitOnError)
	brokers := fs.String("brokers", "127.0.0.1:9092", "brokers, comma-separated")
	topic := fs.String("topic", "events", "topic to write to")
	fs.Parse(args)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...), kgo.DefaultProduceTopic(*topic),
		kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	n := 0
	start := time.Now()
	for _, name := range files {
		var r io.Reader = os.Stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var recs []*kgo.Record
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			recs = append(recs, &kgo.Record{Key: kafka.Key([]byte(line)), Value: []byte(line)})
			if len(recs) == 1000 {
				if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
					return err
				}
				n += len(recs)
				recs = recs[:0]
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			return err
		}
		n += len(recs)
	}
	fmt.Printf("kafkadev: wrote %d events to %s in %s\n", n, *topic, time.Since(start).Round(time.Millisecond))
	return nil
}

// groups prints each consumer group's members, the partitions each owns,
// and the group's lag.
func groups(args []string) error {
	fs := flag.NewFlagSet("kafkadev groups", flag.ExitOnError)
	brokers := fs.String("brokers", "127.0.0.1:9092", "brokers, comma-separated")
	fs.Parse(args)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lags, err := adm.Lag(ctx)
	if err != nil {
		return err
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for g := range lags {
			if !yield(g) {
				return
			}
		}
	})
	for _, g := range names {
		l := lags[g]
		fmt.Printf("group %s (%s): lag %d\n", g, l.State, l.Lag.Total())
		for _, m := range l.Members {
			var owned []string
			if a, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range a.Topics {
					for _, p := range t.Partitions {
						owned = append(owned, fmt.Sprintf("%s/%d", t.Topic, p))
					}
				}
			}
			slices.Sort(owned)
			fmt.Printf("  %s %s: %s\n", m.ClientHost, m.MemberID, strings.Join(owned, " "))
		}
	}
	return nil
}
