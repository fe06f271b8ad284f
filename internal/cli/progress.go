package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
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
			mpb.PrependDecorators(decor.Name("total", decor.WCSyncSpaceR), counters()),
			mpb.AppendDecorators(speed{decor.AverageSpeed(0, "%f")}, decor.Name(" "), decor.AverageETA(decor.ET_STYLE_GO)))
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
			mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), counters()),
			mpb.AppendDecorators(speed{decor.EwmaSpeed(0, "%f", 30)}, decor.Name(" "), decor.EwmaETA(decor.ET_STYLE_GO, 30)))
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

// humanBytes formats n in binary units, as every report of sizes and
// rates does: "512 B", "1.5 KiB", "300 KiB".
func humanBytes(n int64) string {
	return humanize.IBytes(uint64(max(n, 0)))
}

// counters is a bar's "done / total" in humanBytes' format; mpb's own
// counters write "6.0 b / 6.0 b".
func counters() decor.Decorator {
	return decor.Any(func(s decor.Statistics) string {
		return humanBytes(s.Current) + " / " + humanBytes(s.Total)
	})
}

// speed shows one of mpb's speed decorators, made without a unit so
// that it writes bytes per second as a plain "%f" number, in humanBytes'
// format. Unwrap lets the bar still feed it (EwmaUpdate).
type speed struct{ decor.Decorator }

func (s speed) Decor(st decor.Statistics) (string, int) {
	str, width := s.Decorator.Decor(st)
	bps, err := strconv.ParseFloat(strings.TrimSpace(str), 64)
	if err != nil {
		return str, width
	}
	return s.Format(humanBytes(int64(math.Round(bps))) + "/s")
}

func (s speed) Unwrap() decor.Decorator { return s.Decorator }
