package playground

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRefusesOtherSitesAndOtherHosts: the playground has no login, so it
// takes requests from its own page only: a POST that a page of another
// site makes (Origin, Sec-Fetch-Site) is refused, and so is any request
// whose Host is not the playground's address (a name of another site
// pointed at 127.0.0.1: DNS rebinding); its own page's requests, and a
// client that is no browser, are served.
func TestRefusesOtherSitesAndOtherHosts(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	port := addr[strings.LastIndex(addr, ":")+1:]
	const crossOrigin = `{"error":"a cross-origin request: the playground takes requests from its own page only"}` + "\n"
	wrongHost := func(h string) string {
		return `{"error":"Host \"` + h + `\" is not this playground's address: open http://` + addr + `/"}` + "\n"
	}
	for _, c := range []struct {
		name, method, host string
		header             map[string]string
		status             int
		want               string // the whole body, when not 200
	}{
		{"its own page", "POST", "", map[string]string{"Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}, 200, ""},
		{"curl", "POST", "", nil, 200, ""},
		{"localhost", "POST", "localhost:" + port, nil, 200, ""},
		{"another site's page", "POST", "", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403, crossOrigin},
		{"another site, old browser", "POST", "", map[string]string{"Origin": "https://evil.example"}, 403, crossOrigin},
		{"DNS rebinding", "POST", "evil.example:" + port, map[string]string{"Origin": "http://evil.example:" + port, "Sec-Fetch-Site": "same-origin"}, 403, wrongHost("evil.example:" + port)},
		{"DNS rebinding, the page", "GET", "evil.example:" + port, nil, 403, wrongHost("evil.example:" + port)},
		{"another port", "POST", "127.0.0.1:1", nil, 403, wrongHost("127.0.0.1:1")},
	} {
		path := "/api/plan"
		var body io.Reader = strings.NewReader(input(goodRules, trackEvent))
		if c.method == "GET" {
			path, body = "/", nil
		}
		req, _ := http.NewRequest(c.method, srv.URL+path, body)
		if c.host != "" {
			req.Host = c.host
		}
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || c.status != 200 && string(got) != c.want {
			t.Errorf("%s: %d %s, want %d %s", c.name, resp.StatusCode, got, c.status, c.want)
		}
	}
}
