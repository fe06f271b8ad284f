package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// meter reports transfers: progress bars (per file and total, with
// rate and ETA) on stderr when it is a terminal; otherwise one line per
// finished file on stdout; nothing with -q. It is safe for concurrent
// use by parallel transfers.
type meter struct {
	out   io.Writer     // plain lines; nil when quiet or drawing bars
	bars  *mpb.Progress // nil unless drawing bars
	total *mpb.Bar

	mu    sync.Mutex
	files int   // transfers finished
	bytes int64 // bytes moved by them
	want  int64 // total expected, for the total bar
}

// newMeter chooses how to report. ctx stops the bars' rendering.
func newMeter(ctx context.Context, env *Env, quiet bool) *meter {
	m := &meter{}
	switch {
	case quiet:
	case isTerminal(env.Stderr):
		m.bars = mpb.NewWithContext(ctx, mpb.WithOutput(env.Stderr), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond))
	default:
		m.out = env.Stdout
	}
	return m
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// expect adds n bytes to the total the total bar shows.
func (m *meter) expect(n int64) {
	if m.bars == nil || n <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.want += n
	if m.total == nil {
		m.total = m.bars.AddBar(m.want,
			mpb.BarPriority(1<<30), // the total stays at the bottom
			mpb.PrependDecorators(decor.Name("total", decor.WCSyncSpaceR), decor.CountersKibiByte("% .1f / % .1f")),
			mpb.AppendDecorators(decor.AverageSpeed(decor.SizeB1024(0), "% .1f"), decor.Name(" "), decor.AverageETA(decor.ET_STYLE_GO)))
		return
	}
	m.total.SetTotal(m.want, false)
}

// track is one file's transfer.
type track struct {
	m      *meter
	name   string
	bar    *mpb.Bar
	start  time.Time
	offset int64
	n      int64     // bytes moved; owned by the transferring goroutine
	last   time.Time // of the previous Write, for the rate's moving average
}

// start begins reporting a transfer of name, size bytes (-1 unknown),
// resuming at offset.
func (m *meter) start(name string, size, offset int64) *track {
	now := time.Now()
	t := &track{m: m, name: name, start: now, last: now, offset: offset}
	if m.bars != nil {
		if size < 0 {
			size = 0
		}
		t.bar = m.bars.AddBar(size,
			mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersKibiByte("% .1f / % .1f")),
			mpb.AppendDecorators(decor.EwmaSpeed(decor.SizeB1024(0), "% .1f", 30), decor.Name(" "), decor.EwmaETA(decor.ET_STYLE_GO, 30)))
		if offset > 0 {
			t.bar.SetCurrent(offset)
			if m.total != nil {
				m.total.IncrInt64(offset)
			}
		}
	}
	return t
}

// Write counts p; transfers tee their data through it.
func (t *track) Write(p []byte) (int, error) {
	t.n += int64(len(p))
	if t.bar != nil {
		now := time.Now()
		t.bar.EwmaIncrBy(len(p), now.Sub(t.last))
		t.last = now
		if t.m.total != nil {
			t.m.total.IncrBy(len(p))
		}
	}
	return len(p), nil
}

// done ends the report of the transfer: err nil if it succeeded.
func (t *track) done(err error) {
	elapsed := time.Since(t.start)
	if t.bar != nil {
		if err != nil {
			t.bar.Abort(true)
		} else {
			t.bar.SetTotal(-1, true)
		}
	}
	if err != nil {
		return
	}
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	t.m.files++
	t.m.bytes += t.n
	if t.m.out != nil {
		resumed := ""
		if t.offset > 0 {
			resumed = fmt.Sprintf(" (resumed at %s)", humanBytes(t.offset))
		}
		fmt.Fprintf(t.m.out, "%s  %s  %s/s%s\n", t.name, humanBytes(t.n), humanBytes(rate(t.n, elapsed)), resumed)
	}
}

// wait lets the bars draw their last state.
func (m *meter) wait() {
	if m.bars == nil {
		return
	}
	if m.total != nil {
		m.total.SetTotal(-1, true)
	}
	m.bars.Wait()
}

func rate(n int64, d time.Duration) int64 {
	if d <= 0 {
		return n
	}
	return int64(float64(n) / d.Seconds())
}

// humanBytes formats n in binary units: "512 B", "1.5 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
