package cli

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

// TestDeadLetterLogLineHoldsNoTraits: the WARN line of a dead-lettered
// event (serve, consume) names the event and the kinds of failure, never
// the email or another value that the errors (kept in the dead letter)
// carry.
func TestDeadLetterLogLineHoldsNoTraits(t *testing.T) {
	notFound := &engine.RuleError{Rule: "Identify Company", Err: fmt.Errorf("identify_company: %w (external_id %q, email %q)", action.ErrContactNotFound, "u1", "jane@example.com")}
	refused := &engine.RuleError{Rule: "Identify Contact", Err: fmt.Errorf("create contact: %w", &intercom.APIError{Status: 400, Code: "parameter_invalid", Message: "Email jane@example.com is invalid: name Jane Doe"})}
	err := errors.Join(notFound, refused)
	r := processor.EventResult{Ref: "spool:42", Status: processor.Failed, Errors: []string{notFound.Error(), refused.Error()}, Err: err}
	var buf bytes.Buffer
	logDeadLettered(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: noTime})), r)
	want := `level=WARN msg=dead-lettered ref=spool:42 reasons="rule \"Identify Company\": contact not found; rule \"Identify Contact\": intercom 400 parameter_invalid"` + "\n"
	if buf.String() != want {
		t.Errorf("log line:\n%s\nwant:\n%s", buf.String(), want)
	}
	for _, secret := range []string{"jane@example.com", "Jane Doe"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the log line holds %q", secret)
		}
	}
}

func noTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
