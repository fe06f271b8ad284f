package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// maxSweepDepth bounds how deep SweepTemps descends, and so its
// recursion and the directory names it holds at once.
const maxSweepDepth = 256

// SweepTemps implements storage.TempSweeper: it removes the regular files
// anywhere in the tree whose base name starts with prefix and whose
// modification time is more than olderThan ago (any, when olderThan is
// zero or less). The walk goes through
// the FS's os.Root, so it never leaves the tree, and it neither
// descends through a symbolic link nor removes one. It reads each
// directory in batches, holds one directory open at a time, and carries
// on past directories it cannot read.
func (f *FS) SweepTemps(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	if prefix == "" || strings.ContainsAny(prefix, "/\x00") {
		return 0, fmt.Errorf("local: sweep temporaries %q: %w", prefix, fs.ErrInvalid)
	}
	w := sweep{fsys: f, prefix: prefix}
	if olderThan > 0 {
		w.cutoff = time.Now().Add(-olderThan)
	}
	err := w.walk(ctx, ".", 0)
	if err == nil {
		err = w.firstErr
	}
	return w.removed, err
}

// sweep is the state of one SweepTemps.
type sweep struct {
	fsys     *FS
	prefix   string
	cutoff   time.Time // only files modified before it go; zero: all
	removed  int
	firstErr error
}

// walk removes the stale temporaries under dir. It returns an error only
// when the walk must stop (ctx is done); others are kept in firstErr.
func (w *sweep) walk(ctx context.Context, dir string, depth int) error {
	if depth > maxSweepDepth {
		w.note(fmt.Errorf("local: sweep temporaries: %q is deeper than %d levels, not searched", dir, maxSweepDepth))
		return nil
	}
	subdirs, err := w.scan(ctx, dir)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		w.note(err)
	}
	for _, sub := range subdirs {
		if err := w.walk(ctx, sub, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// scan removes the stale temporaries directly in dir and returns its
// subdirectories, closing dir before the caller descends.
func (w *sweep) scan(ctx context.Context, dir string) ([]string, error) {
	d, err := w.fsys.openDir(dir)
	if err != nil {
		return nil, w.fsys.wrap("readdir", dir, err)
	}
	defer d.Close()
	var subdirs []string
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("local: sweep temporaries: %w", err)
		}
		infos, rerr := d.Readdir(defaultBatch)
		for _, fi := range infos {
			name := path.Join(dir, fi.Name())
			switch {
			case fi.IsDir():
				subdirs = append(subdirs, name)
			case fi.Mode().IsRegular() && strings.HasPrefix(fi.Name(), w.prefix) && w.old(fi):
				err := w.fsys.Remove(ctx, name)
				switch {
				case err == nil:
					w.removed++
				case errors.Is(err, fs.ErrNotExist): // gone meanwhile
				default:
					w.note(err)
				}
			}
		}
		if rerr == io.EOF {
			return subdirs, nil
		}
		if rerr != nil {
			return subdirs, wrapErr("readdir", dir, rerr)
		}
	}
}

// old reports whether the temporary fi is old enough to go.
func (w *sweep) old(fi fs.FileInfo) bool { return w.cutoff.IsZero() || fi.ModTime().Before(w.cutoff) }

func (w *sweep) note(err error) {
	if w.firstErr == nil {
		w.firstErr = err
	}
}
