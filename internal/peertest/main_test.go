package peertest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind, such as
// the one waiting for a peer process that was never stopped.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
