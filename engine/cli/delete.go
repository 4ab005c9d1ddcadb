package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

func init() {
	register(&command{name: "delete", summary: "delete a user's contact from Intercom (a user-deletion request)", run: runDelete})
}

const deleteUsage = `
Usage: intercom-actions delete --user-id ID [--region us|eu|au] [--api-base URL]

Handles a user-deletion request as Segment's destination does: finds the
contact whose external_id is ID and deletes it (DELETE /contacts/{id}). A
user Intercom does not have is already absent: the request is done (as
Segment since 2025 and RudderStack treat it).

Exit status: 0 when the contact was deleted or was already absent, 1 when
several contacts have that external_id or a call failed, 2 on bad usage.

Example:
  intercom-actions delete --user-id u-1001
`

func runDelete(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("delete", deleteUsage, stderr, stdout)
	userID := fs.String("user-id", "", "the user's id (the contact's external_id)")
	var cfg processor.Config
	addOptions(fs, &cfg, connOptions...)
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if *userID == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "delete: give exactly one --user-id (see delete --help)")
		return 2
	}
	p, code, ok := newProcessor("delete", cfg, stderr)
	if !ok {
		return code
	}
	defer p.Close()
	deleted, err := action.DeleteUser(context.Background(), p.API(), *userID)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "delete: %v\n", err) // several contacts match, or an API error
		return 1
	case !deleted:
		fmt.Fprintf(stdout, "no contact has external_id %q: already absent\n", *userID)
		return 0
	}
	fmt.Fprintf(stdout, "deleted the contact with external_id %q\n", *userID)
	return 0
}
