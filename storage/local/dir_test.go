//go:build linux

package local_test

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadDirMatchesLstat checks that every entry a listing returns
// describes the file as os.Lstat does (name, size, mode bits, time, kind
// and the Stat_t behind Sys), for every kind of file and through batch
// sizes that split the directory differently, and that the entries of
// earlier batches stay intact once later ones are read.
func TestReadDirMatchesLstat(t *testing.T) {
	// More than one CPU's worth, so that large batches are stat'ed by
	// several goroutines even on a one-CPU machine.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	dir := t.TempDir()
	mustDo := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 700 {
		mustDo(os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%03d", i)), make([]byte, i), 0o644))
	}
	special := map[string]func(p string) error{
		"dir":             func(p string) error { return os.Mkdir(p, 0o755) },
		"sticky dir":      func(p string) error { return mkdirMode(p, 0o777|fs.ModeSticky) },
		"setuid file":     func(p string) error { return writeMode(p, 0o755|fs.ModeSetuid) },
		"setgid file":     func(p string) error { return writeMode(p, 0o750|fs.ModeSetgid) },
		"private":         func(p string) error { return writeMode(p, 0o600) },
		"link":            func(p string) error { return os.Symlink("file-001", p) },
		"dangling link":   func(p string) error { return os.Symlink("nowhere", p) },
		"link out":        func(p string) error { return os.Symlink("../../../../etc/passwd", p) },
		"fifo":            func(p string) error { return syscall.Mkfifo(p, 0o644) },
		"with\r\nnewline": func(p string) error { return os.WriteFile(p, []byte("x"), 0o644) },
		"latin1 caf\xe9":  func(p string) error { return os.WriteFile(p, []byte("xy"), 0o644) },
		strings.Repeat("n", 255): func(p string) error {
			return os.WriteFile(p, nil, 0o644)
		},
		"old": func(p string) error {
			return touch(p, time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC))
		},
		"future": func(p string) error {
			return touch(p, time.Date(2100, 1, 1, 0, 0, 0, 123456789, time.UTC))
		},
	}
	for name, create := range special {
		mustDo(create(filepath.Join(dir, name)))
	}
	fsys := newFS(t, dir)
	for _, batch := range []int{1, 7, 100, 130, 512, 4096} {
		d, err := fsys.ReadDir(t.Context(), ".")
		if err != nil {
			t.Fatal(err)
		}
		var all []fs.FileInfo
		for calls := 0; ; calls++ {
			if calls > 1000 {
				t.Fatalf("Next(%d) still returning after %d calls", batch, calls)
			}
			infos, err := d.Next(batch)
			if len(infos) > batch {
				t.Fatalf("Next(%d) returned %d entries", batch, len(infos))
			}
			all = append(all, infos...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next(%d): %v", batch, err)
			}
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if want := 700 + len(special); len(all) != want {
			t.Errorf("Next(%d) listed %d entries, want %d", batch, len(all), want)
		}
		seen := map[string]bool{}
		for _, fi := range all {
			if seen[fi.Name()] {
				t.Errorf("Next(%d) listed %q twice", batch, fi.Name())
			}
			seen[fi.Name()] = true
			sameAsLstat(t, filepath.Join(dir, fi.Name()), fi)
		}
	}
}

func sameAsLstat(t *testing.T, path string, got fs.FileInfo) {
	t.Helper()
	want, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name() != want.Name() || got.Size() != want.Size() || got.Mode() != want.Mode() ||
		!got.ModTime().Equal(want.ModTime()) || got.IsDir() != want.IsDir() {
		t.Errorf("%q: got name %q size %d mode %v time %v dir %t; os.Lstat says %q %d %v %v %t",
			path, got.Name(), got.Size(), got.Mode(), got.ModTime(), got.IsDir(),
			want.Name(), want.Size(), want.Mode(), want.ModTime(), want.IsDir())
	}
	gs, ok := got.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("%q: Sys() is %T, want *syscall.Stat_t", path, got.Sys())
	}
	if ws := want.Sys().(*syscall.Stat_t); gs.Dev != ws.Dev || gs.Ino != ws.Ino || gs.Mode != ws.Mode ||
		gs.Nlink != ws.Nlink || gs.Uid != ws.Uid || gs.Gid != ws.Gid || gs.Mtim != ws.Mtim {
		t.Errorf("%q: Stat_t %+v, os.Lstat's %+v", path, *gs, *ws)
	}
}

// TestReadDirVanished checks that an entry removed after the directory
// was read but before it was stat'ed is left out, not an error.
func TestReadDirVanished(t *testing.T) {
	dir := t.TempDir()
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := newFS(t, dir).ReadDir(t.Context(), ".")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// The first Next reads the whole (small) directory from the kernel
	// and stats one entry; the rest go before they are stat'ed.
	first, err := d.Next(1)
	if err != nil || len(first) != 1 {
		t.Fatalf("Next(1) = %d entries, %v", len(first), err)
	}
	kept := first[0].Name()
	removed := 0
	for i := range 20 {
		if name := fmt.Sprint(i); name != kept && i%2 == 0 {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			removed++
		}
	}
	var rest []string
	for {
		infos, err := d.Next(100)
		for _, fi := range infos {
			rest = append(rest, fi.Name())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next after removals: %v", err)
		}
	}
	for _, name := range rest {
		var i int
		if _, err := fmt.Sscan(name, &i); err != nil || i%2 == 0 {
			t.Errorf("removed entry %q listed", name)
		}
	}
	if want := 20 - 1 - removed; len(rest) != want {
		t.Errorf("listed %d entries after the first, want %d", len(rest), want)
	}
}

func mkdirMode(p string, mode fs.FileMode) error {
	if err := os.Mkdir(p, 0o700); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

func writeMode(p string, mode fs.FileMode) error {
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o600); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

func touch(p string, mtime time.Time) error {
	if err := os.WriteFile(p, []byte("t"), 0o644); err != nil {
		return err
	}
	return os.Chtimes(p, mtime, mtime)
}
