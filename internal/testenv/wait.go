package testenv

import (
	"testing"
	"time"
)

// pollInterval is how often WaitFor checks its condition.
const pollInterval = 10 * time.Millisecond

// WaitFor checks cond every few milliseconds until it returns true, and
// fails the test with what it waited for if timeout passes first. It is
// for states nothing signals (a file a server writes, a port it
// releases); where a channel or hook says when, wait on that instead.
// cond runs on the caller's goroutine, so it may call t.Fatal.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
			return // for a testing.TB whose Fatalf returns
		}
		time.Sleep(pollInterval)
	}
}
