package client

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: a data
// connection, listener or fake server that was never shut down.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
