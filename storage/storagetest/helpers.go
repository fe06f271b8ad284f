package storagetest

import (
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ferry-ftp/ferry/storage"
)

// put writes data to name, replacing it.
func put(t *testing.T, fsys storage.FS, name string, data []byte) {
	t.Helper()
	write(t, fsys, name, data, storage.CreateOptions{})
}

// write writes data to name as opts says.
func write(t *testing.T, fsys storage.FS, name string, data []byte, opts storage.CreateOptions) {
	t.Helper()
	w, err := fsys.Create(t.Context(), name, opts)
	if err != nil {
		t.Fatalf("Create(%q, %+v): %v", name, opts, err)
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		t.Fatalf("Write(%q): %v", name, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close(%q): %v", name, err)
	}
}

// get reads name from offset to the end.
func get(t *testing.T, fsys storage.FS, name string, offset int64) []byte {
	t.Helper()
	r, err := fsys.Open(t.Context(), name, offset)
	if err != nil {
		t.Fatalf("Open(%q, %d): %v", name, offset, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return data
}

// expect checks that name holds want.
func expect(t *testing.T, fsys storage.FS, name, want string) {
	t.Helper()
	if got := get(t, fsys, name, 0); string(got) != want {
		t.Errorf("%q holds %q, want %q", name, got, want)
	}
}

func mkdir(t *testing.T, fsys storage.FS, name string) {
	t.Helper()
	if err := fsys.Mkdir(t.Context(), name); err != nil {
		t.Fatalf("Mkdir(%q): %v", name, err)
	}
}

// list returns the sorted names in dir, read in small batches.
func list(t *testing.T, fsys storage.FS, dir string) []string {
	t.Helper()
	d, err := fsys.ReadDir(t.Context(), dir)
	if err != nil {
		t.Fatalf("ReadDir(%q): %v", dir, err)
	}
	defer d.Close()
	var names []string
	for range 10_000 {
		infos, err := d.Next(7)
		for _, fi := range infos {
			names = append(names, fi.Name())
		}
		if err == io.EOF {
			slices.Sort(names)
			return names
		}
		if err != nil {
			t.Fatalf("Next in %q: %v", dir, err)
		}
	}
	t.Fatalf("ReadDir(%q) never reached io.EOF", dir)
	return nil
}

// readDirErr returns the error of listing dir, from ReadDir or, for a
// backend that finds out late, from the first Next.
func readDirErr(t *testing.T, fsys storage.FS, dir string) error {
	t.Helper()
	d, err := fsys.ReadDir(t.Context(), dir)
	if err != nil {
		return err
	}
	defer d.Close()
	infos, err := d.Next(10)
	if errors.Is(err, io.EOF) {
		t.Errorf("ReadDir(%q) listed %d entries and io.EOF, want an error", dir, len(infos))
	}
	return err
}

// randomBytes returns n bytes from a fixed seed, so that failures repeat.
func randomBytes(n int) []byte {
	r := rand.NewChaCha8([32]byte{'f', 'e', 'r', 'r', 'y'})
	b := make([]byte, n)
	r.Read(b)
	return b
}

// closeQuietly closes what a call that should have failed opened anyway.
func closeQuietly(c io.Closer) {
	if c == nil {
		return
	}
	if w, ok := c.(storage.WriteFile); ok {
		w.Abort()
		return
	}
	c.Close()
}
