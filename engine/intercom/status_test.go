package intercom

import (
	"net/http"
	"testing"
)

// TestStatusesAreHTTPs: the package's status constants are net/http's
// (which the package, being pure, does not import).
func TestStatusesAreHTTPs(t *testing.T) {
	for got, want := range map[int]int{
		StatusBadRequest:          http.StatusBadRequest,
		StatusNotFound:            http.StatusNotFound,
		StatusConflict:            http.StatusConflict,
		StatusUnprocessableEntity: http.StatusUnprocessableEntity,
	} {
		if got != want {
			t.Errorf("status %d, want %d", got, want)
		}
	}
}
