package connlimit

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

// server serves h on a loopback Listener with cap max.
func server(t *testing.T, max int, h http.Handler) (*Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := New(ln, max)
	srv := &http.Server{Handler: h, ConnState: lim.ConnState, ConnContext: lim.ConnContext, ReadHeaderTimeout: time.Minute}
	go srv.Serve(lim)
	t.Cleanup(func() { srv.Close() })
	return lim, ln.Addr().String()
}

// health answers /healthz, and refuses other requests over the cap as
// serve does; /slow reads its body (blocks until the client sends it).
func health() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Over(r) {
			w.Header().Set("Connection", "close")
			if r.URL.Path != "/healthz" {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
		}
		if r.URL.Path == "/slow" {
			io.ReadAll(r.Body)
		}
		fmt.Fprintln(w, "ok")
	})
}

// request sends one request on c and reads the answer's status.
func request(t *testing.T, c net.Conn, r *bufio.Reader, method, path string) int {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n", method, path); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestIdleConnectionsDoNotStopHealthz: 200 keep-alive connections left
// idle after a request, with a cap of 50: the server keeps at most 50
// open, closing the longest idle for each new one, and a health check on
// a new connection is answered.
func TestIdleConnectionsDoNotStopHealthz(t *testing.T) {
	lim, addr := server(t, 50, health())
	idle := make([]net.Conn, 200)
	for i := range idle {
		idle[i] = dial(t, addr)
		if code := request(t, idle[i], bufio.NewReader(idle[i]), "GET", "/"); code != 200 {
			t.Fatalf("connection %d: %d", i, code)
		}
	}
	c := dial(t, addr)
	if code := request(t, c, bufio.NewReader(c), "GET", "/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	st := lim.Stats()
	if st.Open > 50 || st.Evicted != 151 || st.Refused != 0 {
		t.Errorf("stats %+v, want at most 50 open, 151 evicted, none refused", st)
	}
	// The first connections were closed by the server: a read ends.
	idle[0].SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := idle[0].Read(make([]byte, 1)); err == nil {
		t.Errorf("the longest idle connection is still open (read %d bytes)", n)
	}
}

// TestBusyConnectionsLeaveHealthzAnswered: with every place in the middle
// of a request, a new connection is served over the cap for /healthz only
// (other requests get 503), and once the reserve is taken too, new
// connections are closed at once.
func TestBusyConnectionsLeaveHealthzAnswered(t *testing.T) {
	lim, addr := server(t, 5, health())
	for range 5 { // each sends headers, and a body that never comes
		c := dial(t, addr)
		fmt.Fprintf(c, "POST /slow HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n")
	}
	waitUntil(t, lim, "the five requests started", func() bool { return lim.open == 5 && lim.waiting.Len() == 0 })
	c := dial(t, addr)
	r := bufio.NewReader(c)
	if code := request(t, c, r, "GET", "/healthz"); code != 200 {
		t.Errorf("/healthz over the cap: %d", code)
	}
	c2 := dial(t, addr)
	if code := request(t, c2, bufio.NewReader(c2), "POST", "/other"); code != 503 {
		t.Errorf("another request over the cap: %d, want 503", code)
	}
	// Both were answered "Connection: close": the server closes them a
	// moment after the client has read the answer.
	waitUntil(t, lim, "the two over the cap were closed", func() bool { return lim.over == 0 })
	for range defaultReserve { // silent connections take the reserve
		dial(t, addr)
	}
	waitUntil(t, lim, "the reserve was taken", func() bool { return lim.over == defaultReserve })
	refused := dial(t, addr)
	refused.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := refused.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("a connection beyond the reserve: %v, want it closed", err)
	}
	if st := lim.Stats(); st.Refused != 1 || st.Open != 5+defaultReserve {
		t.Errorf("stats %+v", st)
	}
}

// waitUntil polls cond, under lim's lock, until it holds; the test fails
// after 20 s, saying what did not happen.
func waitUntil(t *testing.T, lim *Listener, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		lim.mu.Lock()
		ok := cond()
		lim.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not so after 20 s: %s (%+v)", what, lim.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
