package rest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
)

// unreachableClient is a client of base that records OnUnreachable calls.
func unreachableClient(t *testing.T, base string) (*Client, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	c, err := New(Config{
		BaseURL:     base,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken}),
		MinBackoff:  time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxRetries: 5,
		OnUnreachable: func(err error) {
			mu.Lock()
			got = append(got, Unreachable(err))
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// TestRefusedConnectionIsReportedAtOnce: a port nobody listens on (a
// mistyped --api-base) is reported on the first failed request, once for
// the retries that follow, not after the retries run out.
func TestRefusedConnectionIsReportedAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, reports := unreachableClient(t, "http://"+addr)
	var tally intercom.Tally
	begin := time.Now()
	_, err = c.GetContact(intercom.WithTally(context.Background(), &tally), "c1") // a call of delivery (a check of the token, GET /me, says so itself)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v, want connection refused", err)
	}
	// One for the 6 tries, a few milliseconds apart; another only every
	// UnreachableEvery, which a slow machine may reach.
	if got, most := reports(), 1+int(time.Since(begin)/UnreachableEvery); len(got) < 1 || len(got) > most || got[0] != "connection refused" {
		t.Errorf("reports %q, want one \"connection refused\" for 6 tries", got)
	}
	if st := c.Stats(); st.Calls != 6 || tally.Calls() != 6 || tally.Undelivered() != 6 {
		t.Errorf("%d calls, tally %d, %d undelivered; want 6 each (refused connections are retried, and never reached the server)", st.Calls, tally.Calls(), tally.Undelivered())
	}
}

// TestTLSToAPlainServerIsReported: an https URL to a plain-HTTP server
// fails at once, with a reason that says what to look at.
func TestTLSToAPlainServerIsReported(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c, reports := unreachableClient(t, strings.Replace(srv.URL, "http://", "https://", 1))
	if _, err := c.GetContact(context.Background(), "c1"); err == nil {
		t.Fatal("no error")
	}
	if got := reports(); len(got) != 1 || got[0] != "TLS handshake failed (is it an https URL to an http server?)" {
		t.Errorf("reports %q", got)
	}
}

// TestUnreachableClassifies: each kind of failure to reach the server is
// named; any other error, and nil, is not one.
func TestUnreachableClassifies(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("intercom: 500"), ""},
		{&intercom.APIError{Status: 503}, ""},
		{fmt.Errorf("post: %w", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), "connection refused"},
		{fmt.Errorf("post: %w", syscall.EHOSTUNREACH), "no route to host"},
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, "no such host"},
		{&net.DNSError{Err: "server misbehaving", Name: "x.invalid"}, "DNS lookup failed"},
		{fmt.Errorf("get: %w", x509.UnknownAuthorityError{}), "TLS certificate not accepted"},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "TLS handshake failed (is it an https URL to an http server?)"},
		{errors.New("http: server gave HTTP response to HTTPS client"), "TLS handshake failed (is it an https URL to an http server?)"},
	} {
		if got := Unreachable(tc.err); got != tc.want {
			t.Errorf("Unreachable(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestCutOffWhileConnectingIsUndelivered: a call cut off (its context
// done) while its connection is still being made never reached Intercom,
// and says so in its tally, like a refused connection: the dispatcher
// then leaves its action for a later run rather than calling its outcome
// unknown. The dial here waits until the call is cut off, so the cut
// always lands in it.
func TestCutOffWhileConnectingIsUndelivered(t *testing.T) {
	dialing := make(chan struct{}, 1)
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		dialing <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	c := newClient(t, nil, func(cfg *Config) {
		cfg.BaseURL = "http://127.0.0.1:1"
		cfg.HTTPClient = &http.Client{Transport: tr}
	})
	ctx, cancel := context.WithCancel(context.Background())
	var tally intercom.Tally
	errc := make(chan error, 1)
	go func() {
		_, err := c.Me(intercom.WithTally(ctx, &tally))
		errc <- err
	}()
	<-dialing
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if tally.Calls() != 1 || tally.Undelivered() != 1 {
		t.Errorf("tally: %d calls, %d undelivered; want 1 and 1 (cut off before a connection)", tally.Calls(), tally.Undelivered())
	}
}
