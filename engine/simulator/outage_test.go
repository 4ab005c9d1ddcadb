package simulator

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOutageWindow: PUT /_sim/outage starts an outage in which every API
// request gets the same answer and changes nothing; it ends when its
// seconds are over or on DELETE. SetToken makes the old token refused.
func TestOutageWindow(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	create := `{"role":"user","external_id":"u1"}`
	if code, body := do(t, "PUT", s.URL()+"/_sim/outage", `{"status":502}`); code != 204 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if code, body := do(t, "POST", s.URL()+"/contacts", create); code != 502 || !strings.Contains(body, `"code":"bad_gateway"`) {
		t.Errorf("during the outage: %d %s", code, body)
	}
	if n := len(s.State().Contacts); n != 0 {
		t.Errorf("%d contacts made during the outage", n)
	}
	do(t, "DELETE", s.URL()+"/_sim/outage", "")
	if code, body := do(t, "POST", s.URL()+"/contacts", create); code != 200 {
		t.Errorf("after DELETE: %d %s", code, body)
	}
	s.SetOutage(Outage{Status: 401, Until: time.Now().Add(-time.Second)}) // over already
	if code, _ := do(t, "GET", s.URL()+"/me", ""); code != 200 {
		t.Errorf("after the window: %d", code)
	}
	if code, body := do(t, "PUT", s.URL()+"/_sim/outage", `{"status":200}`); code != 400 ||
		!strings.Contains(body, `want {\"status\": 400 to 599, \"seconds\": N} or {\"drop\": true, \"seconds\": N}; no seconds: until DELETE`) {
		t.Errorf("a bad outage: %d %s", code, body)
	}
	s.SetToken("new")
	if code, body := do(t, "GET", s.URL()+"/me", ""); code != 401 || !strings.Contains(body, "Access Token Invalid") {
		t.Errorf("without the new token: %d %s", code, body)
	}
}
