// Command kafkadev is a Kafka-compatible broker for trying `intercom-actions
// consume` on one machine, without Kafka, Redpanda or Docker: franz-go's
// in-process broker (kfake), on 127.0.0.1, for development only. It also
// writes NDJSON events to a topic and shows the consumer groups.
//
//	go run ./cmd/kafkadev --topic events:4 --topic events-dead:1
//	go run ./cmd/kafkadev produce --topic events testdata/events/sample.ndjson
//	go run ./cmd/kafkadev groups
package main

import (
	"os"

	"github.com/intercom-actions/intercom-actions/engine/cli"
)

func main() {
	os.Exit(cli.KafkaDev(os.Args[1:]))
}
