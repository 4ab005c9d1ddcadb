package main

import (
	"context"
	"fmt"
	"io"

	"github.com/intercom-actions/intercom-actions/engine/action"
)

func init() {
	register(&command{name: "delete", summary: "delete a user's contact from Intercom (a user-deletion request)", run: runDelete})
}

const deleteUsage = `
Usage: intercom-actions delete --user-id ID [--region us|eu|au] [--api-base URL]

Handles a user-deletion request as Segment's destination does: finds the
contact whose external_id is ID and deletes it (DELETE /contacts/{id}).

Exit status: 0 when the contact was deleted, 1 when no single contact has
that external_id ("contact not found") or the call failed, 2 on bad usage.

Example:
  intercom-actions delete --user-id u-1001
`

func runDelete(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("delete", deleteUsage, stderr, stdout)
	userID := fs.String("user-id", "", "the user's id (the contact's external_id)")
	conn := addConnFlags(fs)
	conn.addTokenFileFlag(fs)
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if *userID == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "delete: give exactly one --user-id (see delete --help)")
		return 2
	}
	client, err := conn.client()
	if err != nil {
		fmt.Fprintf(stderr, "delete: %v\n", err)
		return 2
	}
	if err := action.DeleteUser(context.Background(), client, *userID); err != nil {
		fmt.Fprintf(stderr, "delete: %v\n", err) // "contact not found (external_id ...)" or an API error
		return 1
	}
	fmt.Fprintf(stdout, "deleted the contact with external_id %q\n", *userID)
	return 0
}
