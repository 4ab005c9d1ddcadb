package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
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
		{&intercom.APIError{Status: 408}, true},
		{&intercom.APIError{Status: 429}, true},
		{&intercom.APIError{Status: 500}, true},
		{&intercom.APIError{Status: 502}, true},
		{&intercom.APIError{Status: 503}, true},
		{fmt.Errorf("x: %w", &intercom.APIError{Status: 504}), true},
		{&intercom.APIError{Status: 400}, false},
		{&intercom.APIError{Status: 401}, false},
		{&intercom.APIError{Status: 403}, false},
		{&intercom.APIError{Status: 404}, false},
		{&intercom.APIError{Status: 409}, false},
		{&intercom.APIError{Status: 422}, false},
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
