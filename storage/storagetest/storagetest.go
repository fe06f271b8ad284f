// Package storagetest is the conformance suite for storage backends: every
// implementation of storage.FS must pass Run, so that the server can rely
// on the same behaviour (and the same errors) from each.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/storage"
)

// Run runs the suite. newFS returns an empty FS for one subtest; it is
// called once per subtest, which may run in parallel with the others, and
// should register its own clean-up with t.Cleanup.
func Run(t *testing.T, newFS func(t *testing.T) storage.FS) {
	tests := []struct {
		name string
		fn   func(t *testing.T, fsys storage.FS)
	}{
		{"Stat", testStat},
		{"RoundTrip", testRoundTrip},
		{"CreateTruncates", testCreateTruncates},
		{"OffsetKeepsPrefix", testOffsetKeepsPrefix},
		{"OffsetPastEnd", testOffsetPastEnd},
		{"Append", testAppend},
		{"Exclusive", testExclusive},
		{"OpenOffset", testOpenOffset},
		{"OpenWrongKind", testOpenWrongKind},
		{"ReadDirStreams", testReadDirStreams},
		{"ReadDirEmpty", testReadDirEmpty},
		{"ReadDirErrors", testReadDirErrors},
		{"ReadDirNames", testReadDirNames},
		{"Remove", testRemove},
		{"RemoveDir", testRemoveDir},
		{"Mkdir", testMkdir},
		{"Rename", testRename},
		{"InvalidNames", testInvalidNames},
		{"NonUTF8Names", testNonUTF8Names},
		{"Canceled", testCanceled},
		{"Chmod", testChmod},
		{"Chtimes", testChtimes},
		{"Available", testAvailable},
		{"SweepTemps", testSweepTemps},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newFS(t))
		})
	}
}

func testStat(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	mkdir(t, fsys, "d")
	put(t, fsys, "d/f", []byte("hello"))

	fi, err := fsys.Stat(ctx, "d/f")
	if err != nil {
		t.Fatalf("Stat(file): %v", err)
	}
	if fi.Name() != "f" || fi.Size() != 5 || fi.IsDir() || !fi.Mode().IsRegular() {
		t.Errorf("Stat(file) = name %q size %d mode %v, want f, 5, regular", fi.Name(), fi.Size(), fi.Mode())
	}
	fi, err = fsys.Stat(ctx, "d")
	if err != nil {
		t.Fatalf("Stat(dir): %v", err)
	}
	if fi.Name() != "d" || !fi.IsDir() {
		t.Errorf("Stat(dir) = name %q mode %v, want d, directory", fi.Name(), fi.Mode())
	}
	if fi, err := fsys.Stat(ctx, "."); err != nil || !fi.IsDir() {
		t.Errorf("Stat(.) = %v, %v; want a directory", fi, err)
	}
	for _, name := range []string{"missing", "d/missing", "missing/f"} {
		if _, err := fsys.Stat(ctx, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%q) error = %v, want fs.ErrNotExist", name, err)
		}
	}
}

func testRoundTrip(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	data := randomBytes(3<<20 + 12345)
	w, err := fsys.Create(ctx, "big", storage.CreateOptions{})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	// Uneven chunks, so that a backend's buffering boundaries are crossed.
	for rest, i := data, 1; len(rest) > 0; i++ {
		n := min(len(rest), i*7919)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got := get(t, fsys, "big", 0)
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("read back %d bytes with another checksum than the %d written", len(got), len(data))
	}
	fi, err := fsys.Stat(ctx, "big")
	if err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("Stat = %v, %v; want size %d", fi, err, len(data))
	}
	put(t, fsys, "empty", nil)
	if got := get(t, fsys, "empty", 0); len(got) != 0 {
		t.Errorf("empty file reads %d bytes", len(got))
	}
}

func testCreateTruncates(t *testing.T, fsys storage.FS) {
	put(t, fsys, "f", []byte("a long first version"))
	put(t, fsys, "f", []byte("short"))
	expect(t, fsys, "f", "short")
}

func testOffsetKeepsPrefix(t *testing.T, fsys storage.FS) {
	put(t, fsys, "f", []byte("0123456789"))
	write(t, fsys, "f", []byte("ab"), storage.CreateOptions{Offset: 4})
	expect(t, fsys, "f", "0123ab")
	// Resuming at the exact end is the common case: REST <size>, STOR.
	write(t, fsys, "f", []byte("XYZ"), storage.CreateOptions{Offset: 6})
	expect(t, fsys, "f", "0123abXYZ")
}

func testOffsetPastEnd(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	put(t, fsys, "f", []byte("0123"))
	if w, err := fsys.Create(ctx, "f", storage.CreateOptions{Offset: 5}); !errors.Is(err, fs.ErrInvalid) {
		closeQuietly(w)
		t.Errorf("Create(Offset past end) error = %v, want fs.ErrInvalid", err)
	}
	if w, err := fsys.Create(ctx, "new", storage.CreateOptions{Offset: 1}); err == nil {
		closeQuietly(w)
		t.Errorf("Create(Offset on a missing file) succeeded")
	}
	expect(t, fsys, "f", "0123")
}

func testAppend(t *testing.T, fsys storage.FS) {
	write(t, fsys, "f", []byte("first"), storage.CreateOptions{Append: true})
	expect(t, fsys, "f", "first")
	write(t, fsys, "f", []byte("+second"), storage.CreateOptions{Append: true})
	expect(t, fsys, "f", "first+second")
}

func testExclusive(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	write(t, fsys, "f", []byte("one"), storage.CreateOptions{Exclusive: true})
	expect(t, fsys, "f", "one")
	if w, err := fsys.Create(ctx, "f", storage.CreateOptions{Exclusive: true}); !errors.Is(err, fs.ErrExist) {
		closeQuietly(w)
		t.Errorf("Create(Exclusive) of an existing file: error = %v, want fs.ErrExist", err)
	}
	mkdir(t, fsys, "d")
	if w, err := fsys.Create(ctx, "d", storage.CreateOptions{Exclusive: true}); !errors.Is(err, fs.ErrExist) {
		closeQuietly(w)
		t.Errorf("Create(Exclusive) of an existing directory: error = %v, want fs.ErrExist", err)
	}
	expect(t, fsys, "f", "one")
}

func testOpenOffset(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	data := randomBytes(100_000)
	put(t, fsys, "f", data)
	for _, off := range []int64{0, 1, 65_536, 99_999} {
		if got := get(t, fsys, "f", off); !bytes.Equal(got, data[off:]) {
			t.Errorf("Open(offset %d) read %d bytes, not the %d-byte tail", off, len(got), len(data[off:]))
		}
	}
	for _, off := range []int64{100_000, 100_001, 1 << 40} {
		if got := get(t, fsys, "f", off); len(got) != 0 {
			t.Errorf("Open(offset %d) of a 100000-byte file read %d bytes, want none", off, len(got))
		}
	}
	if r, err := fsys.Open(ctx, "f", -1); !errors.Is(err, fs.ErrInvalid) {
		closeQuietly(r)
		t.Errorf("Open(offset -1) error = %v, want fs.ErrInvalid", err)
	}
}

func testOpenWrongKind(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	mkdir(t, fsys, "d")
	if r, err := fsys.Open(ctx, "d", 0); !errors.Is(err, storage.ErrIsDir) {
		closeQuietly(r)
		t.Errorf("Open(dir) error = %v, want storage.ErrIsDir", err)
	}
	if r, err := fsys.Open(ctx, "missing", 0); !errors.Is(err, fs.ErrNotExist) {
		closeQuietly(r)
		t.Errorf("Open(missing) error = %v, want fs.ErrNotExist", err)
	}
	if w, err := fsys.Create(ctx, "d", storage.CreateOptions{}); !errors.Is(err, storage.ErrIsDir) {
		closeQuietly(w)
		t.Errorf("Create(dir) error = %v, want storage.ErrIsDir", err)
	}
	if w, err := fsys.Create(ctx, "missing/f", storage.CreateOptions{}); !errors.Is(err, fs.ErrNotExist) {
		closeQuietly(w)
		t.Errorf("Create(missing/f) error = %v, want fs.ErrNotExist", err)
	}
}

func testReadDirStreams(t *testing.T, fsys storage.FS) {
	const entries, batch = 3000, 100
	mkdir(t, fsys, "big")
	want := make(map[string]bool, entries)
	for i := range entries {
		name := fmt.Sprintf("entry-%04d", i)
		want[name] = i%500 == 0 // a few directories among the files
		if want[name] {
			mkdir(t, fsys, "big/"+name)
		} else {
			put(t, fsys, "big/"+name, []byte(name))
		}
	}
	seen := make(map[string]bool, entries)
	d, err := fsys.ReadDir(t.Context(), "big")
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	defer d.Close()
	for calls := 0; ; calls++ {
		if calls > entries+1 {
			t.Fatalf("Next(%d) still returning after %d calls", batch, calls)
		}
		infos, err := d.Next(batch)
		if len(infos) > batch {
			t.Fatalf("Next(%d) returned %d entries", batch, len(infos))
		}
		for _, fi := range infos {
			isDir, ok := want[fi.Name()]
			switch {
			case !ok:
				t.Fatalf("Next returned unexpected entry %q", fi.Name())
			case seen[fi.Name()]:
				t.Fatalf("Next returned %q twice", fi.Name())
			case fi.IsDir() != isDir:
				t.Errorf("entry %q: IsDir = %t, want %t", fi.Name(), fi.IsDir(), isDir)
			case !isDir && fi.Size() != int64(len(fi.Name())):
				t.Errorf("entry %q: size %d, want %d", fi.Name(), fi.Size(), len(fi.Name()))
			}
			seen[fi.Name()] = true
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
	}
	if len(seen) != entries {
		t.Fatalf("listed %d entries, want %d", len(seen), entries)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// testReadDirNames checks a backend's optional NameReader: the same names
// as Next gives, in batches of at most n, then io.EOF.
func testReadDirNames(t *testing.T, fsys storage.FS) {
	mkdir(t, fsys, "d")
	mkdir(t, fsys, "d/sub")
	want := []string{".hidden", "sub"}
	for i := range 40 {
		name := fmt.Sprintf("f%02d", i)
		put(t, fsys, "d/"+name, []byte(name))
		want = append(want, name)
	}
	put(t, fsys, "d/.hidden", nil)
	slices.Sort(want)
	if got := list(t, fsys, "d"); !slices.Equal(got, want) {
		t.Fatalf("Next lists %q, want %q", got, want)
	}
	d, err := fsys.ReadDir(t.Context(), "d")
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	defer d.Close()
	nr, ok := d.(storage.NameReader)
	if !ok {
		t.Skip("this backend lists no names without stat'ing them (storage.NameReader)")
	}
	var got []string
	for range 1000 {
		names, err := nr.NextNames(7)
		if len(names) > 7 {
			t.Fatalf("NextNames(7) returned %d names", len(names))
		}
		got = append(got, names...)
		if err == io.EOF {
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("NextNames lists %q, want %q", got, want)
			}
			return
		}
		if err != nil {
			t.Fatalf("NextNames: %v", err)
		}
	}
	t.Fatal("NextNames never reached io.EOF")
}

func testReadDirEmpty(t *testing.T, fsys storage.FS) {
	mkdir(t, fsys, "empty")
	if got := list(t, fsys, "empty"); len(got) != 0 {
		t.Errorf("empty directory lists %q", got)
	}
	mkdir(t, fsys, "empty/sub")
	put(t, fsys, "f", nil)
	if got, want := list(t, fsys, "."), []string{"empty", "f"}; !slices.Equal(got, want) {
		t.Errorf("root lists %q, want %q", got, want)
	}
}

func testReadDirErrors(t *testing.T, fsys storage.FS) {
	put(t, fsys, "f", []byte("x"))
	if err := readDirErr(t, fsys, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir(missing) error = %v, want fs.ErrNotExist", err)
	}
	if err := readDirErr(t, fsys, "f"); !errors.Is(err, storage.ErrNotDir) {
		t.Errorf("ReadDir(file) error = %v, want storage.ErrNotDir", err)
	}
}

func testRemove(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	put(t, fsys, "f", []byte("x"))
	mkdir(t, fsys, "d")
	if err := fsys.Remove(ctx, "f"); err != nil {
		t.Fatalf("Remove(file): %v", err)
	}
	if _, err := fsys.Stat(ctx, "f"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat after Remove: error = %v, want fs.ErrNotExist", err)
	}
	if err := fsys.Remove(ctx, "f"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove(missing) error = %v, want fs.ErrNotExist", err)
	}
	if err := fsys.Remove(ctx, "d"); !errors.Is(err, storage.ErrIsDir) {
		t.Errorf("Remove(dir) error = %v, want storage.ErrIsDir", err)
	}
	if _, err := fsys.Stat(ctx, "d"); err != nil {
		t.Errorf("directory gone after a refused Remove: %v", err)
	}
}

func testRemoveDir(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	mkdir(t, fsys, "empty")
	mkdir(t, fsys, "full")
	put(t, fsys, "full/f", []byte("x"))
	put(t, fsys, "f", []byte("x"))
	if err := fsys.RemoveDir(ctx, "full"); !errors.Is(err, storage.ErrNotEmpty) {
		t.Errorf("RemoveDir(non-empty) error = %v, want storage.ErrNotEmpty", err)
	}
	if err := fsys.RemoveDir(ctx, "f"); !errors.Is(err, storage.ErrNotDir) {
		t.Errorf("RemoveDir(file) error = %v, want storage.ErrNotDir", err)
	}
	if err := fsys.RemoveDir(ctx, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("RemoveDir(missing) error = %v, want fs.ErrNotExist", err)
	}
	if err := fsys.RemoveDir(ctx, "empty"); err != nil {
		t.Errorf("RemoveDir(empty): %v", err)
	}
	if got, want := list(t, fsys, "."), []string{"f", "full"}; !slices.Equal(got, want) {
		t.Errorf("after RemoveDir the root lists %q, want %q", got, want)
	}
	expect(t, fsys, "full/f", "x")
}

func testMkdir(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	mkdir(t, fsys, "d")
	mkdir(t, fsys, "d/e")
	put(t, fsys, "f", nil)
	for _, name := range []string{"d", "d/e", "f"} {
		if err := fsys.Mkdir(ctx, name); !errors.Is(err, fs.ErrExist) {
			t.Errorf("Mkdir(%q) of an existing name: error = %v, want fs.ErrExist", name, err)
		}
	}
	if err := fsys.Mkdir(ctx, "missing/e"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Mkdir(missing/e) error = %v, want fs.ErrNotExist", err)
	}
	if fi, err := fsys.Stat(ctx, "d/e"); err != nil || !fi.IsDir() {
		t.Errorf("Stat(d/e) = %v, %v; want a directory", fi, err)
	}
}

func testRename(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	put(t, fsys, "a", []byte("A"))
	mkdir(t, fsys, "d")
	put(t, fsys, "d/inner", []byte("I"))

	if err := fsys.Rename(ctx, "a", "d/b"); err != nil {
		t.Fatalf("Rename(file): %v", err)
	}
	expect(t, fsys, "d/b", "A")
	if _, err := fsys.Stat(ctx, "a"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old name still there after Rename: %v", err)
	}

	if err := fsys.Rename(ctx, "d", "e"); err != nil {
		t.Fatalf("Rename(dir): %v", err)
	}
	expect(t, fsys, "e/inner", "I")
	expect(t, fsys, "e/b", "A")

	put(t, fsys, "new", []byte("new"))
	if err := fsys.Rename(ctx, "new", "e/b"); err != nil {
		t.Fatalf("Rename over a file: %v", err)
	}
	expect(t, fsys, "e/b", "new")

	if err := fsys.Rename(ctx, "missing", "x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rename(missing) error = %v, want fs.ErrNotExist", err)
	}
	if err := fsys.Rename(ctx, "e/b", "missing/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rename into a missing directory: error = %v, want fs.ErrNotExist", err)
	}
	if got, want := list(t, fsys, "."), []string{"e"}; !slices.Equal(got, want) {
		t.Errorf("root lists %q, want %q", got, want)
	}
}

var invalidNames = []string{"../x", "/abs", "a/../../b", "..", "", "a//b", "a/", "./a", "a\x00b"}

// testNonUTF8Names: FTP names are bytes; a Latin-1 name must round-trip.
func testNonUTF8Names(t *testing.T, fsys storage.FS) {
	name := "caf\xe9"
	put(t, fsys, name, []byte("latin1"))
	expect(t, fsys, name, "latin1")
	if got := list(t, fsys, "."); !slices.Contains(got, name) {
		t.Errorf("root lists %q, want it to hold %q", got, name)
	}
}

func testInvalidNames(t *testing.T, fsys storage.FS) {
	ctx := t.Context()
	put(t, fsys, "ok", []byte("x"))
	for _, name := range invalidNames {
		for op, err := range calls(ctx, fsys, name) {
			if !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("%s(%q) error = %v, want fs.ErrInvalid", op, name, err)
			}
		}
		if err := fsys.Rename(ctx, "ok", name); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Rename(ok, %q) error = %v, want fs.ErrInvalid", name, err)
		}
	}
	expect(t, fsys, "ok", "x")
}

func testCanceled(t *testing.T, fsys storage.FS) {
	put(t, fsys, "f", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for op, err := range calls(ctx, fsys, "f") {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error = %v, want context.Canceled", op, err)
		}
	}
	expect(t, fsys, "f", "x")
}

// calls calls every method of fsys (optional ones included when fsys has
// them) on name, closing what they open, and yields each one's error.
func calls(ctx context.Context, fsys storage.FS, name string) func(yield func(string, error) bool) {
	return func(yield func(string, error) bool) {
		_, err := fsys.Stat(ctx, name)
		if !yield("Stat", err) {
			return
		}
		d, err := fsys.ReadDir(ctx, name)
		closeQuietly(d)
		if !yield("ReadDir", err) {
			return
		}
		r, err := fsys.Open(ctx, name, 0)
		closeQuietly(r)
		if !yield("Open", err) {
			return
		}
		for _, opts := range []storage.CreateOptions{{}, {Append: true}, {Exclusive: true}, {Offset: 1}} {
			w, err := fsys.Create(ctx, name, opts)
			closeQuietly(w)
			if !yield(fmt.Sprintf("Create(%+v)", opts), err) {
				return
			}
		}
		if !yield("Remove", fsys.Remove(ctx, name)) ||
			!yield("Mkdir", fsys.Mkdir(ctx, name)) ||
			!yield("RemoveDir", fsys.RemoveDir(ctx, name)) ||
			!yield("Rename", fsys.Rename(ctx, name, "renamed")) {
			return
		}
		if c, ok := fsys.(storage.Chmoder); ok && !yield("Chmod", c.Chmod(ctx, name, 0o600)) {
			return
		}
		if c, ok := fsys.(storage.Chtimeser); ok && !yield("Chtimes", c.Chtimes(ctx, name, time.Unix(1e9, 0))) {
			return
		}
		if s, ok := fsys.(storage.Spacer); ok {
			_, err := s.Available(ctx, name)
			yield("Available", err)
		}
	}
}

func testChmod(t *testing.T, fsys storage.FS) {
	c, ok := fsys.(storage.Chmoder)
	if !ok {
		t.Skip("backend does not implement storage.Chmoder")
	}
	ctx := t.Context()
	put(t, fsys, "f", []byte("x"))
	mkdir(t, fsys, "d")
	for _, tc := range []struct {
		name string
		mode fs.FileMode
	}{{"f", 0o600}, {"f", 0o751}, {"d", 0o700}, {"d", 0o755}} {
		if err := c.Chmod(ctx, tc.name, tc.mode); err != nil {
			t.Fatalf("Chmod(%q, %v): %v", tc.name, tc.mode, err)
		}
		fi, err := fsys.Stat(ctx, tc.name)
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if got := fi.Mode().Perm(); got != tc.mode {
			t.Errorf("after Chmod(%q, %v) Stat reports %v", tc.name, tc.mode, got)
		}
	}
	if err := c.Chmod(ctx, "missing", 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Chmod(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func testChtimes(t *testing.T, fsys storage.FS) {
	c, ok := fsys.(storage.Chtimeser)
	if !ok {
		t.Skip("backend does not implement storage.Chtimeser")
	}
	ctx := t.Context()
	put(t, fsys, "f", []byte("x"))
	// Whole seconds: MFMT carries no more, and some backends keep no more.
	for _, want := range []time.Time{time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC), time.Unix(1_700_000_000, 0)} {
		if err := c.Chtimes(ctx, "f", want); err != nil {
			t.Fatalf("Chtimes: %v", err)
		}
		fi, err := fsys.Stat(ctx, "f")
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if !fi.ModTime().Equal(want) {
			t.Errorf("after Chtimes(%v) Stat reports %v", want, fi.ModTime())
		}
	}
	if err := c.Chtimes(ctx, "missing", time.Unix(1e9, 0)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Chtimes(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func testAvailable(t *testing.T, fsys storage.FS) {
	s, ok := fsys.(storage.Spacer)
	if !ok {
		t.Skip("backend does not implement storage.Spacer")
	}
	mkdir(t, fsys, "d")
	for _, name := range []string{".", "d"} {
		n, err := s.Available(t.Context(), name)
		if err != nil {
			t.Fatalf("Available(%q): %v", name, err)
		}
		if n <= 0 {
			t.Errorf("Available(%q) = %d, want > 0", name, n)
		}
	}
}

// testSweepTemps checks a backend's optional TempSweeper: temporaries
// anywhere in the tree go, and nothing else does.
func testSweepTemps(t *testing.T, fsys storage.FS) {
	s, ok := fsys.(storage.TempSweeper)
	if !ok {
		t.Skip("backend does not implement storage.TempSweeper")
	}
	ctx := t.Context()
	const p = storage.UploadTempPrefix
	mkdir(t, fsys, "a")
	mkdir(t, fsys, "a/b")
	mkdir(t, fsys, p+"dir") // a directory named like a temporary is not one
	temps := []string{p + "1", "a/" + p + "2", "a/b/" + p + "3"}
	keep := []string{"a/keep", "a/b/keep" + p, "x-" + p + "4", p + "dir/inside"}
	for _, name := range slices.Concat(temps, keep) {
		put(t, fsys, name, []byte(name))
	}
	exists := func(name string) bool {
		t.Helper()
		_, err := fsys.Stat(ctx, name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Stat(%q): %v", name, err)
		}
		return err == nil
	}

	// Just written, so younger than an hour: nothing goes.
	if n, err := s.SweepTemps(ctx, p, time.Hour); err != nil || n != 0 {
		t.Errorf("SweepTemps(an hour) of new files = %d, %v; want 0, nil", n, err)
	}
	if c, ok := fsys.(storage.Chtimeser); ok {
		old := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
		if err := c.Chtimes(ctx, temps[1], old); err != nil {
			t.Fatalf("Chtimes: %v", err)
		}
		if n, err := s.SweepTemps(ctx, p, time.Hour); err != nil || n != 1 || exists(temps[1]) {
			t.Errorf("SweepTemps(an hour) with %q two hours old = %d, %v; want it alone removed", temps[1], n, err)
		}
		temps = slices.Delete(temps, 1, 2)
	}
	if n, err := s.SweepTemps(ctx, p, 0); err != nil || n != len(temps) {
		t.Errorf("SweepTemps(0) = %d, %v; want %d, nil", n, err, len(temps))
	}
	for _, name := range temps {
		if exists(name) {
			t.Errorf("temporary %q not removed", name)
		}
	}
	for _, name := range keep {
		if !exists(name) {
			t.Errorf("%q removed", name)
		}
	}

	for _, bad := range []string{"", "a/b", "a\x00"} {
		if _, err := s.SweepTemps(ctx, bad, 0); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("SweepTemps(prefix %q) error = %v, want fs.ErrInvalid", bad, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.SweepTemps(cctx, p, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("SweepTemps with a cancelled context: error = %v, want context.Canceled", err)
	}
}
