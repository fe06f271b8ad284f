package testenv

import (
	"fmt"
	"testing"
)

// Recorder is a testing.TB whose Fatalf and Errorf record the failure
// instead of failing the test, for tests of test helpers. Its Fatalf
// returns, so the helper under test must return after calling it.
type Recorder struct {
	testing.TB
	Failures []string
}

// Fatalf records the failure.
func (r *Recorder) Fatalf(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// Errorf records the failure.
func (r *Recorder) Errorf(format string, args ...any) { r.Fatalf(format, args...) }
