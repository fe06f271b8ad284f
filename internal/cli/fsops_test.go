package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

func TestFsOps(t *testing.T) {
	srv := startFTP(t, false)
	exists := func(p string) bool {
		_, err := os.Stat(filepath.Join(srv.root, filepath.FromSlash(p)))
		return err == nil
	}

	mustFerry(t, "mkdir", srv.url("one"))
	if !exists("one") {
		t.Fatal("mkdir did not create one")
	}
	if code, _, _ := ferry(t, "mkdir", srv.url("one")); code == 0 {
		t.Error("mkdir of an existing directory succeeded")
	}
	if code, _, _ := ferry(t, "mkdir", srv.url("x/y/z")); code == 0 {
		t.Error("mkdir without -p created parents")
	}
	mustFerry(t, "mkdir", "-p", srv.url("x/y/z"), srv.url("one"))
	if !exists("x/y/z") {
		t.Fatal("mkdir -p did not create x/y/z")
	}

	writeFile(t, filepath.Join(srv.root, "x", "f.txt"), "data")
	mustFerry(t, "mv", srv.url("x/f.txt"), "g.txt") // relative to the source's directory
	if exists("x/f.txt") || !exists("x/g.txt") {
		t.Error("mv to a relative name")
	}
	mustFerry(t, "mv", srv.url("x/g.txt"), srv.url("one/h.txt"))
	if !exists("one/h.txt") {
		t.Error("mv to a URL")
	}
	if code, _, errOut := ferry(t, "mv", srv.url("one/h.txt"), "ftp://elsewhere.invalid/h.txt"); code != exitUsage || !strings.Contains(errOut, "one server") {
		t.Errorf("mv across servers: exit %d %s", code, errOut)
	}
	if out := mustFerry(t, "cat", srv.url("one/h.txt"), srv.url("one/h.txt")); out != "datadata" {
		t.Errorf("cat of two URLs: %q", out)
	}

	mustFerry(t, "rm", srv.url("one/h.txt"))
	if exists("one/h.txt") {
		t.Error("rm left the file")
	}
	if code, _, errOut := ferry(t, "rm", srv.url("x")); code != exitUsage || !strings.Contains(errOut, "use -r") {
		t.Errorf("rm of a directory without -r: exit %d %s", code, errOut)
	}
	writeFile(t, filepath.Join(srv.root, "x", "y", "z", "deep.txt"), "d")
	mustFerry(t, "rm", "-r", srv.url("x"))
	if exists("x") {
		t.Error("rm -r left x")
	}
	if code, _, _ := ferry(t, "rm", srv.url("")); code != exitUsage {
		t.Errorf("rm of the login directory: exit %d", code)
	}

	// ls of a file prints the file.
	writeFile(t, filepath.Join(srv.root, "one", "k.txt"), "12345")
	if out := mustFerry(t, "ls", "-l", srv.url("one/k.txt")); !strings.Contains(out, "           5  ") || !strings.Contains(out, "k.txt") {
		t.Errorf("ls -l of a file: %q", out)
	}

	// Anonymous is read-only: mkdir fails with the server's reply.
	code, _, errOut := ferry(t, "mkdir", "ftp://anonymous@"+srv.addr+"/nope")
	if code != exitFailure || !strings.Contains(errOut, "55") {
		t.Errorf("anonymous mkdir: exit %d %s", code, errOut)
	}
}

// TestMeterBars drives the progress bars (as on a terminal) from
// parallel transfers, for the race detector, and checks the plain lines.
func TestMeterBars(t *testing.T) {
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	m := &meter{bars: mpb.NewWithContext(ctx, mpb.WithOutput(&buf))}
	done := make(chan struct{})
	for i := 0; i < 4; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			m.expect(1000)
			tr := m.start("f", 1000, 100)
			for j := 0; j < 9; j++ {
				tr.Write(make([]byte, 100))
			}
			if i == 3 {
				tr.done(errors.New("broken"))
				return
			}
			tr.done(nil)
		}()
	}
	for i := 0; i < 4; i++ {
		<-done
	}
	m.wait()
	if m.files != 3 || m.bytes != 2700 {
		t.Errorf("files %d bytes %d", m.files, m.bytes)
	}

	var out bytes.Buffer
	p := &meter{out: &out}
	tr := p.start("name.bin", 2048, 1024)
	tr.Write(make([]byte, 1024))
	tr.done(nil)
	if s := out.String(); !strings.HasPrefix(s, "name.bin  1.0 KiB  ") || !strings.Contains(s, "(resumed at 1.0 KiB)") {
		t.Errorf("plain line %q", s)
	}
}

// TestHumanBytes: one format for sizes and rates, in the plain lines
// and in the bars alike.
func TestHumanBytes(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {6, "6 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {300 << 10, "300 KiB"}, {5 << 30, "5.0 GiB"}, {-1, "0 B"}} {
		if got := humanBytes(tt.n); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}

	// The bars' decorators (issue #18: the bars wrote "6.0 b / 6.0 b"
	// and "103.0 b/s" where the lines wrote "6 B").
	if got, _ := counters().Decor(decor.Statistics{Current: 6, Total: 1536}); got != "6 B / 1.5 KiB" {
		t.Errorf("counters = %q", got)
	}
	sp := speed{decor.EwmaSpeed(0, "%f", 30)}
	ewma, ok := sp.Unwrap().(decor.EwmaDecorator)
	if !ok {
		t.Fatal("speed hides its EWMA decorator from the bar")
	}
	for range 20 {
		ewma.EwmaUpdate(1536, time.Second)
	}
	if got, _ := sp.Decor(decor.Statistics{}); got != "1.5 KiB/s" {
		t.Errorf("speed = %q", got)
	}
}
