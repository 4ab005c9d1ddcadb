package simulator_test

import (
	"os"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/simulator/contract"
)

// TestMain checks every exchange of the simulator's tests against
// Intercom's OpenAPI description (engine/simulator/contract): its answers
// must keep to it, and so must every request it did not refuse as
// malformed.
func TestMain(m *testing.M) { os.Exit(contract.Main(m)) }
