package auth

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a test starts, and every one the package starts, must
// have ended when the tests do.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
