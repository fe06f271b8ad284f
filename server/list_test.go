package server

import (
	"bufio"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage"
)

func TestNonUTF8Names(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.login("alice")
	name := "caf\xe9 latin1.txt"
	dc := c.open("EPSV", "STOR "+name)
	writeAll(t, dc, []byte("bytes"))
	c.expect(ftp.CodeTransferComplete)
	if got := string(ts.read(t, name)); got != "bytes" {
		t.Fatalf("stored %q", got)
	}
	dc = c.open("EPSV", "NLST")
	if got := string(readAll(t, dc)); got != name+"\r\n" {
		t.Fatalf("NLST %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
	c.cmd(ftp.CodeFileStatus, "SIZE "+name)
}

// hugeFS is a storage.FS whose root holds n synthetic files, generated on
// demand, so a listing of a million entries needs no disk.
type hugeFS struct {
	storage.FS // nil: any other method panics, which the test would see
	n          int
}

type fakeInfo struct {
	name string
	dir  bool
}

func (f fakeInfo) Name() string { return f.name }
func (f fakeInfo) Size() int64  { return 4096 }
func (f fakeInfo) Mode() fs.FileMode {
	if f.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (f fakeInfo) ModTime() time.Time { return time.Unix(1700000000, 0) }
func (f fakeInfo) IsDir() bool        { return f.dir }
func (f fakeInfo) Sys() any           { return nil }

func (h hugeFS) Stat(_ context.Context, name string) (fs.FileInfo, error) {
	return fakeInfo{name: name, dir: name == "."}, nil
}

func (h hugeFS) ReadDir(context.Context, string) (storage.DirReader, error) {
	return &hugeDir{left: h.n}, nil
}

type hugeDir struct {
	left, next int
	batch      []fs.FileInfo
}

func (d *hugeDir) Next(n int) ([]fs.FileInfo, error) {
	if d.left == 0 {
		return nil, io.EOF
	}
	d.batch = d.batch[:0]
	for ; n > 0 && d.left > 0; n-- {
		d.batch = append(d.batch, fakeInfo{name: "file" + strconv.Itoa(d.next)})
		d.next++
		d.left--
	}
	return d.batch, nil
}

func (d *hugeDir) Close() error { return nil }

type hugeAuth struct{ n int }

func (a hugeAuth) Authenticate(context.Context, LoginRequest) (*User, error) {
	return &User{Name: "big", FS: hugeFS{n: a.n}, Perms: PermReadOnly}, nil
}

// A directory of a million entries streams: every line arrives, and the
// server's heap does not grow with the directory.
func TestMillionEntryListingStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("streams a million lines")
	}
	const n = 1_000_000
	ts := startServer(t, func(c *Config) { c.Auth = hugeAuth{n: n}; c.Logger = nil })
	c := dial(t, ts.addr)
	c.login("big")
	for _, verb := range []string{"LIST", "MLSD", "NLST"} {
		dc := c.open("EPSV", verb)
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		peak := before.HeapAlloc
		br := bufio.NewReaderSize(dc, 64<<10)
		lines := 0
		_ = dc.SetReadDeadline(time.Now().Add(5 * time.Minute))
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				if err != io.EOF {
					t.Fatalf("%s after %d lines: %v", verb, lines, err)
				}
				break
			}
			if verb != "MLSD" || !strings.Contains(string(line), "type=cdir") {
				lines++
			}
			if lines%100000 == 0 {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
		}
		dc.Close()
		c.expect(ftp.CodeTransferComplete)
		if lines != n {
			t.Fatalf("%s sent %d lines, want %d", verb, lines, n)
		}
		// The whole listing is ~60 MB of text; holding it would show.
		if growth := int64(peak) - int64(before.HeapAlloc); growth > 16<<20 {
			t.Fatalf("%s: heap grew by %d bytes while streaming", verb, growth)
		}
	}
}

// Sizes and offsets are 64-bit: a sparse 5 GiB file reports its size and
// serves a REST near its end.
func TestFilesOver4GiB(t *testing.T) {
	ts := startServer(t, nil)
	const size = 5 << 30
	ts.write(t, "huge", nil)
	f, err := os.OpenFile(filepath.Join(ts.root, "huge"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("the end"), size-7); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c := dial(t, ts.addr)
	c.login("alice")
	if got := c.cmd(ftp.CodeFileStatus, "SIZE huge"); got != strconv.Itoa(size) {
		t.Fatalf("SIZE %s", got)
	}
	c.cmd(ftp.CodeFilePending, "REST "+strconv.Itoa(size-7))
	if got := string(readAll(t, c.open("EPSV", "RETR huge"))); got != "the end" {
		t.Fatalf("tail %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
	// Resume an upload past 4 GiB.
	c.cmd(ftp.CodeFilePending, "REST "+strconv.Itoa(size))
	writeAll(t, c.open("EPSV", "STOR huge"), []byte("!"))
	c.expect(ftp.CodeTransferComplete)
	if got := c.cmd(ftp.CodeFileStatus, "SIZE huge"); got != strconv.Itoa(size+1) {
		t.Fatalf("SIZE after append %s", got)
	}
}

// The MLSx perm fact says what this user may do (RFC 3659 7.5.5).
func TestPermFact(t *testing.T) {
	ts := startServer(t, nil)
	ts.write(t, "d/f", []byte("x"))
	for _, tc := range []struct{ user, file, dir string }{
		{"alice", "perm=adfrw;", "perm=cdeflmp;"},
		{"bob", "perm=r;", "perm=el;"},
	} {
		c := dial(t, ts.addr)
		c.login(tc.user)
		out := string(readAll(t, c.open("EPSV", "MLSD /")))
		c.expect(ftp.CodeTransferComplete)
		if !strings.Contains(out, "type=dir;") || !strings.Contains(out, tc.dir) {
			t.Errorf("%s: MLSD of / lacks %s:\n%s", tc.user, tc.dir, out)
		}
		if got := c.cmd(ftp.CodeFileActionOK, "MLST d/f"); !strings.Contains(got, tc.file) {
			t.Errorf("%s: MLST d/f lacks %s: %q", tc.user, tc.file, got)
		}
	}
}
