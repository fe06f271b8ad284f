package server_test

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
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/server"
	"github.com/ferry-ftp/ferry/storage"
)

func TestNonUTF8Names(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	name := "caf\xe9 latin1.txt"
	dc := c.Open("EPSV", "STOR "+name)
	ftptest.WriteAll(t, dc, []byte("bytes"))
	c.Expect(ftp.CodeTransferComplete)
	if got := string(ts.ReadFile(t, name)); got != "bytes" {
		t.Fatalf("stored %q", got)
	}
	dc = c.Open("EPSV", "NLST")
	if got := string(ftptest.ReadAll(t, dc)); got != name+"\r\n" {
		t.Fatalf("NLST %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
	c.Want(ftp.CodeFileStatus, "SIZE "+name)
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

func (a hugeAuth) Authenticate(context.Context, server.LoginRequest) (*server.User, error) {
	return &server.User{Name: "big", FS: hugeFS{n: a.n}, Perms: server.PermReadOnly}, nil
}

// A directory of a million entries streams: every line arrives, and the
// server's heap does not grow with the directory.
func TestMillionEntryListingStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("streams a million lines")
	}
	const n = 1_000_000
	ts := ftptest.NewServer(t, func(c *server.Config) { c.Auth = hugeAuth{n: n}; c.Logger = nil })
	c := ts.Dial(t)
	c.Login("big", ftptest.Password)
	for _, verb := range []string{"LIST", "MLSD", "NLST"} {
		dc := c.Open("EPSV", verb)
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
		c.Expect(ftp.CodeTransferComplete)
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
	ts := ftptest.NewServer(t)
	const size = 5 << 30
	ts.WriteFile(t, "huge", nil)
	f, err := os.OpenFile(filepath.Join(ts.Root, "huge"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("the end"), size-7); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	if got := c.Want(ftp.CodeFileStatus, "SIZE huge"); got != strconv.Itoa(size) {
		t.Fatalf("SIZE %s", got)
	}
	c.Want(ftp.CodeFilePending, "REST "+strconv.Itoa(size-7))
	if got := string(ftptest.ReadAll(t, c.Open("EPSV", "RETR huge"))); got != "the end" {
		t.Fatalf("tail %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
	// Resume an upload past 4 GiB.
	c.Want(ftp.CodeFilePending, "REST "+strconv.Itoa(size))
	ftptest.WriteAll(t, c.Open("EPSV", "STOR huge"), []byte("!"))
	c.Expect(ftp.CodeTransferComplete)
	if got := c.Want(ftp.CodeFileStatus, "SIZE huge"); got != strconv.Itoa(size+1) {
		t.Fatalf("SIZE after append %s", got)
	}
}

// The MLSx perm fact says what this user may do (RFC 3659 7.5.5).
func TestPermFact(t *testing.T) {
	ts := ftptest.NewServer(t)
	ts.WriteFile(t, "d/f", []byte("x"))
	for _, tc := range []struct{ user, file, dir string }{
		{ftptest.User, "perm=adfrw;", "perm=cdeflmp;"},
		{ftptest.ReadOnlyUser, "perm=r;", "perm=el;"},
	} {
		c := ts.Dial(t)
		c.Login(tc.user, ftptest.Password)
		out := string(ftptest.ReadAll(t, c.Open("EPSV", "MLSD /")))
		c.Expect(ftp.CodeTransferComplete)
		if !strings.Contains(out, "type=dir;") || !strings.Contains(out, tc.dir) {
			t.Errorf("%s: MLSD of / lacks %s:\n%s", tc.user, tc.dir, out)
		}
		if got := c.Want(ftp.CodeFileActionOK, "MLST d/f"); !strings.Contains(got, tc.file) {
			t.Errorf("%s: MLST d/f lacks %s: %q", tc.user, tc.file, got)
		}
	}
}
