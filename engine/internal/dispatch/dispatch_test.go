package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/rules"
)

// fakeIntercom executes actions in memory: it knows contacts by external
// id once identified, and records what it was asked to do, in order.
type fakeIntercom struct {
	mu       sync.Mutex
	contacts map[string]bool
	log      []string
	fail     map[string]error // by rule name
}

func (f *fakeIntercom) Execute(_ context.Context, a action.Action) (action.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[a.Rule]; err != nil {
		return action.Result{Calls: 1}, err
	}
	switch a.Kind.Name {
	case "identify_contact":
		f.contacts[a.Contact().ExternalID] = true
	case "identify_company", "track_event":
		id := a.Contact().ExternalID
		if !f.contacts[id] {
			f.log = append(f.log, "not found "+a.Kind.Name+" "+id)
			return action.Result{Calls: 1}, fmt.Errorf("%w (external_id %q)", action.ErrContactNotFound, id)
		}
	}
	f.log = append(f.log, a.Kind.Name+" "+a.Contact().ExternalID)
	return action.Result{Calls: 2}, nil
}

func newDispatcher(t *testing.T, exec Executor, dl *bytes.Buffer, wait time.Duration) *Dispatcher {
	t.Helper()
	set, err := rules.ParseAll(rules.Defaults()...)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Engine: eng, Executor: exec, Concurrency: 4, ContactWait: wait, Sink: delivery.Sink{DeadLetters: delivery.DeadLetterWriter(dl)}})
	if err != nil {
		t.Fatal(err)
	}
	d.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	return d
}

const (
	identifyU1 = `{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"},"timestamp":"2024-01-01T00:00:00Z"}`
	groupU1    = `{"type":"group","userId":"u1","groupId":"acme","traits":{"name":"Acme"}}`
	trackU1    = `{"type":"track","userId":"u1","event":"Signed Up","timestamp":"2024-01-01T00:00:01Z"}`
)

func TestGroupBeforeIdentifyWaitsForTheContact(t *testing.T) {
	fake := &fakeIntercom{contacts: map[string]bool{}}
	var dl bytes.Buffer
	d := newDispatcher(t, fake, &dl, time.Minute)
	src := delivery.NewLineSource("in", strings.NewReader(groupU1+"\n"+identifyU1+"\n"+trackU1+"\n"))
	sum, err := d.Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"not found identify_company u1", "identify_contact u1", "identify_company u1", "track_event u1"}
	if strings.Join(fake.log, "|") != strings.Join(want, "|") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(fake.log, "\n"), strings.Join(want, "\n"))
	}
	if sum.Events != 3 || sum.Sent != 3 || sum.Failed != 0 || sum.DeadLettered != 0 || sum.Waited != 1 || sum.ActionsSent != 3 {
		t.Errorf("summary %+v", sum)
	}
	if dl.Len() != 0 {
		t.Errorf("dead letters: %s", dl.String())
	}
}

func TestGroupForUnknownUserIsDeadLetteredNotDropped(t *testing.T) {
	fake := &fakeIntercom{contacts: map[string]bool{}}
	var dl bytes.Buffer
	d := newDispatcher(t, fake, &dl, time.Minute)
	sum, err := d.Run(context.Background(), delivery.NewLineSource("in", strings.NewReader(groupU1+"\n")))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"event":` + groupU1 + `,"ref":"in:1","rule":"Identify Company","action":"identify_company","error":"contact not found (external_id \"u1\"); no identify for this contact came before the end of the input","time":"2026-01-02T03:04:05Z"}` + "\n"
	if dl.String() != want {
		t.Errorf("dead letter:\n%s\nwant:\n%s", dl.String(), want)
	}
	if sum.Failed != 1 || sum.DeadLettered != 1 || sum.Events != 1 {
		t.Errorf("summary %+v", sum)
	}
}

func TestWaitExpiresWhileInputContinues(t *testing.T) {
	fake := &fakeIntercom{contacts: map[string]bool{}}
	var dl bytes.Buffer
	d := newDispatcher(t, fake, &dl, 50*time.Millisecond)
	pr, pw := ioPipe()
	done := make(chan Summary)
	go func() {
		sum, _ := d.Run(context.Background(), delivery.NewLineSource("in", pr))
		done <- sum
	}()
	pw.write(groupU1 + "\n")
	// Nothing more arrives for a while: the wait must expire on its own.
	deadline := time.Now().Add(30 * time.Second)
	for d.Summary().DeadLettered == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := d.Summary().DeadLettered; got != 1 {
		t.Fatalf("dead-lettered %d before the input ended, want 1", got)
	}
	pw.close()
	if sum := <-done; sum.Failed != 1 || sum.Events != 1 {
		t.Errorf("summary %+v", sum)
	}
}

func TestBadEventsAndRuleErrorsAreDeadLettered(t *testing.T) {
	fake := &fakeIntercom{contacts: map[string]bool{}, fail: map[string]error{
		"Identify Contact": &intercom.APIError{Status: 400, Code: "parameter_invalid", Message: "Email is invalid", RequestID: "r1"},
	}}
	var dl bytes.Buffer
	d := newDispatcher(t, fake, &dl, time.Minute)
	in := "not json\n{\"type\":\"track\",\"userId\":\"u2\"}\n" + identifyU1 + "\n{\"type\":\"page\",\"userId\":\"u3\"}\n"
	sum, err := d.Run(context.Background(), delivery.NewLineSource("in", strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(dl.String()), "\n") {
		var rec delivery.DeadLetter
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		got = append(got, rec.Ref+" | "+rec.Rule+" | "+rec.Error+" | "+string(rec.Event))
	}
	want := []string{
		`in:1 |  | invalid event: not valid JSON: invalid character 'o' in literal null (expecting 'u') (at byte 2) | "not json"`,
		`in:2 | Track Event | field event_name: required, but event is missing or empty | {"type":"track","userId":"u2"}`,
		`in:3 | Identify Contact | intercom: 400 parameter_invalid: Email is invalid (request r1) | ` + identifyU1,
	}
	// Workers run in parallel: compare as sets.
	if strings.Join(sortStrings(got), "\n") != strings.Join(sortStrings(want), "\n") {
		t.Errorf("dead letters:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if sum.Events != 4 || sum.Failed != 3 || sum.Skipped != 1 || sum.DeadLettered != 3 {
		t.Errorf("summary %+v", sum)
	}
}

func TestDeadLetterFileReRunsOnlyTheFailedRule(t *testing.T) {
	rec := `{"event":{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"}},"ref":"in:7","rule":"Identify Contact","action":"identify_contact","error":"x","time":"2026-01-02T03:04:05Z"}`
	src := delivery.NewLineSource("dead.ndjson", strings.NewReader(rec+"\n"))
	ev, err := src.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(ev.Raw) != `{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"}}` || ev.Only != "Identify Contact" || ev.Ref != "in:7 (via dead.ndjson:1)" {
		t.Errorf("event %+v", ev)
	}
}

func TestProcessOneEventAtATime(t *testing.T) {
	fake := &fakeIntercom{contacts: map[string]bool{}}
	var dl bytes.Buffer
	d := newDispatcher(t, fake, &dl, time.Minute)
	ctx := context.Background()

	res := d.Process(ctx, Event{Raw: []byte(identifyU1), Ref: "kafka:0/17"})
	if res.Status != delivery.Sent || res.Actions != 1 || res.Sent != 1 || res.Calls != 2 || len(res.Errors) != 0 {
		t.Errorf("identify: %+v", res)
	}
	if res := d.Process(ctx, Event{Raw: []byte(`{"type":"page","userId":"u1"}`)}); res.Status != delivery.Skipped {
		t.Errorf("page: %+v", res)
	}
	// Process does not wait for an identify that may never come.
	res = d.Process(ctx, Event{Raw: []byte(`{"type":"group","userId":"u2","groupId":"g"}`), Ref: "kafka:0/19"})
	if res.Status != delivery.Failed || len(res.Errors) != 1 || res.Errors[0] != `rule "Identify Company": contact not found (external_id "u2")` {
		t.Errorf("group for an unknown user: %+v", res)
	}
	if !strings.Contains(dl.String(), `"ref":"kafka:0/19","rule":"Identify Company"`) {
		t.Errorf("dead letters: %s", dl.String())
	}
	if sum := d.Summary(); sum.Events != 3 || sum.Sent != 1 || sum.Skipped != 1 || sum.Failed != 1 {
		t.Errorf("summary %+v", sum)
	}
}

// orderLog records, per user, the order in which actions were executed.
type orderLog struct {
	mu     sync.Mutex
	byUser map[string][]string
}

func (o *orderLog) Execute(_ context.Context, a action.Action) (action.Result, error) {
	if a.Kind.Name == "identify_contact" {
		time.Sleep(300 * time.Microsecond) // slower than the rest, so a misrouted later event would overtake it
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var what string
	switch f := a.Fields.(type) {
	case *action.IdentifyContact:
		what = f.Name
	case *action.IdentifyCompany:
		what = f.Name
	case *action.TrackEvent:
		what = f.EventName
	}
	user := a.Contact().ExternalID
	o.byUser[user] = append(o.byUser[user], a.Kind.Name+":"+what)
	return action.Result{Calls: 1}, nil
}

// TestPerContactOrder sends 1,000 events of 200 users through 4 workers,
// each user's five events back to back: each user's actions must reach
// Intercom in input order.
func TestPerContactOrder(t *testing.T) {
	log := &orderLog{byUser: map[string][]string{}}
	d := newDispatcher(t, log, &bytes.Buffer{}, time.Minute)
	lines := strings.Split(strings.TrimSpace(workload(1000)), "\n") // step by step: 200 identifies, 200 groups, ...
	var byUser strings.Builder
	for u := 0; u < 200; u++ {
		for step := 0; step < 5; step++ {
			byUser.WriteString(lines[step*200+u] + "\n")
		}
	}
	sum, err := d.Run(context.Background(), delivery.NewLineSource("in", strings.NewReader(byUser.String())))
	if err != nil || sum.Sent != 1000 {
		t.Fatalf("%+v, %v", sum, err)
	}
	if len(log.byUser) != 200 {
		t.Fatalf("%d users, want 200", len(log.byUser))
	}
	for user, got := range log.byUser {
		n := strings.TrimPrefix(user, "u")
		want := []string{
			"identify_contact:User " + n,
			"identify_company:Company " + fmt.Sprint(mustAtoi(t, n)%50),
			"track_event:Signed Up",
			"track_event:Order Completed",
			"identify_contact:User " + n + " (renamed)",
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("user %s got actions in the order\n%s\nwant\n%s", user, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// emailIntercom knows contacts by external id and by email once identified.
type emailIntercom struct {
	mu    sync.Mutex
	known map[string]bool
	sent  []string
}

func (f *emailIntercom) Execute(_ context.Context, a action.Action) (action.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := a.Contact()
	if a.Kind.Name == "identify_contact" {
		f.known["user:"+c.ExternalID], f.known["email:"+c.Email] = true, true
	} else if !f.known["user:"+c.ExternalID] && !f.known["email:"+c.Email] {
		return action.Result{Calls: 1}, fmt.Errorf("%w (email %q)", action.ErrContactNotFound, c.Email)
	}
	f.sent = append(f.sent, a.Kind.Name+" "+c.Email)
	return action.Result{Calls: 1}, nil
}

func (f *emailIntercom) has(s string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.sent {
		if x == s {
			return true
		}
	}
	return false
}

// TestIdentifyWakesWaitersInOtherWorkers: an anonymous track keyed by its
// email waits in one worker; the identify keyed by userId may run in
// another, and must still release it at once, not at the end of the input.
func TestIdentifyWakesWaitersInOtherWorkers(t *testing.T) {
	fake := &emailIntercom{known: map[string]bool{}}
	d := newDispatcher(t, fake, &bytes.Buffer{}, time.Minute)
	pr, pw := ioPipe()
	done := make(chan Summary)
	go func() {
		sum, _ := d.Run(context.Background(), delivery.NewLineSource("in", pr))
		done <- sum
	}()
	// Eight pairs, so that some pair lands in two different workers.
	for i := 0; i < 8; i++ {
		pw.write(fmt.Sprintf(`{"type":"track","anonymousId":"a%d","event":"Viewed","properties":{"email":"p%d@example.com"},"timestamp":1700000000}`+"\n", i, i))
	}
	deadline := time.Now().Add(30 * time.Second)
	for d.Summary().Waited < 8 && time.Now().Before(deadline) { // all eight tracks are waiting
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 8; i++ {
		pw.write(fmt.Sprintf(`{"type":"identify","userId":"u%d","traits":{"email":"p%d@example.com"}}`+"\n", i, i))
	}
	for i := 0; i < 8; i++ {
		want := fmt.Sprintf("track_event p%d@example.com", i)
		for !fake.has(want) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if !fake.has(want) {
			t.Fatalf("%q was not sent while the input stayed open", want)
		}
	}
	pw.close()
	if sum := <-done; sum.Sent != 16 || sum.Waited != 8 || sum.DeadLettered != 0 {
		t.Errorf("summary %+v", sum)
	}
}

// customRules map the contact from places the default routing never
// looked at: the external_id from context.traits.user_id and the email
// from properties.account.owner (traits.account.owner on identify).
const customRules = `
rules:
  - name: Identify
    action: identify_contact
    trigger: type == "identify"
    default_fields: false
    fields:
      role: {value: user}
      external_id: context.traits.user_id
      email: traits.account.owner
      name: traits.name
  - name: Track
    action: track_event
    trigger: type == "track"
    default_fields: false
    fields:
      event_name: event
      created_at: timestamp
      user_id: context.traits.user_id
      email: properties.account.owner
`

// TestPerContactOrderWithCustomRules: 200 contacts whose ids and emails
// come only from custom paths, each event with its own anonymousId (a
// new device or session), interleaved eight contacts at a time, through 4
// workers with a slow identify. Every contact's actions must reach Intercom
// in input order: routing follows the planned contact, not the raw event.
func TestPerContactOrderWithCustomRules(t *testing.T) {
	set, err := rules.Parse("custom.yaml", []byte(customRules))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	log := &orderLog{byUser: map[string][]string{}}
	d, err := New(Config{Engine: eng, Executor: log, Concurrency: 4, ContactWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	steps := []string{
		`{"type":"identify","anonymousId":"a-%[1]d-0","context":{"traits":{"user_id":"c%[1]d"}},"traits":{"name":"Contact %[1]d","account":{"owner":"c%[1]d@example.com"}}}`,
		`{"type":"track","anonymousId":"a-%[1]d-1","event":"Signed Up","timestamp":1700000000,"context":{"traits":{"user_id":"c%[1]d"}},"properties":{"account":{"owner":"c%[1]d@example.com"}}}`,
		`{"type":"identify","anonymousId":"a-%[1]d-2","context":{"traits":{"user_id":"c%[1]d"}},"traits":{"name":"Contact %[1]d (renamed)","account":{"owner":"c%[1]d@example.com"}}}`,
		`{"type":"track","anonymousId":"a-%[1]d-3","event":"Order Completed","timestamp":1700000001,"context":{"traits":{"user_id":"c%[1]d"}},"properties":{"account":{"owner":"c%[1]d@example.com"}}}`,
		`{"type":"identify","anonymousId":"a-%[1]d-4","context":{"traits":{"user_id":"c%[1]d"}},"traits":{"name":"Contact %[1]d (final)","account":{"owner":"c%[1]d@example.com"}}}`,
	}
	var in strings.Builder
	for batch := 0; batch < 200; batch += 8 {
		for _, step := range steps {
			for c := batch; c < batch+8; c++ {
				fmt.Fprintf(&in, step+"\n", c)
			}
		}
	}
	sum, err := d.Run(context.Background(), delivery.NewLineSource("in", strings.NewReader(in.String())))
	if err != nil || sum.Sent != 1000 {
		t.Fatalf("%+v, %v", sum, err)
	}
	if len(log.byUser) != 200 {
		t.Fatalf("%d contacts, want 200", len(log.byUser))
	}
	for user, got := range log.byUser {
		n := strings.TrimPrefix(user, "c")
		want := []string{
			"identify_contact:Contact " + n,
			"track_event:Signed Up",
			"identify_contact:Contact " + n + " (renamed)",
			"track_event:Order Completed",
			"identify_contact:Contact " + n + " (final)",
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("contact %s got actions in the order\n%s\nwant\n%s", user, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestOverlongLineIsDeadLetteredAndTheRunGoesOn: a 5 MB line does not stop
// the run; it is dead-lettered with its length, and the events around it
// are sent.
func TestOverlongLineIsDeadLetteredAndTheRunGoesOn(t *testing.T) {
	fake := &fakeIntercom{contacts: map[string]bool{}}
	var dl bytes.Buffer
	d := newDispatcher(t, fake, &dl, time.Minute)
	head, tail := `{"type":"track","userId":"u1","event":"Huge","properties":{"blob":"`, `"}}`
	long := head + strings.Repeat("x", 5<<20-len(head)-len(tail)) + tail
	sum, err := d.Run(context.Background(), delivery.NewLineSource("in", strings.NewReader(identifyU1+"\n"+long+"\n\n"+trackU1+"\n")))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"identify_contact u1", "track_event u1"}
	if strings.Join(fake.log, "|") != strings.Join(want, "|") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(fake.log, "\n"), strings.Join(want, "\n"))
	}
	var rec delivery.DeadLetter
	if err := json.Unmarshal(dl.Bytes(), &rec); err != nil {
		t.Fatalf("dead letters %.300q: %v", dl.String(), err)
	}
	var prefix string
	if err := json.Unmarshal(rec.Event, &prefix); err != nil || prefix != long[:1024] {
		t.Errorf("dead-lettered event %.80s... (%d bytes), want the line's first KiB as a string", rec.Event, len(rec.Event))
	}
	if rec.Ref != "in:2" || rec.Rule != "" || rec.Error != "line is 5242880 bytes, longer than the 4194304-byte limit" {
		t.Errorf("dead letter: ref %q, rule %q, error %q", rec.Ref, rec.Rule, rec.Error)
	}
	if sum.Read != 3 || sum.Events != 3 || sum.Sent != 2 || sum.Failed != 1 || sum.DeadLettered != 1 || sum.ActionsSent != 2 {
		t.Errorf("summary %+v", sum)
	}
}

// TestEventWithErrIsDeadLetteredNotEvaluated: an event its source could not
// read whole is not evaluated, even if what was read is a good event.
func TestEventWithErrIsDeadLetteredNotEvaluated(t *testing.T) {
	fake := &fakeIntercom{contacts: map[string]bool{}}
	var dl bytes.Buffer
	d := newDispatcher(t, fake, &dl, time.Minute)
	res := d.Process(context.Background(), Event{Raw: []byte(identifyU1), Ref: "in:9", Err: errors.New("cut short")})
	if res.Status != delivery.Failed || res.Actions != 0 || len(res.Errors) != 1 || res.Errors[0] != "cut short" || len(fake.log) != 0 {
		t.Errorf("result %+v, calls %q", res, fake.log)
	}
	want := `{"event":` + identifyU1 + `,"ref":"in:9","error":"cut short","time":"2026-01-02T03:04:05Z"}` + "\n"
	if dl.String() != want {
		t.Errorf("dead letter:\n%s\nwant:\n%s", dl.String(), want)
	}
}
