package suppress

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// identify is an identify_contact of a user.
func identify(ext, email string) action.Action {
	kind, _ := action.Lookup("identify_contact")
	return action.Action{Rule: "Identify", Kind: kind, Fields: &action.IdentifyContact{Role: "user", ExternalID: ext, Email: email, Name: "Ann"}}
}

// TestEmailNeverFindsAnotherUsersContact: user X is identified with email
// E, then an identify names E alone, then (after a restart) user Y comes
// with E. Y's identify must not update X (that would re-key X to Y): as
// without the Memory, the create's 409 names X, whose external_id is read
// and found to be another, and the identify fails. The Memory finds users
// by external_id only: a body without one says nothing of the user's.
func TestEmailNeverFindsAnotherUsersContact(t *testing.T) {
	run := func(withMemory bool) (err string, transcript []string, state simulator.State) {
		sim := simulator.NewServer(simulator.Options{Clock: func() time.Time { return time.Unix(1_700_000_000, 0) }})
		defer sim.Close()
		wrap := func(api intercom.API, m *Memory) intercom.API { return api }
		if withMemory {
			wrap = func(api intercom.API, m *Memory) intercom.API { return Wrap(api, m) }
		}
		ctx := context.Background()
		m := New(Config{})
		api := wrap(restClient(t, sim, 0), m)
		for _, a := range []action.Action{identify("X", "e@example.com"), identify("", "e@example.com")} {
			if _, err := (action.Executor{API: api}).Execute(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(t.TempDir(), "memory")
		if err := m.Save(path, "ws"); err != nil {
			t.Fatal(err)
		}
		m = New(Config{})
		if err := m.Load(path, "ws"); err != nil {
			t.Fatal(err)
		}
		sim.ResetRequests()
		_, e := action.Executor{API: wrap(restClient(t, sim, 0), m)}.Execute(ctx, identify("Y", "e@example.com"))
		if e != nil {
			err = e.Error()
		}
		return err, sim.Transcript(), sim.State()
	}
	err, transcript, state := run(true)
	const want = `identify_contact: create contact: intercom: 409 conflict: A contact matching those details already exists with id=65c000000000000000000001 (request sim-000000000003) (it is the user with this email and external_id "X", not "Y")`
	if err != want {
		t.Errorf("err = %s\nwant %s", err, want)
	}
	if len(state.Contacts) != 1 || state.Contacts[0].ExternalID != "X" {
		t.Errorf("contacts: %+v", state.Contacts)
	}
	err0, transcript0, state0 := run(false)
	if err != err0 || !reflect.DeepEqual(transcript, transcript0) || !reflect.DeepEqual(state, state0) {
		t.Errorf("with the Memory:\n%s\n%q\n%+v\nwithout:\n%s\n%q\n%+v", err, transcript, state, err0, transcript0, state0)
	}

	// An email key a file saved by an earlier version holds is not answered.
	m := New(Config{})
	m.put(makeKey(kindContact, "c1"), entry{sum: 1})
	m.put(makeKey(kindIdentity, string(intercom.UserEmailKey("e@example.com"))), entry{id: "c1"})
	if c, ok := m.cachedUser(intercom.UserEmailKey("e@example.com")); ok {
		t.Errorf("an email key answered %+v", c)
	}
}
