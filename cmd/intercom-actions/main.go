// Command intercom-actions maps Segment events to Intercom with YAML rules:
// check rule files, plan the actions for events, run golden rule tests, and
// send events to Intercom's REST API (send, serve, consume). Run it without
// arguments for the list of commands; the verbs live in engine/cli.
package main

import (
	"os"

	"github.com/intercom-actions/intercom-actions/engine/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
