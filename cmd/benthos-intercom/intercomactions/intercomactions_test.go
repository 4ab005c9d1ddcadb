package intercomactions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/processor"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// memMetrics is a Benthos metrics exporter that keeps counters in memory,
// by name and label values: `name{v1,v2}`.
type memMetrics struct {
	mu     sync.Mutex
	counts map[string]int64
}

type memCounter struct {
	m   *memMetrics
	key string
}

func (c memCounter) Incr(n int64) {
	c.m.mu.Lock()
	c.m.counts[c.key] += n
	c.m.mu.Unlock()
}

type noTimer struct{}

func (noTimer) Timing(int64) {}

type noGauge struct{}

func (noGauge) Set(int64) {}

// NewCounterCtor keys a counter by its name and the values of its own
// labels, leaving out those Benthos adds (label, path).
func (m *memMetrics) NewCounterCtor(name string, keys ...string) service.MetricsExporterCounterCtor {
	return func(values ...string) service.MetricsExporterCounter {
		var own []string
		for i, k := range keys {
			if k != "label" && k != "path" {
				own = append(own, values[i])
			}
		}
		return memCounter{m, name + "{" + strings.Join(own, ",") + "}"}
	}
}

func (m *memMetrics) NewTimerCtor(string, ...string) service.MetricsExporterTimerCtor {
	return func(...string) service.MetricsExporterTimer { return noTimer{} }
}

func (m *memMetrics) NewGaugeCtor(string, ...string) service.MetricsExporterGaugeCtor {
	return func(...string) service.MetricsExporterGauge { return noGauge{} }
}

func (m *memMetrics) Close(context.Context) error { return nil }

// ours are the counters whose name starts with intercom_actions_.
func (m *memMetrics) ours() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int64{}
	for k, v := range m.counts {
		if strings.HasPrefix(k, "intercom_actions_") {
			out[k] = v
		}
	}
	return out
}

// testEnv is an environment with the processor (registered globally by
// init) and the in-memory metrics exporter "mem".
func testEnv(t testing.TB) (*service.Environment, *memMetrics) {
	env := service.NewEnvironment()
	mm := &memMetrics{counts: map[string]int64{}}
	err := env.RegisterMetricsExporter("mem", service.NewConfigSpec(), func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) {
		return mm, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return env, mm
}

// got is a message as it left the pipeline.
type got struct {
	content, status, reason string
	err                     error
}

// runBatches builds a stream of producer → intercom_actions (with the
// YAML given) → consumer, sends the batches one after another and returns
// every message the output received, in order.
func runBatches(t testing.TB, env *service.Environment, procYAML string, batches ...[]string) []got {
	t.Helper()
	b := env.NewStreamBuilder()
	if err := b.SetLoggerYAML("level: none"); err != nil {
		t.Fatal(err)
	}
	if err := b.SetMetricsYAML("mem: {}"); err != nil {
		t.Fatal(err)
	}
	produce, err := b.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddProcessorYAML(procYAML); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out []got
	err = b.AddBatchConsumerFunc(func(_ context.Context, batch service.MessageBatch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			raw, _ := m.AsBytes()
			g := got{content: string(raw), err: m.GetError()}
			g.status, _ = m.MetaGet(MetaStatus)
			g.reason, _ = m.MetaGet(MetaReason)
			out = append(out, g)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stream.Run(ctx) }()
	for _, batch := range batches {
		msgs := make(service.MessageBatch, len(batch))
		for i, ev := range batch {
			msgs[i] = service.NewMessage([]byte(ev))
		}
		if err := produce(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return out
}

// A stream sends each message's actions, keeps one contact's events in
// order within a batch, lets every message through, flags the failed
// ones with their reasons, and counts per message.
func TestStreamSendsAndFlagsFailures(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Token: "tok"})
	defer sim.Close()
	env, mm := testEnv(t)
	out := runBatches(t, env, fmt.Sprintf(`
intercom_actions:
  api_base: %s
  token: tok
  concurrency: 4
`, sim.URL()), []string{
		`{"type":"group","userId":"u1","groupId":"acme","traits":{"name":"Acme"}}`,
		`{"type":"identify","userId":"u1","traits":{"email":"ada@example.com","name":"Ada"}}`,
		`{"type":"track","userId":"u1","event":"Signed Up","timestamp":"2024-03-01T12:00:00Z"}`,
		`{"type":"group","userId":"nobody","groupId":"acme"}`,
		`not json`,
		`{"type":"page","userId":"u1"}`,
	}, []string{
		`{"type":"track","userId":"u1","event":"Upgraded","timestamp":"2024-03-02T12:00:00Z"}`,
	})

	type row struct{ status, err, reason string }
	var rows []row
	for _, g := range out {
		r := row{status: g.status, reason: g.reason}
		if g.err != nil {
			r.err = g.err.Error()
		}
		rows = append(rows, r)
	}
	want := []row{
		{"sent", "", ""},
		{"sent", "", ""},
		{"sent", "", ""},
		{"failed", `rule "Identify Company": identify_company: contact not found (external_id "nobody"); no identify for this contact came before the end of the input`,
			`rule "Identify Company": contact not found`},
		{"failed", `invalid event: not valid JSON: invalid character 'o' in literal null (expecting 'u') (at byte 2)`, `invalid event: not valid JSON`},
		{"skipped", "", ""},
		{"sent", "", ""},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("messages:\n%q\nwant:\n%q", rows, want)
	}
	if out[4].content != "not json" {
		t.Errorf("a failed message was changed: %q", out[4].content)
	}
	if !errors.Is(out[3].err, action.ErrContactNotFound) {
		t.Errorf("the message's error %v does not wrap action.ErrContactNotFound", out[3].err)
	}

	st := sim.State().Canonical()
	if len(st.Contacts) != 1 || st.Contacts[0].ExternalID != "u1" || !reflect.DeepEqual(st.Contacts[0].CompanyIDs, []string{"acme"}) {
		t.Errorf("contacts: %+v", st.Contacts)
	}
	var names []string
	for _, e := range st.Events {
		names = append(names, e.EventName)
	}
	if !reflect.DeepEqual(names, []string{"Signed Up", "Upgraded"}) {
		t.Errorf("events: %q", names)
	}

	calls := int64(len(sim.Requests()))
	wantMetrics := map[string]int64{
		"intercom_actions_events_total{sent}":                                         4,
		"intercom_actions_events_total{failed}":                                       2,
		"intercom_actions_events_total{skipped}":                                      1,
		"intercom_actions_actions_total{sent}":                                        4,
		"intercom_actions_actions_total{failed}":                                      1,
		"intercom_actions_calls_total{}":                                              calls,
		`intercom_actions_failures_total{rule "Identify Company": contact not found}`: 1,
		`intercom_actions_failures_total{invalid event: not valid JSON}`:              1,
	}
	if got := mm.ours(); !reflect.DeepEqual(got, wantMetrics) {
		t.Errorf("metrics:\n%v\nwant:\n%v", got, wantMetrics)
	}
}

// A refused token holds the messages, as any face's delivery pauses,
// until Intercom takes the token (checked every token_recheck): then they
// are sent, and none fails for it.
func TestStreamUnauthorized(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Token: "right"})
	defer sim.Close()
	env, _ := testEnv(t)
	go func() { // Intercom takes the token once it has refused it
		for {
			for _, r := range sim.Requests() {
				if r.Status == 401 {
					sim.SetToken("wrong")
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	out := runBatches(t, env, fmt.Sprintf(`
intercom_actions:
  api_base: %s
  token: wrong
  concurrency: 1
  token_recheck: 50ms
`, sim.URL()), []string{
		`{"type":"identify","userId":"u1","traits":{"email":"a@example.com"}}`,
		`{"type":"identify","userId":"u2","traits":{"email":"b@example.com"}}`,
	})
	if len(out) != 2 {
		t.Fatalf("%d messages out, want 2", len(out))
	}
	for i, g := range out {
		if g.status != "sent" || g.err != nil {
			t.Errorf("message %d: %+v", i, g)
		}
	}
	if n := len(sim.State().Contacts); n != 2 {
		t.Errorf("%d contacts, want 2", n)
	}
}

// With Benthos' own switch output, failed messages go to a dead-letter
// file (that `intercom-actions send` reads back) and the others on.
func TestFailedMessagesRoutedToDeadLetters(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	dir := t.TempDir()
	events := filepath.Join(dir, "events.ndjson")
	deadLetters := filepath.Join(dir, "dead-letters.ndjson")
	rulesFile := filepath.Join(dir, "rules.yaml")
	write := func(name, data string) {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(events, `{"type":"identify","userId":"u1","traits":{"email":"ada@example.com"}}
{"type":"track","userId":"u1","event":"Signed Up","properties":{"plan":"pro"},"timestamp":"2024-03-01T12:00:00Z"}
{"type":"track","userId":"u2","event":"Signed Up","properties":{"plan":"free"},"timestamp":"2024-03-01T12:00:00Z"}
{"type":"group","userId":"u9","groupId":"acme"}
`)
	write(rulesFile, `rules:
  - name: Track Event
    action: track_event
    trigger: type == "track" && properties.plan == "pro"
`)
	env, _ := testEnv(t)
	b := env.NewStreamBuilder()
	err := b.SetYAML(fmt.Sprintf(`
logger: {level: none}
input:
  file:
    paths: [%q]
    scanner: {lines: {}}
pipeline:
  threads: 1 # one message a batch: u1's identify is sent before its track
  processors:
    - intercom_actions:
        rules: [%q]
        with_defaults: true
        api_base: %s
        token: tok
output:
  switch:
    cases:
      - check: errored()
        output:
          file:
            path: %q
            codec: lines
          processors:
            - mapping: |
                root.event = content().string().parse_json().catch(content().string())
                root.error = error()
                root.reason = @intercom_reason
      - output:
          drop: {}
`, events, rulesFile, sim.URL(), deadLetters))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stream.Run(ctx); err != nil { // until the file's end
		t.Fatal(err)
	}
	data, err := os.ReadFile(deadLetters)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"error":"rule \"Identify Company\": identify_company: contact not found (external_id \"u9\"); no identify for this contact came before the end of the input","event":{"groupId":"acme","type":"group","userId":"u9"},"reason":"rule \"Identify Company\": contact not found"}` + "\n"
	if string(data) != want {
		t.Errorf("dead letters:\n%s\nwant:\n%s", data, want)
	}
	// The dead-letter file is one `intercom-actions send` takes back: a
	// record with "event" and "error" and no "type" is a dead letter, and
	// its event is sent again (engine/internal/dispatch's LineSource).
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(data, &rec); err != nil || string(rec["event"]) != `{"groupId":"acme","type":"group","userId":"u9"}` || rec["error"] == nil || rec["type"] != nil {
		t.Errorf("not a dead letter that send takes back: %s (%v)", data, err)
	}
	st := sim.State()
	if len(st.Contacts) != 1 || len(st.Events) != 1 || st.Events[0].EventName != "Signed Up" {
		t.Errorf("state: %+v", st)
	}
}

// The config is checked before anything runs: Benthos' lint for the
// fields, the processor for the rules.
func TestConfigErrors(t *testing.T) {
	t.Setenv("INTERCOM_ACCESS_TOKEN", "")
	env, _ := testEnv(t)
	lint := func(yaml string) string {
		b := env.NewStreamBuilder()
		if err := b.SetLoggerYAML("level: none"); err != nil {
			t.Fatal(err)
		}
		if err := b.AddProcessorYAML(yaml); err != nil {
			return err.Error()
		}
		if err := b.AddInputYAML("generate: {mapping: 'root = {}', count: 1}"); err != nil {
			t.Fatal(err)
		}
		if err := b.AddOutputYAML("drop: {}"); err != nil {
			t.Fatal(err)
		}
		stream, err := b.Build()
		if err != nil {
			return err.Error()
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := stream.Run(ctx); err != nil { // the processor is made here
			return err.Error()
		}
		return ""
	}
	for _, tc := range []struct{ yaml, want string }{
		{`
intercom_actions:
  api_base: http://intercom.example.com
  token: t
  concurrency: 0
  region: mars
  colour: blue
`, strings.Join([]string{
			"(3,1) api_base must be an https:// URL (http:// only for a loopback address, such as a simulator): the access token is sent to it",
			"(5,1) concurrency must be at least 1",
			"(6,1) value mars is not a valid option for this field",
			"(7,1) field colour not recognised",
		}, "\n")},
		{`
intercom_actions:
  region: eu
  token_file: /nonexistent/token.json
`, "no intercom token: set INTERCOM_ACCESS_TOKEN to an access token, or run `intercom-actions auth login` (no token file at /nonexistent/token.json)"},
		{`
intercom_actions:
  token: t
  rules_yaml: |
    rules:
      - name: Track Event
        action: track_evnt
`, "failed to init processor <no label> path root.pipeline.processors.0: rules failed to load:\n" +
			`rules_yaml:3:13: rule "Track Event": unknown action "track_evnt" (did you mean "track_event"?)`},
	} {
		if got := lint(tc.yaml); !strings.Contains(got, tc.want) {
			t.Errorf("%s\ngot:\n%s\nwant it to contain:\n%s", tc.yaml, got, tc.want)
		}
	}
}

// The processor's docs render, with every field.
func TestSpecDocs(t *testing.T) {
	view, ok := service.GlobalEnvironment().GetProcessorConfig(Name)
	if !ok {
		t.Fatal("intercom_actions is not registered")
	}
	data, err := view.TemplateData()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, f := range data.Fields {
		if f.Description != "" {
			documented[f.FullName] = true
		}
	}
	// Every option of the delivery core is a field, named as the flag is
	// with "_" for "-" (the command line's options test checks the flags).
	fields := []string{fRulesYAML, fToken}
	for _, o := range processor.Options() {
		fields = append(fields, FieldName(o.Name))
	}
	var missing []string
	for _, f := range fields {
		if !documented[f] {
			missing = append(missing, f)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("fields not documented: %v\n%+v", missing, data.Fields)
	}
}

// A request cut off (Benthos cancels a batch when it shuts down) fails its
// message as outcome unknown: Intercom may have applied it.
func TestOutcomeUnknownIsFlagged(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Faults: simulator.Faults{SlowRate: 1, SlowDelay: time.Minute}})
	defer sim.Close()
	conf, err := Spec().ParseYAML(fmt.Sprintf("api_base: %s\ntoken: tok\n", sim.URL()), nil)
	if err != nil {
		t.Fatal(err)
	}
	bp, err := newProcessor(conf, service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	defer bp.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(sim.Requests()) == 0 { // the request has reached Intercom
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	batches, err := bp.ProcessBatch(ctx, service.MessageBatch{
		service.NewMessage([]byte(`{"type":"identify","userId":"u1","traits":{"email":"a@example.com"}}`)),
	})
	if err != nil {
		t.Fatal(err)
	}
	m := batches[0][0]
	status, _ := m.MetaGet(MetaStatus)
	outcome, _ := m.MetaGet(MetaOutcome)
	reason, _ := m.MetaGet(MetaReason)
	if status != "failed" || outcome != "unknown" || reason != `rule "Identify Contact": outcome unknown (cut off by the stop)` ||
		!errors.Is(m.GetError(), processor.ErrOutcomeUnknown) {
		t.Errorf("status %q, outcome %q, reason %q, error %v", status, outcome, reason, m.GetError())
	}
}
