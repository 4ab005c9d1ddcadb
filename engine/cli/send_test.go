package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// simState summarises the simulator's state one line per contact:
// who, role, attached companies and the names of its events.
func simState(st simulator.State) string {
	companies := map[string]string{}
	for _, c := range st.Companies {
		companies[c.ID] = c.CompanyID + "(" + c.Name + ")"
	}
	var lines []string
	for _, c := range st.Contacts {
		var cs, evs []string
		for _, id := range c.CompanyIDs {
			cs = append(cs, companies[id])
		}
		for _, e := range st.Events {
			if e.ContactID == c.ID {
				evs = append(evs, e.EventName)
			}
		}
		lines = append(lines, fmt.Sprintf("%s %s/%s companies=%v events=%v", c.Role, c.ExternalID, c.Email, cs, evs))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestSendSampleEventsToSimulator(t *testing.T) {
	chdirRoot(t)
	sim := simulator.NewServer(simulator.Options{Token: "tok"})
	defer sim.Close()
	t.Setenv("INTERCOM_ACCESS_TOKEN", "tok")
	dl := filepath.Join(t.TempDir(), "dead.ndjson")
	code, out, errOut := runCLI(t, "", "send", "--api-base", sim.URL(), "--dead-letter", dl, "--checkpoint", filepath.Join(t.TempDir(), "cp"), "testdata/events/sample.ndjson")
	if code != 0 || out != "" {
		dead, _ := os.ReadFile(dl)
		t.Fatalf("exit %d, stdout %q, stderr:\n%s\ndead letters:\n%s", code, out, errOut, dead)
	}
	want := `user /pat.visitor@example.org companies=[] events=[Whitepaper Downloaded]
user u-1001/ada.lovelace@example.com companies=[acme-co(Acme Co)] events=[Signed Up Product Viewed Order Completed]
user u-1002/grace.hopper@example.com companies=[globex(Globex Corporation)] events=[report-exported Subscription Upgraded]`
	if got := simState(sim.State()); got != want {
		t.Errorf("simulator state:\n%s\nwant:\n%s", got, want)
	}
	for _, line := range []string{
		"send: 12 events: 11 sent, 1 skipped (no rule matched), 0 failed\n",
		"actions: 11 planned, 11 sent, 0 dead-lettered\n",
		"  track_event       6 sent, 6 calls (1.00 per action)\n",
	} {
		if !strings.Contains(errOut, line) {
			t.Errorf("summary lacks %q:\n%s", line, errOut)
		}
	}
	if _, err := os.Stat(dl); !os.IsNotExist(err) {
		t.Errorf("a dead-letter file was created for a clean run")
	}
}

func TestSendDeadLettersAndResends(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	t.Setenv("INTERCOM_ACCESS_TOKEN", "")
	dir := t.TempDir()
	dl := filepath.Join(dir, "dead.ndjson")
	events := `{"type":"group","userId":"ghost","groupId":"g1","traits":{"name":"G"}}
not json
`
	code, _, errOut := runCLI(t, events, "send", "--api-base", sim.URL(), "--dead-letter", dl, "--contact-wait", "30s")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errOut)
	}
	data, err := os.ReadFile(dl)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		switch {
		case strings.Contains(line, `"event":"not json","ref":"stdin:2","error":"invalid event: not valid JSON`):
			refs = append(refs, "bad line")
		case strings.Contains(line, `"ref":"stdin:1","rule":"Identify Company","action":"identify_company","error":"identify_company: contact not found (external_id \"ghost\"); no identify for this contact came before the end of the input"`):
			refs = append(refs, "ghost group")
		default:
			t.Errorf("unexpected dead letter: %s", line)
		}
	}
	sort.Strings(refs)
	if strings.Join(refs, ",") != "bad line,ghost group" {
		t.Errorf("dead letters %v", refs)
	}
	if !strings.Contains(errOut, "dead letters: "+dl+" (send it again to retry them)") {
		t.Errorf("summary does not name the dead-letter file:\n%s", errOut)
	}

	// The user now exists; sending the dead-letter file retries the group.
	if code, _, errOut := runCLI(t, `{"type":"identify","userId":"ghost","traits":{"email":"ghost@example.com"}}`, "send", "--api-base", sim.URL(), "--dead-letter", filepath.Join(dir, "d2.ndjson")); code != 0 {
		t.Fatalf("identify: exit %d\n%s", code, errOut)
	}
	code, _, errOut = runCLI(t, "", "send", "--api-base", sim.URL(), "--dead-letter", filepath.Join(dir, "d3.ndjson"), "--checkpoint", filepath.Join(dir, "cp"), dl)
	if code != 1 || !strings.Contains(errOut, "send: 2 events: 1 sent, 0 skipped (no rule matched), 1 failed") {
		t.Errorf("re-send: exit %d\n%s", code, errOut)
	}
	if got := simState(sim.State()); got != "user ghost/ghost@example.com companies=[g1(G)] events=[]" {
		t.Errorf("state after re-send: %s", got)
	}
	if code, _, errOut := runCLI(t, "", "send", "--dead-letter", dl, dl); code != 2 || !strings.Contains(errOut, "is both an input and the dead-letter file") {
		t.Errorf("same file: exit %d, %s", code, errOut)
	}
}

func TestSendDryRunSendsNothing(t *testing.T) {
	code, out, errOut := runCLI(t, `{"type":"track","userId":"u1","event":"E","timestamp":1700000000}`, "send", "--dry-run")
	want := `{"line":0,"rule":"Track Event","action":"track_event","fields":{"created_at":1700000000,"event_name":"E","user_id":"u1"}}` + "\n"
	if code != 0 || out != want {
		t.Errorf("exit %d\nstdout %s\nwant %s\nstderr %s", code, out, want, errOut)
	}
}

func TestDelete(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	t.Setenv("INTERCOM_ACCESS_TOKEN", "")
	runCLI(t, `{"type":"identify","userId":"u9","traits":{"email":"u9@example.com"}}`, "send", "--api-base", sim.URL(), "--dead-letter", filepath.Join(t.TempDir(), "d"))
	code, out, errOut := runCLI(t, "", "delete", "--api-base", sim.URL(), "--user-id", "u9")
	if code != 0 || out != "deleted the contact with external_id \"u9\"\n" || len(sim.State().Contacts) != 0 {
		t.Errorf("delete: exit %d, %s%s, %d contacts left", code, out, errOut, len(sim.State().Contacts))
	}
	code, out, errOut = runCLI(t, "", "delete", "--api-base", sim.URL(), "--user-id", "u9")
	if code != 0 || out != "no contact has external_id \"u9\": already absent\n" || errOut != "" {
		t.Errorf("second delete: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestSendVerboseLogsRetriesNotTokens(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Token: "s3cret-token", Seed: 1, Faults: simulator.Faults{ErrorRate: 0.5}})
	defer sim.Close()
	t.Setenv("INTERCOM_ACCESS_TOKEN", "s3cret-token")
	// Half the answers are 5xx: some calls are retried, and all succeed.
	events := `{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"}}
{"type":"track","userId":"u1","event":"E","timestamp":1700000000}
{"type":"track","userId":"u1","event":"F","timestamp":1700000001}`
	code, _, errOut := runCLI(t, events, "send", "-v", "--api-base", sim.URL(), "--dead-letter", filepath.Join(t.TempDir(), "d.ndjson"))
	if code != 0 {
		t.Errorf("exit %d, want 0:\n%s", code, errOut)
	}
	if !strings.Contains(errOut, `level=DEBUG msg="intercom: retrying" endpoint=`) || !strings.Contains(errOut, ` try=1 wait=`) {
		t.Errorf("no retry log line:\n%s", errOut)
	}
	if strings.Contains(errOut, "s3cret-token") {
		t.Errorf("the token was logged:\n%s", errOut)
	}
}

// TestSendCustomAttributes: with --custom-attributes existing an attribute
// the workspace lacks is dropped with a warning on stderr, and the contact
// is still saved; create makes it; a bad mode is a usage error.
func TestSendCustomAttributes(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte("rules:\n  - name: Identify\n    action: identify_contact\n    fields:\n      role: {value: user}\n      custom_attributes: traits.{plan,seats}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	event := `{"type":"identify","userId":"u1","traits":{"plan":"pro","seats":3}}`
	t.Setenv("INTERCOM_ACCESS_TOKEN", "")

	sim := simulator.NewServer(simulator.Options{DataAttributes: []string{"plan"}})
	defer sim.Close()
	code, _, errOut := runCLI(t, event, "send", "--api-base", sim.URL(), "--rules", rulesFile, "--dead-letter", filepath.Join(dir, "d1"), "--custom-attributes", "existing")
	if code != 0 || !strings.Contains(errOut, `level=WARN msg="intercom: custom attribute dropped" model=contact attribute=seats reason="the workspace has no such contact attribute (custom attributes: existing)"`) {
		t.Errorf("existing: exit %d\n%s", code, errOut)
	}
	if c := sim.State().Contacts; len(c) != 1 || !reflect.DeepEqual(c[0].CustomAttributes, map[string]any{"plan": "pro"}) {
		t.Errorf("state: %+v", c)
	}

	sim2 := simulator.NewServer(simulator.Options{DataAttributes: []string{"plan"}})
	defer sim2.Close()
	code, _, errOut = runCLI(t, event, "send", "--api-base", sim2.URL(), "--rules", rulesFile, "--dead-letter", filepath.Join(dir, "d2"), "--custom-attributes", "create")
	if code != 0 || strings.Contains(errOut, "WARN") {
		t.Errorf("create: exit %d\n%s", code, errOut)
	}
	if st := sim2.State(); len(st.DataAttributes) != 1 || st.DataAttributes[0].Name != "seats" || st.DataAttributes[0].DataType != "integer" ||
		!reflect.DeepEqual(st.Contacts[0].CustomAttributes, map[string]any{"plan": "pro", "seats": 3.0}) {
		t.Errorf("state: %+v", st)
	}

	code, _, errOut = runCLI(t, event, "send", "--custom-attributes", "drop")
	if code != 2 || errOut != "send: --custom-attributes: unknown custom attribute mode \"drop\" (expected one of send, create, existing)\n" {
		t.Errorf("bad mode: exit %d, %q", code, errOut)
	}
}

// TestSendRefusesARefusedTokenAtStart: the token is checked before
// anything is read (GET /me); a token Intercom refuses stops send there,
// saying how to check it, without printing it.
func TestSendRefusesARefusedTokenAtStart(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{Token: "right"})
	defer sim.Close()
	t.Setenv("INTERCOM_ACCESS_TOKEN", "wrong")
	var events strings.Builder
	for i := range 50 {
		fmt.Fprintf(&events, `{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com"}}`+"\n", i, i)
	}
	dl := filepath.Join(t.TempDir(), "dead.ndjson")
	code, _, errOut := runCLI(t, events.String(), "send", "--api-base", sim.URL(), "--dead-letter", dl, "--concurrency", "1")
	const want = "send: Intercom refuses the token: intercom: 401 unauthorized: Access Token Invalid (request sim-000000000001)\n" +
		"  check it with 'intercom-actions auth status': it is mistyped, was revoked, or belongs to a workspace in another region (--region)\n"
	if code != 1 || errOut != want {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and:\n%s", code, errOut, want)
	}
	if n := len(sim.Requests()); n != 1 {
		t.Errorf("%d requests reached Intercom, want 1", n)
	}
	if strings.Contains(errOut, "wrong") {
		t.Errorf("the token was printed:\n%s", errOut)
	}
}

// TestSendSummaryGroupsFailuresByReason: the summary lists the failures by
// reason, most frequent first, with a count and the first as an example;
// -v prints each failure as it happens.
func TestSendSummaryGroupsFailuresByReason(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	t.Setenv("INTERCOM_ACCESS_TOKEN", "")
	// One contact's events go one after another, so the example is the first.
	events := `{"type":"group","userId":"ghost","groupId":"g1"}
{"type":"group","userId":"ghost","groupId":"g2"}
not json
{"type":"track","userId":"u1"}
{"type":"group","userId":"ghost","groupId":"g3"}
`
	for _, verbose := range []bool{false, true} {
		args := []string{"send", "--api-base", sim.URL(), "--dead-letter", filepath.Join(t.TempDir(), "dl"), "--contact-wait", "30s"}
		if verbose {
			args = append(args, "-v")
		}
		code, _, errOut := runCLI(t, events, args...)
		want := `failures by reason:
  3 × rule "Identify Company": contact not found
      e.g. stdin:1: rule "Identify Company": identify_company: contact not found (external_id "ghost"); no identify for this contact came before the end of the input
  1 × invalid event: not valid JSON
      e.g. stdin:3: invalid event: not valid JSON: invalid character 'o' in literal null (expecting 'u') (at byte 2)
  1 × rule "Track Event": field event_name: required, but event is missing or empty
      e.g. stdin:4: rule "Track Event": field event_name: required, but event is missing or empty
`
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("-v=%v: exit %d; stderr:\n%s\nwant it to hold:\n%s", verbose, code, errOut, want)
		}
		each := "send: stdin:5: rule \"Identify Company\": identify_company: contact not found (external_id \"ghost\"); no identify for this contact came before the end of the input\n"
		if strings.Contains(errOut, each) != verbose {
			t.Errorf("-v=%v: printing each failure is %v; stderr:\n%s", verbose, !verbose, errOut)
		}
	}
}

// TestSendCheckpointGuards: a checkpoint of an unfinished run is not
// silently started over, and --resume with no checkpoint does not send
// everything again.
func TestSendCheckpointGuards(t *testing.T) {
	dir := t.TempDir()
	events := writeFile(t, dir, "events.ndjson", workload(10))
	cp := filepath.Join(dir, "cp.ndjson")
	code, _, errOut := runCLI(t, "", "send", "--resume", "--checkpoint", cp, "--api-base", "http://127.0.0.1:1", events)
	if want := "send: --resume: there is no checkpoint " + cp + " to resume from (send writes it where it ran, named after its input files, or where --checkpoint says)\n"; code != 2 || errOut != want {
		t.Errorf("resume without a checkpoint: exit %d, stderr %q", code, errOut)
	}
	abs, _ := filepath.Abs(events)
	writeFile(t, dir, "cp.ndjson", `{"input":"`+abs+`","line":4}`+"\n")
	code, _, errOut = runCLI(t, "", "send", "--checkpoint", cp, "--api-base", "http://127.0.0.1:1", events)
	if want := "send: " + cp + " holds the checkpoint of a run that did not finish (" + abs + ", settled up to line 4): add --resume to continue it, or remove the file to start again\n"; code != 2 || errOut != want {
		t.Errorf("a new run over an unfinished checkpoint: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "", "send", "--resume", "--api-base", "http://127.0.0.1:1")
	if code != 2 || errOut != "send: --resume needs input files (standard input cannot be read again)\n" {
		t.Errorf("resume of stdin: exit %d, stderr %q", code, errOut)
	}
}

// TestSendSkipsUnchanged: send does not repeat an identify or a group
// call that changes nothing in Intercom, and its summary says how many
// calls that saved, by reason; --no-skip-unchanged sends them all.
func TestSendSkipsUnchanged(t *testing.T) {
	events := strings.Repeat(`{"type":"identify","userId":"u1","timestamp":"2026-01-01T10:00:00Z","traits":{"email":"ada@example.com","name":"Ada"}}
{"type":"group","userId":"u1","groupId":"acme","timestamp":"2026-01-01T10:00:00Z","traits":{"name":"Acme"}}
`, 3)
	for _, c := range []struct {
		flags []string
		calls string // the calls sent, but for the upserts of acme
		saved string
	}{
		{nil, "POST /contacts 1, POST /contacts/{id}/companies 1", "attached 2, unchanged_contact 2"},
		{[]string{"--no-skip-unchanged"}, "POST /contacts 1, POST /contacts/{id}/companies 3, PUT /contacts/{id} 2", ""},
	} {
		sim := simulator.NewServer(simulator.Options{})
		args := append([]string{"send", "--api-base", sim.URL(), "--dead-letter", filepath.Join(t.TempDir(), "dl")}, c.flags...)
		code, _, errOut := runCLI(t, events, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d:\n%s", c.flags, code, errOut)
		}
		// The group calls of acme queued together share one upsert; one
		// sent before the next was read has its own, which skipping then
		// suppresses as unchanged. How many were queued together is the
		// scheduler's, so the upserts are counted apart.
		calls, upserts := callCounts(deliveries(sim), "POST /companies")
		if calls != c.calls {
			t.Errorf("%v: calls %s, want %s", c.flags, calls, c.calls)
		}
		switch {
		case upserts < 1 || upserts > 3 || c.saved != "" && upserts != 1:
			t.Errorf("%v: %d upserts of acme", c.flags, upserts)
		case c.saved != "":
			saved, n := c.saved, 4
			if m := regexp.MustCompile(`unchanged_company ([12])\b`).FindStringSubmatch(errOut); m != nil { // upserts sent apart, the later ones skipped
				saved, n = "attached 2, unchanged_company "+m[1]+", unchanged_contact 2", 4+int(m[1][0]-'0')
			}
			want := fmt.Sprintf("  saved: %d calls not sent, Intercom held what they would send (%s; --no-skip-unchanged sends them)\n", n, saved)
			if !strings.Contains(errOut, want) {
				t.Errorf("%v: the summary lacks %q:\n%s", c.flags, want, errOut)
			}
		case strings.Contains(errOut, "saved:"):
			t.Errorf("%v: the summary says calls were saved:\n%s", c.flags, errOut)
		}
		sim.Close()
	}
}

// callCounts tallies reqs as "METHOD path n" (ids as {id}), sorted, and
// counts apart those of route.
func callCounts(reqs []simulator.Request, route string) (string, int) {
	ids := regexp.MustCompile(`/[0-9a-f]{24}|/contacts/[^/]+/companies$`)
	n := map[string]int{}
	apart := 0
	for _, r := range reqs {
		call := r.Method + " " + ids.ReplaceAllStringFunc(r.Path, func(s string) string {
			if strings.HasSuffix(s, "/companies") {
				return "/contacts/{id}/companies"
			}
			return "/{id}"
		})
		if call == route {
			apart++
			continue
		}
		n[call]++
	}
	var out []string
	for call, k := range n {
		out = append(out, fmt.Sprintf("%s %d", call, k))
	}
	sort.Strings(out)
	return strings.Join(out, ", "), apart
}

// deliveries are the requests sim recorded, but for the start's check of
// the token (GET /me).
func deliveries(sim *simulator.Server) []simulator.Request {
	var out []simulator.Request
	for _, r := range sim.Requests() {
		if r.Method != "GET" || r.Path != "/me" {
			out = append(out, r)
		}
	}
	return out
}
