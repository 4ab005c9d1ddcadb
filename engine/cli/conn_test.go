package cli

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/processor"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
)

// TestAPIBaseRefusesPlainHTTP: a token must not cross the network in the
// clear; plain http is for a simulator on a loopback address.
func TestAPIBaseRefusesPlainHTTP(t *testing.T) {
	t.Setenv("INTERCOM_ACCESS_TOKEN", "tok")
	for base, want := range map[string]string{
		"http://intercom.example.com": "send: --api-base http://intercom.example.com: plain http would send the access token unencrypted; use https (http is allowed only for a loopback address, such as a local simulator)\n",
		"http://10.0.0.5:8089":        "send: --api-base http://10.0.0.5:8089: plain http would send the access token unencrypted; use https (http is allowed only for a loopback address, such as a local simulator)\n",
		"ftp://127.0.0.1":             "send: --api-base \"ftp://127.0.0.1\": want an https:// URL with a host\n",
		"127.0.0.1:8089":              "send: --api-base \"127.0.0.1:8089\": want an https:// URL with a host\n",
	} {
		code, _, errOut := runCLI(t, "", "send", "--api-base", base, "--dead-letter", filepath.Join(t.TempDir(), "d"))
		if code != 2 || errOut != want {
			t.Errorf("--api-base %s: exit %d, stderr %q\nwant %q", base, code, errOut, want)
		}
	}
	for _, base := range []string{"https://api.intercom.io", "http://127.0.0.1:8089", "http://localhost:8089", "http://[::1]:8089"} {
		c := &processor.Config{APIBase: base}
		if got, err := c.BaseURL(); err != nil || got != base {
			t.Errorf("baseURL(%s) = %q, %v", base, got, err)
		}
	}
}

// TestIntercomVersion: --intercom-version sets the header; versions the
// client's bodies are not right for are refused before anything is sent.
func TestIntercomVersion(t *testing.T) {
	sim := simulator.NewServer(simulator.Options{})
	defer sim.Close()
	t.Setenv("INTERCOM_ACCESS_TOKEN", "")
	event := `{"type":"track","userId":"u1","event":"E","timestamp":1700000000}`
	dl := filepath.Join(t.TempDir(), "d")
	runCLI(t, event, "send", "--api-base", sim.URL(), "--dead-letter", dl)
	runCLI(t, event, "send", "--api-base", sim.URL(), "--dead-letter", dl, "--intercom-version", "2.14")
	var got []string
	for _, r := range sim.Requests() {
		got = append(got, r.Header.Get("Intercom-Version")+" "+r.Header.Get("User-Agent"))
	}
	// Each run: GET /me (the token's check), POST /events (404, no such
	// user) and its last try at the end.
	if want := []string{"2.16 intercom-actions/dev", "2.16 intercom-actions/dev", "2.16 intercom-actions/dev",
		"2.14 intercom-actions/dev", "2.14 intercom-actions/dev", "2.14 intercom-actions/dev"}; !slices.Equal(got, want) {
		t.Errorf("Intercom-Version and User-Agent sent: %q", got)
	}
	for v, want := range map[string]string{
		"2.17":     "send: --intercom-version 2.17 is not supported: want a version from 2.11 to 2.16 (default 2.16)\n",
		"2.10":     "send: --intercom-version 2.10 is not supported: want a version from 2.11 to 2.16 (default 2.16)\n",
		"Unstable": "send: --intercom-version \"Unstable\": want a version from 2.11 to 2.16 (default 2.16)\n",
		"1.4":      "send: --intercom-version \"1.4\": want a version from 2.11 to 2.16 (default 2.16)\n",
	} {
		code, _, errOut := runCLI(t, event, "send", "--api-base", sim.URL(), "--dead-letter", dl, "--intercom-version", v)
		if code != 2 || errOut != want {
			t.Errorf("--intercom-version %s: exit %d, stderr %q\nwant %q", v, code, errOut, want)
		}
	}
	if n := len(sim.Requests()); n != 6 {
		t.Errorf("%d requests, want 6: a refused version sends nothing", n)
	}
}
