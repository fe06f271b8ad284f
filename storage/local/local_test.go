package local_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/storage"
	"github.com/ferry-ftp/ferry/storage/local"
	"github.com/ferry-ftp/ferry/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.FS { return newFS(t, t.TempDir()) })
}

func newFS(t testing.TB, dir string) *local.FS {
	t.Helper()
	fsys, err := local.New(dir)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { fsys.Close() })
	return fsys
}

func TestNewMissing(t *testing.T) {
	if _, err := local.New(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("New(missing) error = %v, want fs.ErrNotExist", err)
	}
	dir := t.TempDir()
	if fsys := newFS(t, dir); fsys.Root() != dir {
		t.Errorf("Root() = %q, want %q", fsys.Root(), dir)
	}
}

// TestOpenIsOSFile checks that a reader is an *os.File, which is what lets
// io.Copy to a TCP connection use sendfile.
func TestOpenIsOSFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := newFS(t, dir).Open(t.Context(), "f", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, ok := r.(*os.File)
	if !ok {
		t.Fatalf("Open returned %T, want *os.File", r)
	}
	if off, err := f.Seek(0, io.SeekCurrent); err != nil || off != 3 {
		t.Errorf("file offset = %d, %v; want 3", off, err)
	}
}

// TestUploadSplices copies a TCP connection into a WriteFile as the server
// does and checks, from the kernel's per-process I/O accounting, that the
// bytes did not pass through read(2): splice(2) moved them.
func TestUploadSplices(t *testing.T) {
	const size = 8 << 20
	dir := t.TempDir()
	fsys := newFS(t, dir)
	w, err := fsys.Create(t.Context(), "up", storage.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(io.ReaderFrom); !ok {
		t.Fatalf("%T does not implement io.ReaderFrom", w)
	}
	data := bytes.Repeat([]byte("ferry splice "), size/13)
	conn, sent := tcpSending(t, data)

	before := readSyscalls(t)
	n, err := io.Copy(w, conn)
	after := readSyscalls(t)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("io.Copy = %d, %v; want %d", n, err, len(data))
	}
	if err := <-sent; err != nil {
		t.Fatalf("sender: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "up"))
	if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("uploaded file differs (%d bytes, %v)", len(got), err)
	}
	// A read(2)-based copy needs at least size/32KiB = 256 reads; splice
	// needs none. The margin absorbs the runtime's own reads.
	t.Logf("%d read system calls for %d bytes", after-before, n)
	if d := after - before; d >= 64 {
		t.Errorf("io.Copy made %d read system calls for %d bytes: not spliced", d, n)
	}
}

// tcpSending returns the receiving end of a loopback TCP connection whose
// other end sends data and closes, and where the sender's error arrives.
func tcpSending(t *testing.T, data []byte) (*net.TCPConn, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sent := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		_, err = c.Write(data)
		sent <- err
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(time.Minute))
	return c.(*net.TCPConn), sent
}

// readSyscalls returns the process's count of read(2)-family calls.
func readSyscalls(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		testenv.Missing(t, "no per-process I/O accounting: "+err.Error())
	}
	for line := range strings.Lines(string(b)) {
		var n int64
		if _, err := fmt.Sscanf(line, "syscr: %d", &n); err == nil {
			return n
		}
	}
	t.Fatalf("no syscr in /proc/self/io: %q", b)
	return 0
}

func TestAbortKeepsData(t *testing.T) {
	dir := t.TempDir()
	fsys := newFS(t, dir)
	w, err := fsys.Create(t.Context(), "part", storage.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "part")); err != nil || string(got) != "partial" {
		t.Errorf("after Abort the file holds %q, %v; want %q", got, err, "partial")
	}
	if err := w.Close(); err == nil {
		t.Errorf("Close after Abort succeeded")
	}
}

// TestSymlinkEscape puts a link to a directory holding a secret, and one to
// the secret itself, inside the root: nothing may reach through them.
func TestSymlinkEscape(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, target := range map[string]string{"out": outside, "sec": secret, "rel": "../" + filepath.Base(outside)} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	fsys := newFS(t, dir)
	ctx := t.Context()
	for _, name := range []string{"sec", "out/secret", "rel/secret"} {
		if r, err := fsys.Open(ctx, name, 0); !errors.Is(err, fs.ErrPermission) {
			if err == nil {
				b, _ := io.ReadAll(r)
				r.Close()
				t.Errorf("Open(%q) read %q through a link out of the root", name, b)
				continue
			}
			t.Errorf("Open(%q) error = %v, want fs.ErrPermission", name, err)
		}
		for _, opts := range []storage.CreateOptions{{}, {Append: true}, {Exclusive: true}} {
			if w, err := fsys.Create(ctx, name, opts); err == nil {
				w.Write([]byte("overwritten"))
				w.Close()
				t.Errorf("Create(%q, %+v) wrote through a link out of the root", name, opts)
			}
		}
	}
	for _, name := range []string{"out", "rel"} {
		if d, err := fsys.ReadDir(ctx, name); err == nil {
			infos, err := d.Next(10)
			d.Close()
			t.Errorf("ReadDir(%q) listed %d entries (%v) outside the root", name, len(infos), err)
		}
		for _, op := range []struct {
			name string
			err  error
		}{
			{"Mkdir", fsys.Mkdir(ctx, name+"/new")},
			{"Remove", fsys.Remove(ctx, name+"/secret")},
			{"Rename", fsys.Rename(ctx, name+"/secret", "stolen")},
			{"Chmod", fsys.Chmod(ctx, name+"/secret", 0o777)},
			{"Chtimes", fsys.Chtimes(ctx, name+"/secret", time.Unix(0, 0))},
		} {
			if op.err == nil {
				t.Errorf("%s through %q succeeded", op.name, name)
			}
		}
	}
	// Stat describes the link itself, which is inside.
	if fi, err := fsys.Stat(ctx, "sec"); err != nil || fi.Mode().Type() != fs.ModeSymlink {
		t.Errorf("Stat(sec) = %v, %v; want the symbolic link", fi, err)
	}
	if got, err := os.ReadFile(secret); err != nil || string(got) != "secret" {
		t.Errorf("secret now holds %q, %v", got, err)
	}
	if entries, err := os.ReadDir(outside); err != nil || len(entries) != 1 {
		t.Errorf("outside directory now holds %d entries, %v; want 1", len(entries), err)
	}
	if fi, err := os.Stat(secret); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("secret mode now %v, %v", fi.Mode(), err)
	}
}

// TestSymlinkInside checks that links staying inside the root work.
func TestSymlinkInside(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", "f"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	r, err := newFS(t, dir).Open(t.Context(), "link/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, err := io.ReadAll(r); err != nil || string(b) != "inside" {
		t.Errorf("read %q, %v; want %q", b, err, "inside")
	}
}

// TestSpecialFiles checks that a FIFO can neither hang Open or Create nor
// be used as a file.
func TestSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		testenv.Missing(t, "mkfifo: "+err.Error())
	}
	fsys := newFS(t, dir)
	ctx := t.Context()
	if r, err := fsys.Open(ctx, "fifo", 0); !errors.Is(err, fs.ErrPermission) {
		if r != nil {
			r.Close()
		}
		t.Errorf("Open(fifo) error = %v, want fs.ErrPermission", err)
	}
	for _, opts := range []storage.CreateOptions{{}, {Append: true}, {Offset: 1}} {
		if w, err := fsys.Create(ctx, "fifo", opts); err == nil {
			w.Close()
			t.Errorf("Create(fifo, %+v) succeeded", opts)
		}
	}
	if err := fsys.Remove(ctx, "fifo/x"); !errors.Is(err, storage.ErrNotDir) {
		t.Errorf("Remove(fifo/x) error = %v, want storage.ErrNotDir", err)
	}
}

func TestRootCannotGo(t *testing.T) {
	fsys := newFS(t, t.TempDir())
	ctx := t.Context()
	for name, err := range map[string]error{
		"Remove":      fsys.Remove(ctx, "."),
		"RemoveDir":   fsys.RemoveDir(ctx, "."),
		"Rename from": fsys.Rename(ctx, ".", "x"),
		"Rename to":   fsys.Rename(ctx, "x", "."),
	} {
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("%s the root: error = %v, want fs.ErrInvalid", name, err)
		}
	}
}

func TestChmodDropsSpecialBits(t *testing.T) {
	dir := t.TempDir()
	fsys := newFS(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Chmod(t.Context(), "f", 0o4755|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o755 {
		t.Errorf("mode = %v, want -rwxr-xr-x", fi.Mode())
	}
}

// TestReadDirCanceled checks that Next stops once the ReadDir context ends.
func TestReadDirCanceled(t *testing.T) {
	dir := t.TempDir()
	for i := range 10 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	d, err := newFS(t, dir).ReadDir(ctx, ".")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if infos, err := d.Next(2); err != nil || len(infos) != 2 {
		t.Fatalf("Next(2) = %d entries, %v", len(infos), err)
	}
	cancel()
	if _, err := d.Next(2); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancel: error = %v, want context.Canceled", err)
	}
}

// TestDiskFull fills a 1 MiB tmpfs and expects storage.ErrNoSpace, both
// from Write and from the splice path of io.Copy.
func TestDiskFull(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		testenv.Missing(t, fmt.Sprintf("mount tmpfs: %v", err))
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	fsys, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	ctx := t.Context()

	w, err := fsys.Create(ctx, "by-write", storage.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for i := 0; ; i++ {
		if i == 64 { // 4 MiB into a 1 MiB file system
			t.Fatal("wrote 4 MiB to a 1 MiB tmpfs without an error")
		}
		if _, err = w.Write(chunk); err != nil {
			break
		}
	}
	w.Close()
	if !errors.Is(err, storage.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Write on a full disk: error = %v, want storage.ErrNoSpace and ENOSPC", err)
	}
	if n, err := fsys.Available(ctx, "."); err != nil || n != 0 {
		t.Errorf("Available on a full disk = %d, %v; want 0", n, err)
	}

	if err := fsys.Remove(ctx, "by-write"); err != nil {
		t.Fatal(err)
	}
	w, err = fsys.Create(ctx, "by-copy", storage.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	conn, sent := tcpSending(t, make([]byte, 4<<20))
	_, err = io.Copy(w, conn)
	conn.Close() // the sender may be blocked on a full socket buffer
	<-sent       // and fails now: the upload was refused
	if !errors.Is(err, storage.ErrNoSpace) {
		t.Errorf("io.Copy to a full disk: error = %v, want storage.ErrNoSpace", err)
	}
}

func BenchmarkReadDir(b *testing.B) {
	const entries = 20_000
	dir := b.TempDir()
	for i := range entries {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("file-%05d", i)))
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	fsys := newFS(b, dir)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := fsys.ReadDir(ctx, ".")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			infos, err := d.Next(1000)
			n += len(infos)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		d.Close()
		if n != entries {
			b.Fatalf("listed %d entries, want %d", n, entries)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*entries), "ns/entry")
}

func TestCreateOptionConflicts(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("0123"), 0o644); err != nil {
		t.Fatal(err)
	}
	fsys := newFS(t, dir)
	for _, opts := range []storage.CreateOptions{
		{Offset: 2, Append: true},
		{Offset: 2, Exclusive: true},
		{Offset: -1},
	} {
		if w, err := fsys.Create(t.Context(), "f", opts); !errors.Is(err, fs.ErrInvalid) {
			if w != nil {
				w.Close()
			}
			t.Errorf("Create(%+v) error = %v, want fs.ErrInvalid", opts, err)
		}
	}
	if got, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(got) != "0123" {
		t.Errorf("file holds %q, %v after refused Creates", got, err)
	}
}

func TestRenameKinds(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"d", "full", "empty"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"f", "full/x"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fsys := newFS(t, dir)
	ctx := t.Context()
	for _, tt := range []struct {
		from, to string
		want     error
	}{
		// As os.Rename, os.Root.Rename refuses any directory as the target.
		{"f", "d", fs.ErrExist},
		{"d", "full", fs.ErrExist},
		{"d", "empty", fs.ErrExist},
		{"d", "f", storage.ErrNotDir},
		{"d", "d/sub", fs.ErrInvalid}, // EINVAL: into itself
	} {
		if err := fsys.Rename(ctx, tt.from, tt.to); !errors.Is(err, tt.want) {
			t.Errorf("Rename(%q, %q) error = %v, want %v", tt.from, tt.to, err, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "d")); err != nil {
		t.Errorf("d after the refused renames: %v", err)
	}
}

// FuzzNames checks that whatever the name, Create either fails or writes
// the file at that name inside the root, and nothing appears beside it.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../x", "/abs", "a/../../b", "..", ".", "", "a\x00b", "x/../y", `a\b`, "...", "~"} {
		f.Add(s)
	}
	parent := f.TempDir()
	f.Fuzz(func(t *testing.T, name string) {
		root, err := os.MkdirTemp(parent, "root")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(root)
		if err := os.Mkdir(filepath.Join(root, "a"), 0o755); err != nil {
			t.Fatal(err)
		}
		fsys, err := local.New(root)
		if err != nil {
			t.Fatal(err)
		}
		defer fsys.Close()
		w, err := fsys.Create(t.Context(), name, storage.CreateOptions{})
		if err == nil {
			if !storage.ValidName(name) {
				t.Errorf("Create(%q) accepted a name that is not a storage name", name)
			}
			w.Write([]byte("fuzz"))
			w.Close()
			if b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name))); err != nil || string(b) != "fuzz" {
				t.Errorf("Create(%q) wrote elsewhere: %q, %v", name, b, err)
			}
		}
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Errorf("after Create(%q), %d entries beside the root", name, len(entries)-1)
		}
	})
}
