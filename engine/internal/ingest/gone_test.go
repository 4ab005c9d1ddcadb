package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
)

// blockingStore holds each Append until its request's context ends, as
// the spool does while it waits for the fsync that a client gave up on.
type blockingStore struct{ entered chan struct{} }

func (b *blockingStore) Append(ctx context.Context, _ []delivery.Item) (delivery.Stored, error) {
	b.entered <- struct{}{}
	<-ctx.Done()
	return delivery.Stored{}, ctx.Err()
}

// syncLog is a log buffer safe for the server's goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncLog) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestClientGoneIsNoSpoolFailure: a client that closes its connection
// while its body is read (the body shorter than its Content-Length), or
// while its events are being stored, is counted as client_gone and
// logged at debug only — not as an ERROR "spool write failed", a false
// alert.
func TestClientGoneIsNoSpoolFailure(t *testing.T) {
	store := &blockingStore{entered: make(chan struct{}, 1)}
	var logs syncLog
	h, _, obs := newHandler(Config{Store: store, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	done := make(chan struct{}, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		done <- struct{}{}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	// Gone while its events are stored.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"userId":"u1","event":"Signed Up"}`
	fmt.Fprintf(c, "POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	<-store.entered
	c.Close()
	waitDone(t, done)

	// Gone while its body is read.
	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	c.Close()
	waitDone(t, done)

	out := logs.String()
	if strings.Contains(out, "level=ERROR") || strings.Contains(out, "spool write failed") {
		t.Errorf("a client gone was logged as a failure:\n%s", out)
	}
	if n := strings.Count(out, `level=DEBUG msg="ingest: the client went away before its answer" endpoint=/v1/track events=1 error=`); n != 2 {
		t.Errorf("%d debug lines for a client gone, want 2:\n%s", n, out)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if want := map[string]int{ReasonClientGone: 2}; fmt.Sprint(obs.rejected) != fmt.Sprint(want) {
		t.Errorf("rejected counts %v, want %v", obs.rejected, want)
	}
}

func waitDone(t *testing.T, done chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the handler did not return")
	}
}
