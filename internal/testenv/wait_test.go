package testenv

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records instead of stopping.
type fatalRecorder struct {
	testing.TB
	fatal []string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.fatal = append(r.fatal, fmt.Sprintf(format, args...))
}

func TestWaitForReturnsOnceTrue(t *testing.T) {
	calls := 0
	r := &fatalRecorder{TB: t}
	WaitFor(r, 10*time.Second, "the third call", func() bool { calls++; return calls == 3 })
	if calls != 3 || len(r.fatal) != 0 {
		t.Fatalf("%d calls, failures %q; want 3 calls and none", calls, r.fatal)
	}
}

func TestWaitForFailsAtDeadline(t *testing.T) {
	r := &fatalRecorder{TB: t}
	start := time.Now()
	var last time.Time
	WaitFor(r, 50*time.Millisecond, "a condition that never holds", func() bool { last = time.Now(); return false })
	if len(r.fatal) != 1 || !strings.Contains(r.fatal[0], "waiting for a condition that never holds") {
		t.Fatalf("failures %q; want one naming what was awaited", r.fatal)
	}
	if last.Sub(start) < 50*time.Millisecond {
		t.Errorf("last check %v after the start, before the deadline", last.Sub(start))
	}
}
