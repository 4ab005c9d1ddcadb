package playground

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/intercom-actions/intercom-actions/engine/internal/ruletest"
)

func post(t *testing.T, srv *httptest.Server, path, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func input(rules, events string) string {
	b, _ := json.Marshal(Input{Rules: rules, Events: events})
	return string(b)
}

const goodRules = "rules:\n  - name: T\n    action: track_event\n"
const trackEvent = `{"type":"track","event":"E","userId":"u-1","timestamp":1700000000}`

func TestPlanAnswers(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	resp, body := post(t, srv, "/api/plan", input("rules:\n  - name: T\n    action: track_evnt\n", trackEvent))
	want := `{"problems":[{"line":3,"column":13,"rule":"T","message":"unknown action \"track_evnt\" (did you mean \"track_event\"?)",` +
		`"text":"rules.yaml:3:13: rule \"T\": unknown action \"track_evnt\" (did you mean \"track_event\"?)"}],"warnings":[],"steps":[]}` + "\n"
	if resp.StatusCode != 200 || string(body) != want {
		t.Errorf("broken rules: %d %s\nwant %s", resp.StatusCode, body, want)
	}

	resp, body = post(t, srv, "/api/plan", input(goodRules, trackEvent+"\n{\"type\":\"page\"}\nnot json\n"))
	want = `{"problems":[],"warnings":[],"steps":[` +
		`{"line":1,"actions":[{"line":1,"rule":"T","action":"track_event","fields":{"created_at":1700000000,"event_name":"E","user_id":"u-1"}}]},` +
		`{"line":2,"skipped":true},` +
		`{"line":3,"errors":["line 3: invalid event: not valid JSON: invalid character 'o' in literal null (expecting 'u') (at byte 2)"]}],` +
		`"summary":"3 events: 1 actions, 1 skipped (no rule matched), 1 bad events, 0 rule errors"}` + "\n"
	if resp.StatusCode != 200 || string(body) != want {
		t.Errorf("plan: %d %s\nwant %s", resp.StatusCode, body, want)
	}

	// Rules that can give Intercom more than 10 metadata keys load with the
	// warning `check` prints (text), at its line and column, and the plan
	// comes with it; a run goes ahead with the same warning.
	const manyKeys = "rules:\n  - name: T\n    action: track_event\n    fields:\n      metadata: {map: {k01: properties.p01, k02: properties.p02, k03: properties.p03, " +
		"k04: properties.p04, k05: properties.p05, k06: properties.p06, k07: properties.p07, k08: properties.p08, k09: properties.p09, k10: properties.p10, k11: properties.p11}}\n"
	const warning = `{"line":5,"column":18,"rule":"T","field":"metadata",` +
		`"message":"warning: map gives up to 11 keys: Intercom keeps the first 10 of an event; name those that matter most with keep: [...]",` +
		`"text":"rules.yaml:5:18: rule \"T\": field \"metadata\": warning: map gives up to 11 keys: Intercom keeps the first 10 of an event; name those that matter most with keep: [...]"}`
	resp, body = post(t, srv, "/api/plan", input(manyKeys, trackEvent))
	want = `{"problems":[],"warnings":[` + warning + `],"steps":[` +
		`{"line":1,"actions":[{"line":1,"rule":"T","action":"track_event","fields":{"created_at":1700000000,"event_name":"E","user_id":"u-1"}}]}],` +
		`"summary":"1 events: 1 actions, 0 skipped (no rule matched), 0 bad events, 0 rule errors"}` + "\n"
	if resp.StatusCode != 200 || string(body) != want {
		t.Errorf("warned rules: %d %s\nwant %s", resp.StatusCode, body, want)
	}
	resp, body = post(t, srv, "/api/run", input(manyKeys, trackEvent))
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), `{"problems":[],"warnings":[`+warning+`],"transcript":"POST /events`) {
		t.Errorf("run of warned rules: %d %s", resp.StatusCode, body)
	}
}

func TestRunAndGoldenAnswer(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	ar := &txtar.Archive{Files: []txtar.File{{Name: RulesFile, Data: []byte(goodRules)}, {Name: ruletest.EventsFile, Data: []byte(trackEvent + "\n")}}}

	resp, body := post(t, srv, "/api/run", input(goodRules, trackEvent))
	var ans RunAnswer
	if err := json.Unmarshal(body, &ans); err != nil || resp.StatusCode != 200 {
		t.Fatalf("run: %d %s", resp.StatusCode, body)
	}
	sent, err := ruletest.Runner{}.Send(ar)
	if err != nil {
		t.Fatal(err)
	}
	// The page gets what a golden case's want-http holds, the requests
	// behind it and the final state.
	if ans.Transcript != string(sent.Transcript) || len(ans.Requests) != len(sent.Requests) || ans.State == nil {
		t.Errorf("run answered %+v\nwant transcript %s", ans, sent.Transcript)
	}

	resp, body = post(t, srv, "/api/golden", `{"rules":`+jsonString(goodRules)+`,"events":`+jsonString(trackEvent)+`,"name":"One track."}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Disposition") != `attachment; filename="case.txtar"` {
		t.Fatalf("golden: %d %v", resp.StatusCode, resp.Header)
	}
	got := txtar.Parse(body)
	if string(got.Comment) != "One track.\n" || len(got.Files) != 4 || got.Files[2].Name != ruletest.WantFile || got.Files[3].Name != ruletest.WantHTTPFile {
		t.Fatalf("golden case:\n%s", body)
	}
	// The saved case passes `intercom-actions test` as it is.
	path := t.TempDir() + "/case.txtar"
	if err := writeFile(path, body); err != nil {
		t.Fatal(err)
	}
	if o, err := (ruletest.Runner{}).Run(path); err != nil || !o.Passed {
		t.Errorf("saved case does not pass: %v %s", err, o.Diff)
	}
}

func TestBadRequests(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"rules": 1}`, 400, `{"error":"expected {\"rules\": \"...\", \"events\": \"...\"}: json: cannot unmarshal number into Go struct field Input.rules of type string"}`},
		{`{"rule": ""}`, 400, `{"error":"expected {\"rules\": \"...\", \"events\": \"...\"}: json: unknown field \"rule\""}`},
		{`{"rules":"` + strings.Repeat("x", maxRequest) + `"}`, 413, `{"error":"request larger than 1048576 bytes"}`},
	} {
		resp, body := post(t, srv, "/api/plan", tc.body)
		if resp.StatusCode != tc.status || strings.TrimSpace(string(body)) != tc.want {
			t.Errorf("%.40s: %d %s, want %d %s", tc.body, resp.StatusCode, body, tc.status, tc.want)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o644) }
