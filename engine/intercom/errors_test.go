package intercom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&APIError{Status: 429}, true},
		{&APIError{Status: 500}, true},
		{&APIError{Status: 502}, true},
		{&APIError{Status: 503}, true},
		{fmt.Errorf("x: %w", &APIError{Status: 504}), true},
		{&APIError{Status: 400}, false},
		{&APIError{Status: 401}, false},
		{&APIError{Status: 403}, false},
		{&APIError{Status: 404}, false},
		{&APIError{Status: 409}, false},
		{&APIError{Status: 422}, false},
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{timeoutErr{}, true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{errors.New("boom"), false},
		{nil, false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
