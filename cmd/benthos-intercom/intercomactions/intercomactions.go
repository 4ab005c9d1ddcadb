// Package intercomactions is a Benthos / Redpanda Connect processor,
// intercom_actions, that sends each message (a Segment-spec event) to
// Intercom as YAML rules say, through engine/processor. Importing it
// registers the processor in Benthos' global environment; Register adds it
// to another.
//
// Each message is flagged with what happened to it: the metadata
// intercom_status (sent, skipped or failed), and for a failed one an
// error (message.SetError) with every reason, so that Benthos' catch,
// switch, retry and fallback can route it, and the metadata
// intercom_reason (the kinds of failure, without ids: see
// dispatch.Reason) and, for a request cut off, intercom_outcome: unknown.
package intercomactions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/service"
	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/processor"
	"github.com/intercom-actions/intercom-actions/rules"
)

// Name is the processor's name in a Benthos config.
const Name = "intercom_actions"

// Metadata keys set on every message.
const (
	MetaStatus  = "intercom_status"  // sent, skipped or failed
	MetaReason  = "intercom_reason"  // a failed message's kinds of failure, "; "-separated
	MetaOutcome = "intercom_outcome" // "unknown" when a request was cut off: Intercom may have applied it
)

// Config fields.
const (
	fRules            = "rules"
	fRulesYAML        = "rules_yaml"
	fWithDefaults     = "with_defaults"
	fPresets          = "presets"
	fRegion           = "region"
	fAPIBase          = "api_base"
	fToken            = "token"
	fConcurrency      = "concurrency"
	fContactWait      = "contact_wait"
	fCustomAttributes = "custom_attributes"
)

// Spec is the processor's config spec: its fields, docs and lint rules.
func Spec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Integration").
		Summary("Sends each message, a Segment-spec event (identify, track, group, ...), to Intercom's REST API as YAML rules map it, and flags the messages that fail.").
		Description(`
Each message is a Segment-spec event as JSON. The rules ([intercom-actions](https://github.com/intercom-actions/intercom-actions) YAML: a trigger and field mappings per Intercom action) decide which actions it causes; they are sent with retries, Intercom's rate limit and an id cache.

Within a batch, one contact's events are sent in batch order and different contacts' in parallel (at most `+"`concurrency`"+` actions in flight across the processor). A group or track whose contact does not exist yet waits for that contact's identify later in the batch.

Every message goes on, unchanged but for metadata: `+"`intercom_status`"+` is `+"`sent`"+`, `+"`skipped`"+` (no rule matched) or `+"`failed`"+`. A failed message is flagged with an error (`+"`error()`"+`) giving each reason, e.g. `+"`rule \"Identify Company\": identify_company: contact not found (external_id \"u1\")`"+`, with `+"`intercom_reason`"+` naming the kinds of failure without ids (e.g. `+"`rule \"Identify Company\": contact not found`"+`) and, for a request cut off by a shutdown, `+"`intercom_outcome: unknown`"+` (Intercom may have applied it). Route failed messages with `+"`switch`"+` on `+"`errored()`"+`, `+"`catch`"+`, `+"`reject_errored`"+` or a `+"`fallback`"+` output.

Metrics, per message: `+"`intercom_actions_events_total{status}`"+`, `+"`intercom_actions_actions_total{status}`"+` (sent, failed), `+"`intercom_actions_calls_total`"+`, `+"`intercom_actions_failures_total{reason}`"+`, `+"`intercom_actions_retries_total`"+` and `+"`intercom_actions_rate_limited_total`"+` (429 answers).`).
		Fields(
			service.NewStringListField(fRules).
				Description("Rule files and folders (every *.yaml and *.yml in a folder). Without `rules` or `rules_yaml`, the embedded default rules (Segment's presets) are used.").
				Example([]string{"./rules"}).
				Default([]any{}),
			service.NewStringField(fRulesYAML).
				Description("Rules written inline, as in a rule file; used with `rules` if both are given. Errors name it `rules_yaml`.").
				Example("rules:\n  - name: Pro Signups\n    action: track_event\n    trigger: type == \"track\" && properties.plan == \"pro\"\n").
				Default(""),
			service.NewBoolField(fWithDefaults).
				Description("Layer `rules` and `rules_yaml` on the embedded defaults: a rule named like a default rule replaces it, the others are added.").
				Default(false),
			service.NewStringListField(fPresets).
				Description("Embedded opt-in rule presets to add: "+strings.Join(rules.PresetNames(), ", ")+".").
				Default([]any{}).
				Advanced(),
			service.NewStringEnumField(fRegion, "us", "eu", "au").
				Description("The Intercom region of the workspace.").
				Default("us"),
			service.NewStringField(fAPIBase).
				Description("Intercom's API base URL, instead of the region's: `https://`, or `http://` only for a loopback address (such as `intercom-actions simulate`).").
				Example("http://127.0.0.1:8089").
				Default("").
				LintRule(`root = if this != "" && !this.has_prefix("https://") && !this.re_match("^http://(127\\.[0-9.]+|localhost|\\[::1\\])(:[0-9]+)?(/.*)?$") { ["api_base must be an https:// URL (http:// only for a loopback address, such as a simulator): the access token is sent to it"] }`),
			service.NewStringField(fToken).
				Description("An Intercom access token; the token is sent only to the API host.").
				Example("${INTERCOM_ACCESS_TOKEN}").
				Secret(),
			service.NewIntField(fConcurrency).
				Description("The most actions in flight at once, across batches.").
				Default(8).
				LintRule(`root = if this < 1 { ["concurrency must be at least 1"] }`),
			service.NewDurationField(fContactWait).
				Description("How long an action whose contact Intercom does not know yet waits, within its batch, for an identify of that contact later in the batch; at the batch's end it gets one last try, then fails with `contact not found`.").
				Default("30s"),
			service.NewStringAnnotatedEnumField(fCustomAttributes, map[string]string{
				"send":     "Custom attributes go as mapped; Intercom refuses a call that has one the workspace lacks.",
				"create":   "Missing custom attributes are created (typed by their first value); those Intercom will not create are dropped with a warning.",
				"existing": "Missing custom attributes are dropped with a warning; none is created.",
			}).
				Description("What to do with custom attributes the workspace does not have.").
				Default("send"),
		).
		Example("Send events read from stdin", "Lines of Segment events in; failed events written to a dead-letter file that `intercom-actions send` can re-send.", `
input:
  stdin: {}
pipeline:
  processors:
    - intercom_actions:
        rules: [ ./rules ]
        token: ${INTERCOM_ACCESS_TOKEN}
output:
  switch:
    cases:
      - check: errored()
        output:
          file:
            path: dead-letters.ndjson
            codec: lines
          processors:
            - mapping: |
                root.event = content().string().parse_json().catch(content().string())
                root.error = error()
      - output:
          drop: {}
`)
}

func init() {
	if err := Register(service.GlobalEnvironment()); err != nil {
		panic(err)
	}
}

// Register adds the intercom_actions processor to env.
func Register(env *service.Environment) error {
	return env.RegisterBatchProcessor(Name, Spec(), func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchProcessor, error) {
		return newProcessor(conf, mgr)
	})
}

// batchProcessor is the intercom_actions processor.
type batchProcessor struct {
	p   *processor.Processor
	log *service.Logger

	events, actions, calls, failures *service.MetricCounter
	retries, rateLimited             *service.MetricCounter

	statsMu sync.Mutex
	last    processor.Stats // the client's counts already added to the metrics
}

func newProcessor(conf *service.ParsedConfig, mgr *service.Resources) (*batchProcessor, error) {
	var sel processor.Rules
	var err error
	if sel.Files, err = conf.FieldStringList(fRules); err != nil {
		return nil, err
	}
	inline, err := conf.FieldString(fRulesYAML)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(inline) != "" {
		sel.Sources = []rules.Source{{Name: fRulesYAML, Data: []byte(inline)}}
	}
	if sel.WithDefaults, err = conf.FieldBool(fWithDefaults); err != nil {
		return nil, err
	}
	if sel.Presets, err = conf.FieldStringList(fPresets); err != nil {
		return nil, err
	}
	eng, err := sel.Compile()
	if err != nil {
		return nil, fmt.Errorf("rules failed to load:\n%w", err)
	}

	cfg := processor.Config{Rules: eng}
	if cfg.BaseURL, err = conf.FieldString(fAPIBase); err != nil {
		return nil, err
	}
	if cfg.BaseURL == "" {
		region, err := conf.FieldString(fRegion)
		if err != nil {
			return nil, err
		}
		if cfg.BaseURL, err = processor.RegionURL(region); err != nil {
			return nil, err
		}
	}
	tok, err := conf.FieldString(fToken)
	if err != nil {
		return nil, err
	}
	if tok == "" {
		return nil, errors.New("token is empty: give an Intercom access token")
	}
	cfg.TokenSource = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})
	if cfg.Concurrency, err = conf.FieldInt(fConcurrency); err != nil {
		return nil, err
	}
	if cfg.Concurrency < 1 {
		return nil, fmt.Errorf("concurrency %d: must be at least 1", cfg.Concurrency)
	}
	if cfg.ContactWait, err = conf.FieldDuration(fContactWait); err != nil {
		return nil, err
	}
	mode, err := conf.FieldString(fCustomAttributes)
	if err != nil {
		return nil, err
	}
	if cfg.Attributes, err = action.ParseAttributeMode(mode); err != nil {
		return nil, err
	}
	p, err := processor.New(cfg)
	if err != nil {
		return nil, err
	}
	m := mgr.Metrics()
	return &batchProcessor{
		p:           p,
		log:         mgr.Logger(),
		events:      m.NewCounter("intercom_actions_events_total", "status"),
		actions:     m.NewCounter("intercom_actions_actions_total", "status"),
		calls:       m.NewCounter("intercom_actions_calls_total"),
		failures:    m.NewCounter("intercom_actions_failures_total", "reason"),
		retries:     m.NewCounter("intercom_actions_retries_total"),
		rateLimited: m.NewCounter("intercom_actions_rate_limited_total"),
	}, nil
}

// ProcessBatch sends the batch's events and flags each message with what
// happened to it. Only a closed processor fails the whole batch.
func (b *batchProcessor) ProcessBatch(ctx context.Context, batch service.MessageBatch) ([]service.MessageBatch, error) {
	events := make([][]byte, len(batch))
	for i, m := range batch {
		raw, err := m.AsBytes()
		if err != nil {
			raw = nil // an unusable event: the engine says so
		}
		events[i] = raw
	}
	results, err := b.p.ProcessBatch(ctx, events)
	if results == nil {
		return nil, err
	}
	if err != nil {
		b.log.Warnf("intercom_actions: the batch was cut short: %v", err)
	}
	for i, r := range results {
		m := batch[i]
		status := r.Status.String()
		m.MetaSetMut(MetaStatus, status)
		b.events.Incr(1, status)
		if r.Sent > 0 {
			b.actions.Incr(int64(r.Sent), "sent")
		}
		if failed := r.Actions - r.Sent; failed > 0 {
			b.actions.Incr(int64(failed), "failed")
		}
		b.calls.Incr(int64(r.Calls))
		if r.Err == nil {
			continue
		}
		reasons := Reasons(r.Err)
		for _, why := range reasons {
			b.failures.Incr(1, why)
		}
		m.MetaSetMut(MetaReason, strings.Join(reasons, "; "))
		if errors.Is(r.Err, processor.ErrOutcomeUnknown) {
			m.MetaSetMut(MetaOutcome, processor.OutcomeUnknown)
		}
		m.SetError(failure{r.Err})
	}
	b.countClient()
	return []service.MessageBatch{batch}, nil
}

// countClient adds the client's new retries and 429s to the metrics.
func (b *batchProcessor) countClient() {
	b.statsMu.Lock()
	defer b.statsMu.Unlock()
	s := b.p.Stats()
	if n := s.Retries - b.last.Retries; n > 0 {
		b.retries.Incr(n)
	}
	if n := s.RateLimited - b.last.RateLimited; n > 0 {
		b.rateLimited.Incr(n)
	}
	b.last = s
}

// Close stops the processor: a batch in progress finishes the requests in
// flight, and its events not started are failed as not sent.
func (b *batchProcessor) Close(ctx context.Context) error {
	return b.p.Close()
}

// failure is a message's error: the Result's errors on one line.
type failure struct{ err error }

func (f failure) Error() string { return strings.ReplaceAll(f.err.Error(), "\n", "; ") }
func (f failure) Unwrap() error { return f.err }

// Reasons names the kinds of failure in a processor.Result's Err, one per
// failure (see processor.Reasons).
func Reasons(err error) []string { return processor.Reasons(err) }
