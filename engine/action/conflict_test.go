package action

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// simClock is a clock the simulator reads and a test advances.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// sleep is an Executor's sleep that advances the clock instead of waiting.
func (c *simClock) sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return nil
}

// TestConflictNamingNoIDWaitsForSearch: another process created the user
// moments ago; search lags (3 s) and the 409 names no id. Instead of
// failing at once, the identify waits for the index (1 s, then 2 s) and
// updates the user once search shows it.
func TestConflictNamingNoIDWaitsForSearch(t *testing.T) {
	clk := &simClock{t: time.Unix(1_700_000_000, 0)}
	s := newSim(t, simulator.Options{SearchLag: 3 * time.Second, ConflictsNameNoID: true, Clock: clk.now})
	exec(t, newClient(t, s), identifyUser("u-1", ""))
	s.ResetRequests()

	ex := Executor{API: newClient(t, s), sleep: clk.sleep}
	res, err := ex.Execute(context.Background(), identifyUser("u-1", ""))
	if err != nil || res.ContactID != contactID(1) || res.Calls != 4 {
		t.Fatalf("result %+v, %v", res, err)
	}
	search := `POST /contacts/search {"query":{"field":"external_id","operator":"=","value":"u-1"},"pagination":{"per_page":2}} [200]`
	body := `{"role":"user","external_id":"u-1","name":"Ann","last_seen_at":1700000000}`
	wantTranscript(t, s,
		`POST /contacts `+body+` [409]`,
		search, // after 1 s: not yet
		search, // after 3 s: there
		`PUT /contacts/`+contactID(1)+` `+body+` [200]`,
	)
	if n := len(s.State().Contacts); n != 1 {
		t.Errorf("%d contacts, want 1", n)
	}

	// When search never shows it, the 409 is the error, after 1+2+4+8 s.
	s2 := newSim(t, simulator.Options{SearchLag: time.Hour, ConflictsNameNoID: true, Clock: clk.now})
	exec(t, newClient(t, s2), identifyUser("u-1", ""))
	_, err = Executor{API: newClient(t, s2), sleep: clk.sleep}.Execute(context.Background(), identifyUser("u-1", ""))
	if err == nil || !strings.HasPrefix(err.Error(), "identify_contact: create contact: intercom: 409 conflict: A contact matching those details already exists (request ") ||
		!strings.HasSuffix(err.Error(), ") (and search did not show the contact within 15s)") {
		t.Errorf("err = %v", err)
	}
}
