// Package metrics exposes serve's Prometheus metrics: what ingestion
// received and rejected, what the dispatcher sent and dead-lettered per
// action and the calls it saved, what the Intercom client spent (requests, retries, 429s, the
// rate-limit budget left) and the spool's depth and oldest event. The
// counters of the dispatcher, the client and the spool are read when
// Prometheus scrapes, so the hot paths carry no metric code.
package metrics

import (
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/internal/pause"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/internal/suppress"
)

// Namespace prefixes every metric name.
const Namespace = "intercom_actions"

// Spool is what the metrics read of the spool.
type Spool interface {
	Depth() int64
	Bytes() int64
	MaxBytes() int64
	OldestAge() time.Duration
	Commits() int64
	DeadBytes() int64
	WriteError() error
}

// Client is what the metrics read of the Intercom client (the delivery
// core has these).
type Client interface {
	Stats() rest.Stats
	RateLimit() (remaining, limit int, known bool)
	Health() pause.Status
}

// Sources are read at each scrape; any may be nil.
type Sources struct {
	Dispatch func() delivery.Summary
	Client   Client
	Spool    Spool
}

// Metrics holds the registry and the metrics updated as things happen.
// Its Received, Rejected, Duplicates and Acked make it an ingest.Observer.
type Metrics struct {
	reg        *prometheus.Registry
	received   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	duplicates prometheus.Counter
	ack        prometheus.Histogram
	delivery   prometheus.Histogram
}

// New registers the metrics, the Go runtime's and the process's.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "events_received_total",
			Help: "Events taken by ingestion (stored in the spool, or duplicates of stored ones), by endpoint.",
		}, []string{"endpoint"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "events_rejected_total",
			Help: "Events (or whole requests, as one) refused by ingestion, by reason.",
		}, []string{"reason"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "events_duplicate_total",
			Help: "Events whose messageId was seen within the de-duplication window: acknowledged, not stored again.",
		}),
		ack: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "ack_duration_seconds",
			Help:    "Time to acknowledge an ingestion request (the events durably in the spool).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		delivery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "delivery_duration_seconds",
			Help:    "Time from an event's acknowledgement to its settling (sent to Intercom, skipped or dead-lettered).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.received, m.rejected, m.duplicates, m.ack, m.delivery, &scraped{src})
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Received counts events taken from a request to endpoint.
func (m *Metrics) Received(endpoint string, n int) {
	m.received.WithLabelValues(endpoint).Add(float64(n))
}

// Rejected counts events refused for reason.
func (m *Metrics) Rejected(reason string, n int) { m.rejected.WithLabelValues(reason).Add(float64(n)) }

// Duplicates counts events whose messageId was seen before.
func (m *Metrics) Duplicates(n int) { m.duplicates.Add(float64(n)) }

// Acked observes an acknowledged request's duration.
func (m *Metrics) Acked(d time.Duration) { m.ack.Observe(d.Seconds()) }

// Delivered observes how long an event waited from its acknowledgement
// to its settling.
func (m *Metrics) Delivered(d time.Duration) { m.delivery.Observe(d.Seconds()) }

// scraped reads the dispatcher, the client and the spool at each scrape.
type scraped struct{ src Sources }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

var (
	descDispatched  = desc("events_dispatched_total", "Events settled by the dispatcher, by result: sent, skipped (no rule matched) or failed (something dead-lettered).", "result")
	descActions     = desc("actions_total", "Intercom actions by action and status: sent, or failed (dead-lettered, outcome unknown included).", "action", "status")
	descDeadLetters = desc("dead_letters_total", "Dead letters written (an event or one of its actions each).")
	descUnknown     = desc("outcome_unknown_total", "Actions cut off mid-request at a forced stop: Intercom may have applied them.")
	descSameSecond  = desc("same_second_events_total", "Track events of one name for one contact in a second another had, which Intercom stores as one, by handling: kept (sent as they are: Intercom keeps one) or spread (moved to the next free second).", "handling")
	descSaved       = desc("calls_saved_total", "Intercom calls not sent because Intercom already held what they would send (--skip-unchanged), by reason: unchanged_contact, unchanged_company, attached.", "reason")
	descRequests    = desc("intercom_requests_total", "HTTP requests sent to Intercom, retries included, by endpoint.", "endpoint")
	descRetries     = desc("intercom_retries_total", "Requests to Intercom that were retries.")
	descRateLimited = desc("intercom_rate_limited_total", "429 answers from Intercom.")
	descRemaining   = desc("intercom_rate_limit_remaining", "Requests left in Intercom's current rate-limit window, as its last answers said (absent when unknown).")
	descLimit       = desc("intercom_rate_limit_limit", "Intercom's rate limit per window, as its last answers said (absent when unknown).")
	descPaused      = desc("delivery_paused", "1 while delivery is paused, by reason: \"token refused\" (Intercom refuses the token: events wait, nothing is dead-lettered for it) or \"intercom unreachable\" (an outage is waited out); else 0.", "reason")
	descUnreachable = desc("intercom_unreachable_since_seconds", "Since when (Unix time) Intercom has been unreachable, while it is (absent otherwise).")
	descDepth       = desc("spool_depth", "Events in the spool not yet settled.")
	descBytes       = desc("spool_bytes", "Bytes of the events in the spool not yet settled.")
	descMaxBytes    = desc("spool_max_bytes", "The spool's bound: past it, ingestion answers 503.")
	descOldest      = desc("spool_oldest_age_seconds", "How long the oldest unsettled event has been in the spool (0 when empty).")
	descCommits     = desc("spool_commits_total", "Spool transactions committed, each with one fsync.")
	descDeadBytes   = desc("spool_dead_letter_bytes", "Bytes of the dead letters kept in the spool: they count toward spool_max_bytes.")
	descWriteFails  = desc("spool_write_failing", "1 while the spool cannot be written (a full or broken disk): nothing is taken or settled, else 0.")
	descWaiting     = desc("waiting_bytes", "Memory held by the actions waiting for their contact's identify (bounded by --waiting-max).")
	allScraped      = []*prometheus.Desc{descDispatched, descActions, descDeadLetters, descUnknown, descSameSecond, descSaved, descRequests, descRetries,
		descRateLimited, descRemaining, descLimit, descPaused, descUnreachable, descDepth, descBytes, descMaxBytes, descOldest, descCommits,
		descDeadBytes, descWriteFails, descWaiting}
)

func (s *scraped) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allScraped {
		ch <- d
	}
}

func (s *scraped) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if s.src.Dispatch != nil {
		sum := s.src.Dispatch()
		counter(descDispatched, float64(sum.Sent), "sent")
		counter(descDispatched, float64(sum.Skipped), "skipped")
		counter(descDispatched, float64(sum.Failed), "failed")
		kinds := make([]string, 0, len(sum.PerAction))
		for k := range sum.PerAction {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			c := sum.PerAction[k]
			counter(descActions, float64(c.Sent), k, "sent")
			counter(descActions, float64(c.Failed), k, "failed")
		}
		counter(descDeadLetters, float64(sum.DeadLettered))
		counter(descUnknown, float64(sum.Unknown))
		counter(descSameSecond, float64(sum.SameSecond-sum.Spread), "kept")
		counter(descSameSecond, float64(sum.Spread), "spread")
		gauge(descWaiting, float64(sum.WaitingBytes))
		for _, r := range suppress.Reasons {
			counter(descSaved, float64(sum.Saved[r]), r)
		}
	}
	if c := s.src.Client; c != nil {
		st := c.Stats()
		for ep, n := range st.Endpoints {
			counter(descRequests, float64(n), ep)
		}
		counter(descRetries, float64(st.Retries))
		counter(descRateLimited, float64(st.RateLimited))
		if remaining, limit, known := c.RateLimit(); known {
			gauge(descRemaining, float64(remaining))
			gauge(descLimit, float64(limit))
		}
		h := c.Health()
		gauge(descPaused, b2f(h.TokenRefused != nil), "token refused")
		gauge(descPaused, b2f(!h.UnreachableSince.IsZero()), "intercom unreachable")
		if !h.UnreachableSince.IsZero() {
			gauge(descUnreachable, float64(h.UnreachableSince.Unix()))
		}
	}
	if sp := s.src.Spool; sp != nil {
		gauge(descDepth, float64(sp.Depth()))
		gauge(descBytes, float64(sp.Bytes()))
		gauge(descMaxBytes, float64(sp.MaxBytes()))
		gauge(descOldest, sp.OldestAge().Seconds())
		counter(descCommits, float64(sp.Commits()))
		gauge(descDeadBytes, float64(sp.DeadBytes()))
		failing := 0.0
		if sp.WriteError() != nil {
			failing = 1
		}
		gauge(descWriteFails, failing)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Connections adds serve's HTTP connections, read at each scrape: open
// now, idle ones closed to make room under --max-connections, and ones
// refused with every place taken.
func (m *Metrics) Connections(read func() (open, evicted, refused int64)) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "http_connections",
			Help: "HTTP connections open now."},
			func() float64 { open, _, _ := read(); return float64(open) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: "http_connections_evicted_total",
			Help: "Idle HTTP connections closed to make room for new ones (--max-connections)."},
			func() float64 { _, evicted, _ := read(); return float64(evicted) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: "http_connections_refused_total",
			Help: "HTTP connections closed at once: every place (--max-connections) busy with a request, and the reserve taken."},
			func() float64 { _, _, refused := read(); return float64(refused) }),
	)
}
