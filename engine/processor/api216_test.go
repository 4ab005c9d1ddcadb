package processor

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// eventsSent are the bodies of the POST /events the simulator received.
func eventsSent(s *simulator.Server) []string {
	var out []string
	for _, r := range s.Requests() {
		if r.Method == "POST" && r.Path == "/events" {
			out = append(out, string(r.Body)+" "+map[bool]string{true: "ok", false: "failed"}[r.Status == 202])
		}
	}
	return out
}

// TestEventNameCapIsOneDeadLetter: an event of a new name past the
// workspace's cap on active event names is dead-lettered at once, with a
// message naming the cap; the simulator received one request for it (no
// retries, no wait for an identify).
func TestEventNameCapIsOneDeadLetter(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{MaxEventNames: 1})
	defer sim.Close()
	p := newProcessor(t, Config{APIBase: sim.URL(), MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	var dead bytes.Buffer
	src := delivery.NewLineSource("in", strings.NewReader(
		`{"type":"identify","userId":"u-1","traits":{"email":"ann@example.com"},"timestamp":"2024-03-01T12:00:00Z"}`+"\n"+
			`{"type":"track","userId":"u-1","event":"Signed In","timestamp":"2024-03-01T12:01:00Z"}`+"\n"+
			`{"type":"track","userId":"u-1","event":"Plan Changed","timestamp":"2024-03-01T12:02:00Z"}`+"\n"))
	sum, err := p.Run(context.Background(), src, Sink{DeadLetters: delivery.DeadLetterWriter(&dead)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.DeadLettered != 1 || sum.Sent != 2 || sum.Waited != 0 {
		t.Errorf("summary %+v", sum)
	}
	want := []string{
		`{"created_at":1709294460,"event_name":"Signed In","user_id":"u-1"} ok`,
		`{"created_at":1709294520,"event_name":"Plan Changed","user_id":"u-1"} failed`,
	}
	if got := eventsSent(sim); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events sent:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	const reason = `"error":"track_event: submit event: the workspace has Intercom's most active event names (120); archive unused event names in Intercom's settings to track new ones: ` +
		`intercom: 422 parameter_invalid: Your workspace has reached its limit of 1 active event names: archive event names to track new ones (request sim-000000000003)"`
	if got := Reasons(errors.Join(&RuleError{Rule: "Track Event", Err: ErrEventNameCap})); len(got) != 1 || got[0] != `rule "Track Event": intercom's cap of 120 active event names reached` {
		t.Errorf("reason %q", got)
	}
	if strings.Count(dead.String(), "\n") != 1 || !strings.Contains(dead.String(), `"ref":"in:3"`) || !strings.Contains(dead.String(), reason) {
		t.Errorf("dead letters:\n%s\nwant one for in:3 with %s", dead.String(), reason)
	}
}

// TestSameSecondEvents: two events of one name for one user in one second
// are counted; with SpreadSameSecondEvents the second goes at the next
// free second, and the same event sent again (a retry, by its messageId)
// goes at that second again, so Intercom's de-duplication still drops the
// repeat.
func TestSameSecondEvents(t *testing.T) {
	events := [][]byte{
		[]byte(`{"type":"identify","userId":"u-1","timestamp":"2024-03-01T11:00:00Z","messageId":"m-0"}`),
		[]byte(`{"type":"track","userId":"u-1","event":"Order Completed","properties":{"order_id":"o-1"},"timestamp":"2024-03-01T12:00:00.2Z","messageId":"m-1"}`),
		[]byte(`{"type":"track","userId":"u-1","event":"order completed","properties":{"order_id":"o-2"},"timestamp":"2024-03-01T12:00:00.7Z","messageId":"m-2"}`),
	}
	for _, spread := range []bool{false, true} {
		sim := simulator.NewServer(simulator.Options{})
		p := newProcessor(t, Config{APIBase: sim.URL(), SpreadSameSecondEvents: spread})
		run := p.Start(context.Background(), &batchSource{events: events}, Sink{})
		sum, err := run.Wait()
		if err != nil {
			t.Fatal(err)
		}
		// A retry of the second event, as a redelivery sends it.
		if _, err := p.Process(context.Background(), events[2]); err != nil {
			t.Fatal(err)
		}
		second := "1709294400"
		if spread {
			second = "1709294401"
		}
		want := []string{
			`{"created_at":1709294400,"event_name":"Order Completed","metadata":{"order_id":"o-1"},"user_id":"u-1"} ok`,
			`{"created_at":` + second + `,"event_name":"order completed","metadata":{"order_id":"o-2"},"user_id":"u-1"} ok`,
			`{"created_at":` + second + `,"event_name":"order completed","metadata":{"order_id":"o-2"},"user_id":"u-1"} ok`,
		}
		if got := eventsSent(sim); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("spread %v: events sent:\n%s\nwant\n%s", spread, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		wantSum := [2]int{1, 0}
		if spread {
			wantSum = [2]int{1, 1}
		}
		if got := [2]int{sum.SameSecond, sum.Spread}; got != wantSum {
			t.Errorf("spread %v: SameSecond, Spread = %v, want %v", spread, got, wantSum)
		}
		sim.Close()
	}
}

// TestSearchWaitFindsALeadMadeElsewhere: a track for a lead that another
// tool created moments ago: search does not show the lead yet (it lags
// writes, here by 200 ms), and no identify of it comes in this run. The
// track waits search-wait, also at the end of the input, and then finds
// the lead; with a search-wait no longer than contact-wait it is
// dead-lettered.
func TestSearchWaitFindsALeadMadeElsewhere(t *testing.T) {
	track := []byte(`{"type":"track","anonymousId":"a-1","event":"Viewed","properties":{"email":"lee@example.com"},"timestamp":"2024-03-01T12:00:00Z"}`)
	for _, wait := range []time.Duration{time.Second, time.Nanosecond} {
		sim := simulator.NewServer(simulator.Options{SearchLag: 200 * time.Millisecond})
		p := newProcessor(t, Config{APIBase: sim.URL(), ContactWait: 10 * time.Millisecond, SearchWait: wait})
		other := newProcessor(t, Config{APIBase: sim.URL()})
		if _, err := other.Process(context.Background(), []byte(`{"type":"identify","anonymousId":"a-1","traits":{"email":"lee@example.com"}}`)); err != nil {
			t.Fatal(err)
		}
		res, err := p.Process(context.Background(), track)
		if err != nil {
			t.Fatal(err)
		}
		found := res.Status == Sent
		if found != (wait == time.Second) {
			t.Errorf("search-wait %s: %+v", wait, res)
		}
		if !found && !errors.Is(res.Err, action.ErrContactNotFound) {
			t.Errorf("search-wait %s: err %v, want ErrContactNotFound", wait, res.Err)
		}
		sim.Close()
	}
}
