package ingest

import (
	"os"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/simulator/contract"
)

// TestMain checks every exchange with the simulator against Intercom's
// OpenAPI description (engine/simulator/contract).
func TestMain(m *testing.M) { os.Exit(contract.Main(m)) }
