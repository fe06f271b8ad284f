package local_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/storage"
)

// TestSweepTemps checks what the conformance suite cannot build through
// storage.FS: files aged on disk, a directory named like a temporary, and
// a link out of the root.
func TestSweepTemps(t *testing.T) {
	const prefix = storage.UploadTempPrefix
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	files := map[string]bool{ // name: should be removed
		prefix + "1":              true,
		"a/" + prefix + "2":       true,
		"a/b/c/" + prefix + "3":   true,
		"a/" + prefix + "fresh":   false, // too recent
		"a/keep":                  false,
		"a/b/keep" + prefix:       false,
		"x-" + prefix + "4":       false,
		prefix + "dir/inside-old": false, // a directory with the prefix is not a temporary
	}
	for name, stale := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		if stale || !strings.HasSuffix(name, "fresh") {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A link to a directory outside the root that holds a stale
	// temporary, and a link named like a temporary to one: the walk
	// follows neither and removes neither.
	outside := filepath.Join(t.TempDir(), prefix+"outside")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(outside, old, old)
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(dir, "a", "linkdir")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, prefix+"link")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}

	fsys := newFS(t, dir)
	n, err := fsys.SweepTemps(t.Context(), prefix, time.Hour)
	if err != nil {
		t.Fatalf("SweepTemps: %v", err)
	}
	want := 0
	for name, stale := range files {
		_, err := os.Lstat(filepath.Join(dir, name))
		switch {
		case stale && err == nil:
			t.Errorf("%q not removed", name)
		case stale:
			want++
		case err != nil:
			t.Errorf("%q removed: %v", name, err)
		}
	}
	if n != want {
		t.Errorf("SweepTemps = %d, want %d", n, want)
	}
	// Again with no age limit: the fresh temporary goes too, the link
	// (however new, so tried only now) stays.
	if n, err := fsys.SweepTemps(t.Context(), prefix, 0); err != nil || n != 1 {
		t.Errorf("SweepTemps(olderThan 0) = %d, %v; want the 1 fresh temporary", n, err)
	}
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("link named like a temporary removed: %v", err)
	}
	if _, err := os.Lstat(outside); err != nil {
		t.Errorf("file outside the root removed: %v", err)
	}

	for _, bad := range []string{"", "a/b"} {
		if _, err := fsys.SweepTemps(t.Context(), bad, time.Hour); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("SweepTemps(%q) error = %v, want fs.ErrInvalid", bad, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := fsys.SweepTemps(ctx, prefix, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("SweepTemps with a cancelled context: error = %v, want context.Canceled", err)
	}
}
