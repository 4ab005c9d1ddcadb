package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// TestSameSecondEvents: /metrics counts the track events that shared a
// second with another of their name and contact, kept as they are
// (Intercom stores one) or spread.
func TestSameSecondEvents(t *testing.T) {
	m := New(Sources{Dispatch: func() delivery.Summary { return delivery.Summary{SameSecond: 5, Spread: 2} }})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`intercom_actions_same_second_events_total{handling="kept"} 3`,
		`intercom_actions_same_second_events_total{handling="spread"} 2`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
