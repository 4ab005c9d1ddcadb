package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// sameSecondEvents are a user's identify and two orders in one second.
const sameSecondEvents = `{"type":"identify","userId":"u-1","timestamp":"2024-03-01T11:00:00Z","messageId":"m-0"}
{"type":"track","userId":"u-1","event":"Order Completed","properties":{"order_id":"o-1"},"timestamp":"2024-03-01T12:00:00.2Z","messageId":"m-1"}
{"type":"track","userId":"u-1","event":"Order Completed","properties":{"order_id":"o-2"},"timestamp":"2024-03-01T12:00:00.7Z","messageId":"m-2"}
`

// TestSameSecondEventsReported: plan warns of the second order (Intercom
// stores one of two events of one name for one contact in one second) and
// counts it; send says so in its summary, and with
// --spread-same-second-events sends it at the next second.
func TestSameSecondEventsReported(t *testing.T) {
	code, _, errOut := runCLI(t, sameSecondEvents, "plan")
	wantWarning := `stdin:3: warning: rule "Track Event": event "Order Completed" for user:u-1 at 1709294400: an earlier event of this name for this contact has this second, and Intercom keeps one of them (send --spread-same-second-events keeps both)` + "\n"
	if code != 0 || !strings.HasPrefix(errOut, wantWarning) ||
		!strings.Contains(errOut, "plan: 3 events: 3 actions, 0 skipped (no rule matched), 0 bad events, 0 rule errors, 1 same-second track events (Intercom keeps one of each) in ") {
		t.Errorf("plan: exit %d, stderr:\n%s", code, errOut)
	}

	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	t.Setenv("INTERCOM_ACCESS_TOKEN", "")
	dl := filepath.Join(t.TempDir(), "dead")
	_, _, errOut = runCLI(t, sameSecondEvents, "send", "--api-base", sim.URL(), "--dead-letter", dl)
	if !strings.Contains(errOut, "same second: 1 track events shared a second with another of their name and contact: Intercom keeps one of each (--spread-same-second-events keeps them all)\n") {
		t.Errorf("send: stderr:\n%s", errOut)
	}
	sim.ResetRequests()
	_, _, errOut = runCLI(t, sameSecondEvents, "send", "--api-base", sim.URL(), "--dead-letter", dl, "--spread-same-second-events")
	if !strings.Contains(errOut, "same second: 1 track events shared a second with another of their name and contact; all were moved to the next free second (--spread-same-second-events)\n") {
		t.Errorf("send --spread-same-second-events: stderr:\n%s", errOut)
	}
	var seconds []string
	for _, r := range sim.Requests() {
		if r.Path == "/events" {
			seconds = append(seconds, regexp.MustCompile(`"created_at":\d+`).FindString(string(r.Body)))
		}
	}
	if got := strings.Join(seconds, " "); got != `"created_at":1709294400 "created_at":1709294401` {
		t.Errorf("created_at sent: %s", got)
	}
}
