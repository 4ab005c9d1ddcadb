package cli

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeIdleConnectionsDoNotStopHealthz: 200 keep-alive connections
// left idle against serve --max-connections 50 (as 20,000 exhausted the
// file descriptors of a default serve): /healthz still answers, serve
// keeps at most 50 open, and /metrics counts the idle ones it closed.
func TestServeIdleConnectionsDoNotStopHealthz(t *testing.T) {
	s := startServe(t, nil, "--data-dir", t.TempDir(), "--intercom", "sim", "--max-connections", "50")
	defer s.stop(t)
	addr := strings.TrimPrefix(s.base, "http://")
	for i := range 200 {
		c, err := keepAlive(addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer c.Close()
	}
	if code, body := get(t, s.base+"/healthz"); code != 200 || body != "{\"status\":\"ok\"}\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	// The scrape reuses the client's connection of /healthz: 201 in all.
	_, metrics := get(t, s.base+"/metrics")
	for _, want := range []string{"intercom_actions_http_connections_evicted_total 151\n", "intercom_actions_http_connections_refused_total 0\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, grepLines(metrics, "http_connections"))
		}
	}
	var open int
	if i := strings.Index(metrics, "\nintercom_actions_http_connections "); i < 0 {
		t.Errorf("no open connections gauge")
	} else if fmt.Sscanf(metrics[i+1:], "intercom_actions_http_connections %d", &open); open > 50 {
		t.Errorf("%d connections open, cap 50", open)
	}
}

// keepAlive opens a connection to addr, asks GET /healthz on it and
// returns it open and idle, as a keep-alive client leaves it between
// requests.
func keepAlive(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}
