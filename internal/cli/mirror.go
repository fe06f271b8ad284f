package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// MirrorCmd is `ferry mirror`.
type MirrorCmd struct {
	Src string `arg:"" placeholder:"SRC" help:"Source: a local directory or an ftp:// URL of a directory."`
	Dst string `arg:"" placeholder:"DST" help:"Destination: an ftp:// URL if SRC is local, a local directory if SRC is a URL."`

	Delete bool `help:"Remove destination files and directories that the source does not have."`
	Jobs   int  `short:"j" default:"1" placeholder:"N" help:"Transfer N files at once over N connections."`
	Verify bool `help:"After each file, compare with the server's SHA-256 (HASH) when offered, else its SIZE."`
	Quiet  bool `short:"q" help:"No progress output and no summary."`

	ConnFlags `embed:""`
}

// Help is shown by ferry mirror --help.
func (c *MirrorCmd) Help() string {
	return "Copies only files whose size or modification time differ (MLSD or MDTM), then sets the copy's " +
		"time to the source's (MFMT on the server), so that a second run transfers nothing.\n\n" + exitCodesHelp
}

// maxTreeDirs bounds how many directories a remote walk visits, so that
// a server listing a loop cannot keep the walk going forever.
const maxTreeDirs = 1 << 20

// treeFile is a file of a tree, named by its slash-separated path
// relative to the tree's root.
type treeFile struct {
	rel   string
	size  int64
	mtime time.Time // zero if unknown
	exact bool      // mtime is to the second (MLSD, MDTM or local), not a LIST date
}

// tree is what a walk found: files by relative path, and directories
// with parents before their children.
type tree struct {
	files map[string]treeFile
	dirs  []string
}

func newTree() *tree { return &tree{files: map[string]treeFile{}} }

// walkRemote lists the tree under root (breadth first). Symbolic links
// are skipped: a listing does not say whether they lead to a file or a
// directory, nor whether following them loops.
func walkRemote(ctx context.Context, s *session, root string) (*tree, error) {
	t := newTree()
	queue := []string{""}
	for len(queue) > 0 {
		if len(t.dirs) > maxTreeDirs {
			return nil, fmt.Errorf("more than %d directories under %s", maxTreeDirs, displayRemote(root))
		}
		rel := queue[0]
		queue = queue[1:]
		entries, err := s.List(ctx, joinRemote(root, rel))
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", displayRemote(joinRemote(root, rel)), err)
		}
		for _, e := range entries {
			if e.Name == "" || strings.Contains(e.Name, "/") || e.Name == "." || e.Name == ".." {
				continue // a server must not send these; never follow them
			}
			r := path.Join(rel, e.Name)
			switch e.Type {
			case ftp.EntryDir:
				t.dirs = append(t.dirs, r)
				queue = append(queue, r)
			case ftp.EntryFile:
				t.files[r] = treeFile{rel: r, size: e.Size, mtime: e.ModTime, exact: e.Facts["modify"] != ""}
			}
		}
	}
	return t, nil
}

// walkLocal walks the local tree under root; only regular files and
// directories count.
func walkLocal(root string) (*tree, error) {
	t := newTree()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			t.dirs = append(t.dirs, rel)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			t.files[rel] = treeFile{rel: rel, size: fi.Size(), mtime: fi.ModTime(), exact: true}
		}
		return nil
	})
	return t, err
}

// sortedFiles returns the files of t in path order.
func (t *tree) sortedFiles() []treeFile {
	files := make([]treeFile, 0, len(t.files))
	for _, f := range t.files {
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	return files
}

// parallel runs do for every file over n sessions: first, and n-1 more
// from d (nil d: first alone). It goes on after a failed file and
// returns the failures joined.
func parallel(ctx context.Context, d *dialer, first *session, n int, files []treeFile, do func(context.Context, *session, treeFile) error) error {
	if n < 1 || d == nil {
		n = 1
	}
	n = min(n, max(len(files), 1))
	work := make(chan treeFile)
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	// All connections log in before any transfer starts: a login
	// refused for too many sessions then costs nothing half done.
	sessions := make([]*session, n)
	sessions[0] = first
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := d.dial(ctx)
			if err != nil {
				fail(fmt.Errorf("connection %d: %w", i+1, err)) // the other connections take the work
				return
			}
			sessions[i] = s
		}()
	}
	wg.Wait()
	for _, s := range sessions {
		if s == nil {
			continue
		}
		if s != first {
			defer s.close(ctx)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if err := do(ctx, s, f); err != nil {
					fail(err)
				}
			}
		}()
	}
feed:
	for _, f := range files {
		select {
		case work <- f:
		case <-ctx.Done():
			fail(ctx.Err())
			break feed
		}
	}
	close(work)
	wg.Wait()
	if len(errs) > 20 {
		errs = append(errs[:20], fmt.Errorf("and %d more failures", len(errs)-20))
	}
	return errors.Join(errs...)
}

// downloadTree fetches files of the remote tree at src into the local
// directory dest, creating the directories of t first.
func downloadTree(ctx context.Context, d *dialer, s *session, n int, src, dest string, t *tree, files []treeFile, o xferOpts) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	for _, dir := range t.dirs {
		if err := os.MkdirAll(filepath.Join(dest, filepath.FromSlash(dir)), 0o755); err != nil {
			return err
		}
	}
	for _, f := range files {
		o.meter.expect(f.size)
	}
	return parallel(ctx, d, s, n, files, func(ctx context.Context, s *session, f treeFile) error {
		mtime := f.mtime
		if !f.exact {
			if t, err := s.ModTime(ctx, joinRemote(src, f.rel)); err == nil {
				mtime = t
			}
		}
		return download(ctx, s, joinRemote(src, f.rel), filepath.Join(dest, filepath.FromSlash(f.rel)), f.size, mtime, o, f.rel)
	})
}

// uploadTree sends files of the local tree src into the remote
// directory dest, creating the directories of t that have is missing.
func uploadTree(ctx context.Context, d *dialer, s *session, n int, src, dest string, t, have *tree, files []treeFile, o xferOpts) error {
	if err := mkdirAllRemote(ctx, s, dest); err != nil {
		return err
	}
	exists := map[string]bool{}
	if have != nil {
		for _, dir := range have.dirs {
			exists[dir] = true
		}
	}
	for _, dir := range t.dirs {
		if exists[dir] {
			continue
		}
		if _, err := s.Mkdir(ctx, joinRemote(dest, dir)); err != nil && !s.isDir(ctx, joinRemote(dest, dir)) {
			return fmt.Errorf("mkdir %s: %w", joinRemote(dest, dir), err)
		}
	}
	for _, f := range files {
		o.meter.expect(f.size)
	}
	return parallel(ctx, d, s, n, files, func(ctx context.Context, s *session, f treeFile) error {
		return upload(ctx, s, filepath.Join(src, filepath.FromSlash(f.rel)), joinRemote(dest, f.rel), o, f.rel)
	})
}

// mkdirAllRemote creates dir and its missing parents, like mkdir -p.
func mkdirAllRemote(ctx context.Context, s *session, dir string) error {
	if s.isDir(ctx, dir) {
		return nil
	}
	parts := strings.Split(strings.Trim(dir, "/"), "/")
	cur := ""
	if strings.HasPrefix(dir, "/") {
		cur = "/"
	}
	for _, p := range parts {
		if p == "" {
			continue
		}
		cur = joinRemote(cur, p)
		if _, err := s.Mkdir(ctx, cur); err != nil && !s.isDir(ctx, cur) {
			return fmt.Errorf("mkdir %s: %w", cur, err)
		}
	}
	return nil
}

// Run mirrors.
func (c *MirrorCmd) Run(ctx context.Context, env *Env) error {
	if c.Jobs < 1 || c.Jobs > 64 {
		return usagef("-j: want 1 to 64 connections, got %d", c.Jobs)
	}
	up := isURL(c.Dst)
	if isURL(c.Src) == up {
		return usagef("mirror wants one local directory and one ftp:// or ftps:// URL")
	}
	rawURL, local := c.Src, c.Dst
	if up {
		rawURL, local = c.Dst, c.Src
	}
	r, err := ParseRemote(rawURL)
	if err != nil {
		return usageError{err}
	}
	if up {
		if fi, err := os.Stat(local); err != nil || !fi.IsDir() {
			return usagef("%s is not a local directory", local)
		}
	}
	d, err := c.newDialer(env, r)
	if err != nil {
		return finish(modeOf(c.Mode), err)
	}
	s, err := d.dial(ctx)
	if err != nil {
		return finish(d.mode, err)
	}
	defer s.close(ctx)
	m := newMeter(ctx, env, c.Quiet)
	var sum mirrorSummary
	if up {
		sum, err = c.up(ctx, d, s, local, r.Path, m)
	} else {
		sum, err = c.down(ctx, d, s, r.Path, local, m)
	}
	m.wait()
	if !c.Quiet {
		m.mu.Lock()
		fmt.Fprintf(env.Stdout, "mirror: %d transferred (%s), %d up to date, %d deleted\n", m.files, humanBytes(m.bytes), sum.same, sum.deleted)
		m.mu.Unlock()
	}
	return finish(d.mode, err)
}

type mirrorSummary struct{ same, deleted int }

func (c *MirrorCmd) opts(m *meter) xferOpts { return xferOpts{verify: c.Verify, meter: m} }

// down mirrors the remote directory src into the local directory dest.
func (c *MirrorCmd) down(ctx context.Context, d *dialer, s *session, src, dest string, m *meter) (mirrorSummary, error) {
	var sum mirrorSummary
	if !s.isDir(ctx, src) {
		return sum, fmt.Errorf("%s is not a directory on the server", displayRemote(src))
	}
	remote, err := walkRemote(ctx, s, src)
	if err != nil {
		return sum, err
	}
	have := newTree()
	if _, err := os.Stat(dest); err == nil {
		if have, err = walkLocal(dest); err != nil {
			return sum, err
		}
	}
	var todo []treeFile
	for _, f := range remote.sortedFiles() {
		l, ok := have.files[f.rel]
		if ok && l.size == f.size {
			if !f.exact {
				if t, err := s.ModTime(ctx, joinRemote(src, f.rel)); err == nil {
					f.mtime, f.exact = t, true
				}
			}
			if sameTime(f, l) {
				sum.same++
				continue
			}
		}
		todo = append(todo, f)
	}
	err = downloadTree(ctx, d, s, c.Jobs, src, dest, remote, todo, c.opts(m))
	if err != nil || !c.Delete {
		return sum, err
	}
	for _, f := range have.sortedFiles() {
		if _, ok := remote.files[f.rel]; !ok {
			if err := os.Remove(filepath.Join(dest, filepath.FromSlash(f.rel))); err != nil {
				return sum, err
			}
			sum.deleted++
		}
	}
	isDir := map[string]bool{}
	for _, dir := range remote.dirs {
		isDir[dir] = true
	}
	for i := len(have.dirs) - 1; i >= 0; i-- { // children first
		if dir := have.dirs[i]; !isDir[dir] {
			if err := os.RemoveAll(filepath.Join(dest, filepath.FromSlash(dir))); err != nil {
				return sum, err
			}
			sum.deleted++
		}
	}
	return sum, nil
}

// up mirrors the local directory src into the remote directory dest.
func (c *MirrorCmd) up(ctx context.Context, d *dialer, s *session, src, dest string, m *meter) (mirrorSummary, error) {
	var sum mirrorSummary
	local, err := walkLocal(src)
	if err != nil {
		return sum, err
	}
	have := newTree()
	if s.isDir(ctx, dest) {
		if have, err = walkRemote(ctx, s, dest); err != nil {
			return sum, err
		}
	}
	// Without MFMT in FEAT the remote time may be the upload's, not the
	// source's: then only a newer local file is a change.
	_, settable := s.Features()["MFMT"]
	var todo []treeFile
	for _, f := range local.sortedFiles() {
		r, ok := have.files[f.rel]
		if ok && r.size == f.size {
			if !r.exact {
				if t, err := s.ModTime(ctx, joinRemote(dest, f.rel)); err == nil {
					r.mtime, r.exact = t, true
				}
			}
			if sameTime(f, r) || (!settable && !f.mtime.Truncate(time.Second).After(r.mtime)) {
				sum.same++
				continue
			}
		}
		todo = append(todo, f)
	}
	o := c.opts(m)
	o.setTime = true
	err = uploadTree(ctx, d, s, c.Jobs, src, dest, local, have, todo, o)
	if err != nil || !c.Delete {
		return sum, err
	}
	for _, f := range have.sortedFiles() {
		if _, ok := local.files[f.rel]; !ok {
			if err := s.Delete(ctx, joinRemote(dest, f.rel)); err != nil {
				return sum, fmt.Errorf("delete %s: %w", joinRemote(dest, f.rel), err)
			}
			sum.deleted++
		}
	}
	isDir := map[string]bool{}
	for _, dir := range local.dirs {
		isDir[dir] = true
	}
	for i := len(have.dirs) - 1; i >= 0; i-- {
		if dir := have.dirs[i]; !isDir[dir] {
			if err := removeRemoteTree(ctx, s, joinRemote(dest, dir)); err != nil {
				return sum, err
			}
			sum.deleted++
		}
	}
	return sum, nil
}

// sameTime reports whether two files have the same modification time:
// to the second when both are exact, else to the minute a LIST shows.
func sameTime(a, b treeFile) bool {
	if a.mtime.IsZero() || b.mtime.IsZero() {
		return true // nothing to compare; the sizes agree
	}
	unit := time.Second
	if !a.exact || !b.exact {
		unit = time.Minute
	}
	return a.mtime.Truncate(unit).Equal(b.mtime.Truncate(unit))
}

// removeRemoteTree removes the remote directory dir and all it holds.
func removeRemoteTree(ctx context.Context, s *session, dir string) error {
	t, err := walkRemote(ctx, s, dir)
	if err != nil {
		return err
	}
	for _, f := range t.sortedFiles() {
		if err := s.Delete(ctx, joinRemote(dir, f.rel)); err != nil {
			return fmt.Errorf("delete %s: %w", joinRemote(dir, f.rel), err)
		}
	}
	for i := len(t.dirs) - 1; i >= 0; i-- {
		if err := s.Rmdir(ctx, joinRemote(dir, t.dirs[i])); err != nil {
			return fmt.Errorf("rmdir %s: %w", joinRemote(dir, t.dirs[i]), err)
		}
	}
	if err := s.Rmdir(ctx, dir); err != nil {
		return fmt.Errorf("rmdir %s: %w", dir, err)
	}
	return nil
}
