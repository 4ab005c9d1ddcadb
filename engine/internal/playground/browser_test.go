package playground

import (
	"context"
	"flag"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/tools/txtar"

	"github.com/intercom-actions/intercom-actions/engine/internal/ruletest"
)

var update = flag.Bool("update", false, "rewrite the README screenshot (testdata/playground.png)")

// requireBrowser makes a missing browser a failure instead of a skip; CI
// sets it, after installing Debian's chromium.
const requireBrowser = "INTERCOM_ACTIONS_REQUIRE_BROWSER"

// browser starts headless Chromium for one test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if path, err = exec.LookPath("chromium-browser"); err != nil {
			if os.Getenv(requireBrowser) != "" {
				t.Fatalf("no chromium on PATH, and %s is set", requireBrowser)
			}
			t.Skip("no chromium on PATH (apt-get install chromium); set " + requireBrowser + " to fail instead")
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 820),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first run starts the browser, which lives as long as ctx; later
	// steps get a deadline of their own.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// TestPlaygroundInABrowser does what a person would: load the page, type a
// rule with a mistake and see the error at its line and column, fix it,
// run an event against the simulator and read the transcript; then type a
// rule that loads with a warning and see it, apart from errors, with the
// plan.
func TestPlaygroundInABrowser(t *testing.T) {
	ctx := browser(t)
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	const broken = "rules:\n  - name: Signups\n    action: track_evnt\n    trigger: type == \"track\"\n"
	const fixed = "rules:\n  - name: Signups\n    action: track_event\n    trigger: type == \"track\"\n"
	const event = `{"type":"track","event":"Signed Up","userId":"u-1","timestamp":"2024-03-01T12:00:00Z"}`
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return s
	}
	clear := func(id string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](`document.getElementById("` + id + `").value = ""`)
	}
	do(chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`body[data-planned]`))
	// Type the broken rule into the emptied editor, as a person would.
	do(clear(`rules`), chromedp.SendKeys(`#rules`, broken), chromedp.WaitVisible(`#problems li[data-line="3"]`))
	problem := text(`#problems li[data-line="3"]`)
	marked, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const m = document.querySelector('#rules-backdrop mark.err'); return m.dataset.line + ":" + m.dataset.col + " " + m.textContent })()`))
	if err != nil {
		t.Fatal(err)
	}
	// Fix it.
	do(clear(`rules`), chromedp.SendKeys(`#rules`, fixed), chromedp.WaitVisible(`#problems li.ok`))
	fixedNote := text(`#problems li.ok`)
	// One event, run against the simulator.
	do(clear(`events`), chromedp.SendKeys(`#events`, event+"\n"), chromedp.WaitVisible(`#plan .step.action`),
		chromedp.Click(`#run`), chromedp.WaitVisible(`body[data-ran="yes"]`))
	transcript := text(`#transcript-text`)
	if want := `rules.yaml:3:13: rule "Signups": unknown action "track_evnt" (did you mean "track_event"?)`; problem != want {
		t.Errorf("problem shown: %q\nwant %q", problem, want)
	}
	if marked != "3:13 track_evnt" {
		t.Errorf("marked in the editor: %q, want the word at 3:13", marked)
	}
	if fixedNote != "No problems in the rules." {
		t.Errorf("after the fix: %q", fixedNote)
	}
	// The page shows exactly the transcript a golden case would hold.
	ar := &txtar.Archive{Files: []txtar.File{{Name: RulesFile, Data: []byte(fixed)}, {Name: ruletest.EventsFile, Data: []byte(event + "\n")}}}
	want, err := ruletest.Runner{}.Transcript(ar)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(transcript) != strings.TrimSpace(string(want)) {
		t.Errorf("transcript on the page:\n%s\nwant:\n%s", transcript, want)
	}

	// A rule that can give Intercom more than 10 metadata keys: the warning
	// `check` prints is listed in amber and marked at its line and column
	// (no error mark, no "no problems"), and the plan is still shown.
	const warned = "rules:\n  - name: Every Property\n    action: track_event\n    fields:\n      metadata: {path: properties, flatten: \"_\"}\n"
	do(chromedp.Click(`#tab-plan`), clear(`rules`), chromedp.SendKeys(`#rules`, warned), chromedp.WaitVisible(`#problems li.warn[data-line="5"]`))
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const m = document.querySelector('#rules-backdrop mark.warn'), plan = document.querySelector('#plan .step.action .label');
		const listed = [...document.querySelectorAll('#problems li')].map((li) => li.className + " " + getComputedStyle(li).color + " " + li.textContent);
		return [m.dataset.line + ":" + m.dataset.col + " " + m.textContent, document.querySelectorAll('#rules-backdrop mark.err').length + " error marks", ...listed, plan && plan.textContent].join("\n");
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "5:24 properties,\n0 error marks\n" +
		`warn rgb(180, 83, 9) rules.yaml:5:24: rule "Every Property": field "metadata": warning: flatten can make more than 10 keys of properties: Intercom keeps the first 10 of an event; name those that matter most with keep: [...]` + "\n" +
		"line 1 · Every Property → track_event"; shown != want {
		t.Errorf("warning on the page:\n%s\nwant:\n%s", shown, want)
	}

	if *update {
		// The README's picture: a custom rule beside the defaults, planned.
		const shotRules = "rules:\n  - name: Identify Contact\n    action: identify_contact\n    fields:\n      role: {value: user}\n      custom_attributes: {path: traits, default: {}}\n\n  - name: Pro Signups\n    action: track_event\n    trigger: type == \"track\" && properties.plan == \"pro\"\n    fields:\n      event_name: {template: \"{{event}} (pro)\"}\n"
		const shotEvents = `{"type":"identify","userId":"u-1","traits":{"email":"ada@example.com","name":"Ada Lovelace","plan":"pro"},"timestamp":"2024-03-01T12:00:00Z"}` + "\n" +
			`{"type":"track","userId":"u-1","event":"Signed Up","properties":{"plan":"pro","seats":5},"timestamp":"2024-03-01T12:01:00Z"}` + "\n"
		set := func(id, v string) chromedp.Action[chromedp.Void] {
			return chromedp.Evaluate[chromedp.Void](`(() => { const e = document.getElementById("` + id + `"); e.value = ` + strconv.Quote(v) + `; e.scrollLeft = 0; e.dispatchEvent(new Event("input")); })()`)
		}
		do(set("events", shotEvents), set("rules", shotRules), chromedp.Click(`#tab-plan`),
			chromedp.WaitVisible(`#problems li.ok`), chromedp.Sleep(500*time.Millisecond))
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "..", "testdata", "playground.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
