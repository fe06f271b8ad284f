package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makeTree writes files (slash paths to contents) under root.
func makeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, body)
	}
}

// checkTree fails unless root holds exactly files.
func checkTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	got := map[string]string{}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		got[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if len(got) != len(files) {
		t.Errorf("%s holds %d files, want %d: %v", root, len(got), len(files), keys(got))
	}
	for name, body := range files {
		if got[name] != body {
			t.Errorf("%s/%s = %q, want %q", root, name, got[name], body)
		}
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// transferred counts the per-file lines of a mirror's output.
func transferred(out string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "/s") && !strings.HasPrefix(l, "mirror:") {
			n++
		}
	}
	return n
}

var mirrorFiles = map[string]string{
	"a.txt":         "alpha",
	"sub/b.txt":     "bravo",
	"sub/deep/c.md": "charlie",
	"empty":         "",
}

func TestMirrorUpAndDown(t *testing.T) {
	for _, jobs := range []string{"1", "4"} {
		t.Run("j"+jobs, func(t *testing.T) {
			srv := startFTP(t, false)
			src := t.TempDir()
			makeTree(t, src, mirrorFiles)
			old := time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)
			os.Chtimes(filepath.Join(src, "a.txt"), old, old)

			// Up, twice: the second run transfers nothing.
			out := mustFerry(t, "mirror", "-j", jobs, src, srv.url("site"))
			if n := transferred(out); n != 4 || !strings.Contains(out, "mirror: 4 transferred") {
				t.Errorf("first mirror up: %d transfers\n%s", n, out)
			}
			checkTree(t, filepath.Join(srv.root, "site"), mirrorFiles)
			if fi, err := os.Stat(filepath.Join(srv.root, "site", "a.txt")); err != nil || !fi.ModTime().Equal(old) {
				t.Errorf("remote mtime not set: %v %v", fi.ModTime(), err)
			}
			out = mustFerry(t, "mirror", "-j", jobs, src, srv.url("site"))
			if n := transferred(out); n != 0 || !strings.Contains(out, "mirror: 0 transferred (0 B), 4 up to date") {
				t.Errorf("second mirror up: %d transfers\n%s", n, out)
			}

			// A change of content (same size) and a new file go up.
			writeFile(t, filepath.Join(src, "sub", "b.txt"), "BRAVO")
			later := time.Now().Add(time.Hour)
			os.Chtimes(filepath.Join(src, "sub", "b.txt"), later, later)
			writeFile(t, filepath.Join(src, "new.txt"), "new")
			out = mustFerry(t, "mirror", "-j", jobs, src, srv.url("site"))
			if n := transferred(out); n != 2 {
				t.Errorf("changed mirror up: %d transfers\n%s", n, out)
			}

			// Down, twice.
			dst := filepath.Join(t.TempDir(), "copy")
			want := map[string]string{"a.txt": "alpha", "sub/b.txt": "BRAVO", "sub/deep/c.md": "charlie", "empty": "", "new.txt": "new"}
			out = mustFerry(t, "mirror", "-j", jobs, srv.url("site"), dst)
			if n := transferred(out); n != 5 {
				t.Errorf("first mirror down: %d transfers\n%s", n, out)
			}
			checkTree(t, dst, want)
			if fi, err := os.Stat(filepath.Join(dst, "a.txt")); err != nil || !fi.ModTime().Equal(old) {
				t.Errorf("local mtime not set: %v %v", fi.ModTime(), err)
			}
			out = mustFerry(t, "mirror", "-j", jobs, srv.url("site"), dst)
			if n := transferred(out); n != 0 || !strings.Contains(out, "mirror: 0 transferred") {
				t.Errorf("second mirror down: %d transfers\n%s", n, out)
			}

			// --delete, both ways.
			makeTree(t, dst, map[string]string{"extra.txt": "x", "xdir/y.txt": "y"})
			out = mustFerry(t, "mirror", "--delete", srv.url("site"), dst)
			if !strings.Contains(out, "3 deleted") { // extra.txt, xdir/y.txt, xdir
				t.Errorf("mirror down --delete: %s", out)
			}
			checkTree(t, dst, want)
			if _, err := os.Stat(filepath.Join(dst, "xdir")); !os.IsNotExist(err) {
				t.Errorf("xdir survived: %v", err)
			}
			os.RemoveAll(filepath.Join(src, "sub"))
			out = mustFerry(t, "mirror", "--delete", "-j", jobs, src, srv.url("site"))
			if !strings.Contains(out, "4 deleted") { // sub/b.txt, sub/deep/c.md, sub/deep, sub
				t.Errorf("mirror up --delete: %s", out)
			}
			checkTree(t, filepath.Join(srv.root, "site"), map[string]string{"a.txt": "alpha", "empty": "", "new.txt": "new"})
			if _, err := os.Stat(filepath.Join(srv.root, "site", "sub")); !os.IsNotExist(err) {
				t.Errorf("remote sub survived: %v", err)
			}
		})
	}
}

// TestGetPutRecursive copies trees with get -r and put -r.
func TestGetPutRecursive(t *testing.T) {
	srv := startFTP(t, false)
	src := filepath.Join(t.TempDir(), "tree")
	makeTree(t, src, mirrorFiles)
	mustFerry(t, "put", "-r", src, srv.url(""))
	checkTree(t, filepath.Join(srv.root, "tree"), mirrorFiles)
	dst := t.TempDir()
	out := mustFerry(t, "get", "-r", srv.url("tree"), filepath.Join(dst, "t2"))
	if transferred(out) != 4 {
		t.Errorf("get -r: %s", out)
	}
	checkTree(t, filepath.Join(dst, "t2"), mirrorFiles)
	if code, _, errOut := ferry(t, "put", src, srv.url("")); code != exitUsage || !strings.Contains(errOut, "-r") {
		t.Errorf("put of a directory without -r: exit %d %s", code, errOut)
	}
}
