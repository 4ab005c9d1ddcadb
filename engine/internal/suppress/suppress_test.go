package suppress

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/rest"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// clock is a settable clock for the TTL.
type clock struct{ t time.Time }

func (c *clock) now() time.Time              { return c.t }
func (c *clock) add(d time.Duration)         { c.t = c.t.Add(d) }
func newClock() *clock                       { return &clock{t: time.Unix(1_700_000_000, 0)} }
func ptr[T any](v T) *T                      { return &v }
func (c *clock) unix(d time.Duration) *int64 { return ptr(c.t.Add(d).Unix()) }

// fixture is a simulator and the REST client to it, behind a Memory.
type fixture struct {
	t   *testing.T
	sim *simulator.Server
	m   *Memory
	api intercom.API
}

func newFixture(t *testing.T, cfg Config, retries int) *fixture {
	t.Helper()
	sim := simulator.NewServer(simulator.Options{})
	t.Cleanup(sim.Close)
	m := New(cfg)
	return &fixture{t: t, sim: sim, m: m, api: Wrap(restClient(t, sim, retries), m)}
}

// restClient is a new REST client of sim (retries as rest.Config's
// MaxRetries: 0 the default, negative none), with an empty id cache, as
// after a restart.
func restClient(t *testing.T, sim *simulator.Server, retries int) intercom.API {
	t.Helper()
	c, err := rest.New(rest.Config{BaseURL: sim.URL(), MaxRetries: retries,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}),
		MinBackoff:  time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sent returns the requests since the last call, "METHOD path" each, and
// forgets them.
func (f *fixture) sent() string {
	var out []string
	for _, r := range f.sim.Requests() {
		out = append(out, r.Method+" "+r.Path)
	}
	f.sim.ResetRequests()
	return strings.Join(out, "\n")
}

// update runs an update and returns what it saved.
func (f *fixture) update(id string, body intercom.ContactBody) map[string]int {
	f.t.Helper()
	var tally intercom.Tally
	if _, err := f.api.UpdateContact(intercom.WithTally(context.Background(), &tally), id, body); err != nil {
		f.t.Fatal(err)
	}
	return tally.Saved()
}

func (f *fixture) create(body intercom.ContactBody) string {
	f.t.Helper()
	ct, err := f.api.CreateContact(context.Background(), body)
	if err != nil {
		f.t.Fatal(err)
	}
	f.sim.ResetRequests()
	return ct.ID
}

func user(name string, lastSeen *int64) intercom.ContactBody {
	return intercom.ContactBody{Role: "user", ExternalID: "u1", Email: "ann@example.com", Name: name, LastSeenAt: lastSeen}
}

// An update identical to the body created with is not sent, and counted;
// a changed name is sent.
func TestIdenticalUpdateIsNotSentAndAChangeIs(t *testing.T) {
	clk := newClock()
	f := newFixture(t, Config{TTL: DefaultTTL, LastSeenResolution: time.Hour, Now: clk.now}, 0)
	id := f.create(user("Ann", clk.unix(0)))

	if saved := f.update(id, user("Ann", clk.unix(0))); !reflect.DeepEqual(saved, map[string]int{UnchangedContact: 1}) || f.sent() != "" {
		t.Errorf("identical update: saved %v, sent %q", saved, f.sent())
	}
	if saved := f.update(id, user("Ann B.", clk.unix(0))); saved != nil {
		t.Errorf("changed name: saved %v", saved)
	}
	if got := f.sent(); got != "PUT /contacts/"+id {
		t.Errorf("changed name sent %q", got)
	}
	if got := f.sim.State().Contacts[0].Name; got != "Ann B." {
		t.Errorf("Intercom holds name %q", got)
	}
}

// last_seen_at moving within the resolution is no change; beyond it, it
// is, measured from the value Intercom holds (so small moves add up); a
// resolution of 0 sends every move.
func TestLastSeenResolution(t *testing.T) {
	clk := newClock()
	f := newFixture(t, Config{LastSeenResolution: time.Hour, Now: clk.now}, 0)
	id := f.create(user("Ann", clk.unix(0)))
	for _, step := range []struct {
		seen time.Duration
		want string
	}{
		{40 * time.Minute, ""},
		{60 * time.Minute, ""},                     // exactly the resolution from what Intercom holds
		{61 * time.Minute, "PUT /contacts/" + id},  // beyond: sent, Intercom holds +61m
		{100 * time.Minute, ""},                    // 39 minutes on
		{122 * time.Minute, "PUT /contacts/" + id}, // 61 minutes on
		{0, "PUT /contacts/" + id},                 // back in time beyond it
	} {
		f.update(id, user("Ann", clk.unix(step.seen)))
		if got := f.sent(); got != step.want {
			t.Errorf("last_seen_at +%s: sent %q, want %q", step.seen, got, step.want)
		}
	}
	if got, want := f.sim.State().Contacts[0].LastSeenAt, *clk.unix(0); got != want {
		t.Errorf("Intercom holds last_seen_at %d, want %d", got, want)
	}
	// An update without last_seen_at leaves it: no change.
	f.update(id, user("Ann", nil))
	if got := f.sent(); got != "" {
		t.Errorf("no last_seen_at: sent %q", got)
	}

	g := newFixture(t, Config{Now: clk.now}, 0) // resolution 0
	id = g.create(user("Ann", clk.unix(0)))
	g.update(id, user("Ann", clk.unix(time.Second)))
	if got := g.sent(); got != "PUT /contacts/"+id {
		t.Errorf("resolution 0, a move of 1s: sent %q", got)
	}
	g.update(id, user("Ann", clk.unix(time.Second)))
	if got := g.sent(); got != "" {
		t.Errorf("resolution 0, no move: sent %q", got)
	}
}

// After the TTL, an unchanged update, upsert and attach are sent again,
// and then trusted for another TTL.
func TestTTL(t *testing.T) {
	clk := newClock()
	f := newFixture(t, Config{TTL: 24 * time.Hour, Now: clk.now}, 0)
	id := f.create(user("Ann", nil))
	ctx := context.Background()
	co, err := f.api.UpsertCompany(ctx, intercom.CompanyBody{CompanyID: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.api.AttachCompany(ctx, id, co.ID); err != nil {
		t.Fatal(err)
	}
	f.sim.ResetRequests()
	// The attach goes first: an update's answer shows the contact's
	// companies, which renews the attachment (TestAttachmentSeenIsNotMadeAgain).
	all := func() {
		t.Helper()
		if err := f.api.AttachCompany(ctx, id, co.ID); err != nil {
			t.Fatal(err)
		}
		f.update(id, user("Ann", nil))
		if _, err := f.api.UpsertCompany(ctx, intercom.CompanyBody{CompanyID: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
	}
	clk.add(24*time.Hour - time.Second)
	all()
	if got := f.sent(); got != "" {
		t.Errorf("within the TTL: sent %q", got)
	}
	clk.add(time.Second)
	all()
	want := "POST /contacts/" + id + "/companies\nPUT /contacts/" + id + "\nPOST /companies"
	if got := f.sent(); got != want {
		t.Errorf("at the TTL: sent\n%s\nwant\n%s", got, want)
	}
	clk.add(time.Hour)
	all()
	if got := f.sent(); got != "" {
		t.Errorf("an hour after they were sent again: sent %q", got)
	}
}

// A failed update is not remembered: the same update is sent again; an
// update that fails after one was remembered forgets it, since Intercom
// may or may not hold it.
func TestFailedUpdateIsSentAgain(t *testing.T) {
	f := newFixture(t, Config{}, -1) // no retries in the client
	id := f.create(user("Ann", nil))
	f.sim.SetFaults(simulator.Faults{ErrorRate: 1})
	if _, err := f.api.UpdateContact(context.Background(), id, user("Ann B.", nil)); intercom.StatusOf(err) != 500 {
		t.Fatalf("update: %v, want a 500", err)
	}
	f.sim.SetFaults(simulator.Faults{})
	f.sent()
	f.update(id, user("Ann B.", nil))
	f.update(id, user("Ann", nil)) // Intercom may hold either: sent
	if got, want := f.sent(), "PUT /contacts/"+id+"\nPUT /contacts/"+id; got != want {
		t.Errorf("after the failure: sent\n%s\nwant\n%s", got, want)
	}

	f.sim.SetFaults(simulator.Faults{ErrorRate: 1})
	if err := f.api.AttachCompany(context.Background(), id, "nope"); err == nil {
		t.Fatal("attach answered no error")
	}
	if _, err := f.api.UpsertCompany(context.Background(), intercom.CompanyBody{CompanyID: "acme"}); err == nil {
		t.Fatal("upsert answered no error")
	}
	if f.m.Len() != 2 { // the contact's body and its identity
		t.Errorf("%d entries after failed calls, want 2", f.m.Len())
	}
}

// A contact deleted, merged or found gone (Forget) is forgotten: its next
// update is sent.
func TestGoneContactIsForgotten(t *testing.T) {
	f := newFixture(t, Config{}, 0)
	id := f.create(user("Ann", nil))
	f.api.Forget(id)
	f.update(id, user("Ann", nil))
	if got := f.sent(); got != "PUT /contacts/"+id {
		t.Errorf("after Forget: sent %q", got)
	}
	if c, ok := f.api.Cached(intercom.ExternalIDKey("u1")); !ok || c.ID != id || c.ExternalID != "u1" {
		t.Errorf("Cached(external_id) = %+v, %v", c, ok)
	}
	if err := f.api.DeleteContact(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if c, ok := f.api.Cached(intercom.ExternalIDKey("u1")); ok {
		t.Errorf("Cached(external_id) of a deleted contact = %+v", c)
	}
}

// The Memory holds at most Size entries, forgetting the least recently
// used: an evicted contact's update is sent again, a recent one's not.
func TestBoundHolds(t *testing.T) {
	f := newFixture(t, Config{Size: 10}, 0)
	var ids []string
	for i := range 20 {
		ids = append(ids, f.create(intercom.ContactBody{Role: "lead", Name: "L" + string(rune('a'+i))}))
		if n := f.m.Len(); n > 10 {
			t.Fatalf("%d entries after %d contacts, bound 10", n, i+1)
		}
	}
	f.update(ids[0], intercom.ContactBody{Role: "lead", Name: "La"})
	f.update(ids[19], intercom.ContactBody{Role: "lead", Name: "L" + string(rune('a'+19))})
	if got := f.sent(); got != "PUT /contacts/"+ids[0] {
		t.Errorf("sent %q, want only the evicted contact's update", got)
	}
}

// Save and Load keep the Memory across processes, in order, for the same
// scope only; Load removes the file.
func TestSaveLoad(t *testing.T) {
	clk := newClock()
	f := newFixture(t, Config{Now: clk.now}, 0)
	id := f.create(user("Ann", nil))
	path := filepath.Join(t.TempDir(), "memory")
	if err := f.m.Save(path, "ws-1"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v, %v", fi, err)
	}

	other := New(Config{Now: clk.now})
	if err := other.Load(path, "ws-2"); err != nil || other.Len() != 0 {
		t.Errorf("another scope: %d entries, %v", other.Len(), err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file is left after Load: %v", err)
	}

	f.m.Save(path, "ws-1")
	m := New(Config{Now: clk.now})
	if err := m.Load(path, "ws-1"); err != nil || m.Len() != f.m.Len() {
		t.Fatalf("loaded %d entries of %d: %v", m.Len(), f.m.Len(), err)
	}
	f.api = Wrap(f.api.(*API).API, m)
	f.update(id, user("Ann", nil))
	if got := f.sent(); got != "" {
		t.Errorf("after Load: sent %q", got)
	}

	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := New(Config{}).Load(path, "ws-1"); err == nil || err.Error() != "load the memory of calls sent: "+path+": not a saved memory (or of another version)" {
		t.Errorf("junk: %v", err)
	}
}

// An attachment seen in a contact's answer (made by another process, or
// before a restart that lost the memory) is remembered as made: the
// repeat attach is not sent, and counted; a company the answer does not
// show is still attached.
func TestAttachmentSeenIsNotMadeAgain(t *testing.T) {
	clk := newClock()
	f := newFixture(t, Config{TTL: DefaultTTL, LastSeenResolution: time.Hour, Now: clk.now}, 0)
	ctx := context.Background()
	id := f.create(user("Ann", clk.unix(0)))
	var cos []string
	for _, name := range []string{"acme", "initech"} {
		co, err := f.api.UpsertCompany(ctx, intercom.CompanyBody{CompanyID: name, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		cos = append(cos, co.ID)
	}
	// Another process attaches acme (the client itself, not the memory).
	if err := f.api.(*API).API.AttachCompany(ctx, id, cos[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.api.GetContact(ctx, id); err != nil {
		t.Fatal(err)
	}
	f.sim.ResetRequests()

	var tally intercom.Tally
	tctx := intercom.WithTally(ctx, &tally)
	for _, co := range cos {
		if err := f.api.AttachCompany(tctx, id, co); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := f.sent(), "POST /contacts/"+id+"/companies"; got != want {
		t.Errorf("sent %q, want only the attachment not seen: %q", got, want)
	}
	if saved := tally.Saved(); !reflect.DeepEqual(saved, map[string]int{Attached: 1}) {
		t.Errorf("saved %v", saved)
	}
	if got := f.sim.State().Contacts[0].CompanyIDs; len(got) != 2 {
		t.Errorf("Intercom holds attachments %v", got)
	}
}
