package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
)

// The data sets live under the work directory and are kept between runs
// (a million files take a while to create); each is rebuilt when its
// parameters change. Names are relative to env.root.
const (
	smallDir   = "small"
	listDir    = "list"
	hugeDir    = "huge"
	uploadDir  = "up"
	stampName  = ".bench-stamp"
	smallBytes = 4 << 10
)

// prepare builds the data sets the selected workloads need.
func prepare(e *env, o *options, need func(string) bool) error {
	if err := os.MkdirAll(e.root, 0o755); err != nil {
		return err
	}
	// The work directory must be traversable by the servers' session
	// processes, which run as benchUser.
	for d := e.root; d != "/" && d != "."; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
			os.Chmod(d, fi.Mode().Perm()|0o005)
		}
	}
	var err error
	if need("download") {
		err = file(e, sizedName("big", o.size), o.size)
	}
	if err == nil && need("parallel") {
		err = file(e, sizedName("par", o.parSize), o.parSize)
	}
	if err == nil && need("small-files") {
		err = files(e, smallDir, o.files, smallBytes)
	}
	if err == nil && need("list") {
		err = files(e, listDir, o.listEntries, 0)
	}
	if err == nil && need("huge-list") {
		err = files(e, hugeDir, o.hugeEntries, 0)
	}
	if err == nil {
		err = os.MkdirAll(filepath.Join(e.root, uploadDir), 0o755)
	}
	if err == nil {
		err = chownTree(e, e.root, 1)
		err2 := chownTree(e, filepath.Join(e.root, uploadDir), 0)
		if err == nil {
			err = err2
		}
	}
	return err
}

// file makes name a file of size random bytes (incompressible, so that no
// layer can cheat), unless it already has that size.
func file(e *env, name string, size int64) error {
	path := filepath.Join(e.root, name)
	if fi, err := os.Stat(path); err == nil && fi.Size() == size {
		return nil
	}
	fmt.Fprintf(os.Stderr, "bench: writing %s (%s)\n", path, fmtBytes(size))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	rand.Read(buf)
	for left := size; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		buf[0]++ // no two MiB alike
		left -= n
	}
	return f.Close()
}

// files makes dir hold exactly count files of size bytes each, named so
// that every listing line has the same length.
func files(e *env, dir string, count int, size int) error {
	path := filepath.Join(e.root, dir)
	stamp := fmt.Appendf(nil, "%d files of %d bytes\n", count, size)
	if b, err := os.ReadFile(filepath.Join(e.work, dir+stampName)); err == nil && bytes.Equal(b, stamp) {
		return nil
	}
	fmt.Fprintf(os.Stderr, "bench: creating %d files in %s\n", count, path)
	if err := os.RemoveAll(path); err != nil {
		return err
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	data := make([]byte, size)
	rand.Read(data)
	for i := range count {
		if err := os.WriteFile(filepath.Join(path, fileName(i)), data, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(e.work, dir+stampName), stamp, 0o644)
}

// sizedName names a transfer file by its size, so that runs with
// different -size flags keep their files side by side.
func sizedName(prefix string, size int64) string { return fmt.Sprintf("%s-%d.bin", prefix, size) }

func fileName(i int) string { return fmt.Sprintf("f%07d", i) }

// chownTree gives benchUser the top of the tree (depth 1: the entries of
// dir itself, not those of its subdirectories, which stay readable; depth
// 0: dir alone) so that uploads can be written.
func chownTree(e *env, dir string, depth int) error {
	if err := os.Lchown(dir, e.uid, e.gid); err != nil {
		return err
	}
	if depth == 0 {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range ents {
		if err := os.Lchown(filepath.Join(dir, de.Name()), e.uid, e.gid); err != nil {
			return err
		}
	}
	return nil
}
