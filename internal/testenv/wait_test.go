package testenv

import (
	"fmt"
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

func TestWaitForStateReportsLastState(t *testing.T) {
	r := &Recorder{TB: t}
	calls := 0
	WaitForState(r, 10*time.Second, "the third call", func() string {
		if calls++; calls == 3 {
			return ""
		}
		return "not yet"
	})
	if calls != 3 || len(r.Failures) != 0 {
		t.Fatalf("%d calls, failures %q; want 3 calls and none", calls, r.Failures)
	}

	calls = 0
	WaitForState(r, 50*time.Millisecond, "a state never reached", func() string {
		calls++
		return fmt.Sprintf("%d checks made", calls)
	})
	want := fmt.Sprintf("waiting for a state never reached: %d checks made", calls)
	if len(r.Failures) != 1 || !strings.HasSuffix(r.Failures[0], want) {
		t.Fatalf("failures %q; want one ending %q", r.Failures, want)
	}
}
