// Command benthos-intercom is Benthos with the intercom_actions processor:
// a stream processor that reads events from any Benthos input, sends them
// to Intercom as intercom-actions' YAML rules say, and routes the failed
// ones as its config says.
//
//	benthos-intercom run config.yaml
//	benthos-intercom lint config.yaml
//	benthos-intercom list processors
//
// It has Benthos' own inputs, outputs and processors (files, stdin,
// HTTP, sockets, generate, mapping, switch, retry, ...); see the README's
// "Benthos / Redpanda Connect" section.
package main

import (
	"context"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/intercom-actions/intercom-actions/cmd/benthos-intercom/intercomactions"
)

func main() {
	service.RunCLI(context.Background(),
		service.CLIOptSetBinaryName("benthos-intercom"),
		service.CLIOptSetProductName("benthos-intercom"))
}
