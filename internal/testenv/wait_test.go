package testenv

import (
	"strings"
	"testing"
	"time"
)

func TestWaitForReturnsOnceTrue(t *testing.T) {
	calls := 0
	r := &Recorder{TB: t}
	WaitFor(r, 10*time.Second, "the third call", func() bool { calls++; return calls == 3 })
	if calls != 3 || len(r.Failures) != 0 {
		t.Fatalf("%d calls, failures %q; want 3 calls and none", calls, r.Failures)
	}
}

func TestWaitForFailsAtDeadline(t *testing.T) {
	r := &Recorder{TB: t}
	start := time.Now()
	var last time.Time
	WaitFor(r, 50*time.Millisecond, "a condition that never holds", func() bool { last = time.Now(); return false })
	if len(r.Failures) != 1 || !strings.Contains(r.Failures[0], "waiting for a condition that never holds") {
		t.Fatalf("failures %q; want one naming what was awaited", r.Failures)
	}
	if last.Sub(start) < 50*time.Millisecond {
		t.Errorf("last check %v after the start, before the deadline", last.Sub(start))
	}
}
