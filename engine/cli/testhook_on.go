//go:build testhooks

package cli

import (
	"fmt"
	"os"
	"time"
)

// init sets the hooks the environment asks for (see testhook.go).
func init() {
	if os.Getenv(holdAfterDeadLetterEnv) == "" {
		return
	}
	afterDeadLetter = func() {
		fmt.Fprintln(os.Stderr, holdingLine)
		time.Sleep(time.Hour)
	}
}
