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
	waitFor(t, timeout, what, func() (bool, string) { return cond(), "" })
}

// WaitForState is WaitFor for a condition that can say where it stands:
// state returns "" once the condition holds, and otherwise describes the
// state it is in ("3 passive ports still held"). A failure shows the
// description of the last check, made at the deadline.
func WaitForState(t testing.TB, timeout time.Duration, what string, state func() string) {
	t.Helper()
	waitFor(t, timeout, what, func() (bool, string) {
		s := state()
		return s == "", s
	})
}

func waitFor(t testing.TB, timeout time.Duration, what string, check func() (ok bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if state != "" {
				t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, state)
			} else {
				t.Fatalf("timed out after %v waiting for %s", timeout, what)
			}
			return // for a testing.TB whose Fatalf returns
		}
		time.Sleep(pollInterval)
	}
}
