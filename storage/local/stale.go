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

// maxStaleDepth bounds how deep RemoveStaleTemps descends, and so its
// recursion and the directory names it holds at once.
const maxStaleDepth = 256

// RemoveStaleTemps removes the regular files anywhere in the tree whose
// base name starts with prefix and whose modification time is more than
// olderThan ago: the temporaries of atomic uploads that a crash left
// behind. It is meant for start-up. It reads each directory in batches,
// holds one directory open at a time, does not follow symbolic links, and
// carries on past directories it cannot read, returning the first such
// error with the number of files removed.
func (f *FS) RemoveStaleTemps(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	if prefix == "" || strings.ContainsAny(prefix, "/\x00") {
		return 0, fmt.Errorf("local: remove stale temporaries %q: %w", prefix, fs.ErrInvalid)
	}
	w := staleWalk{fsys: f, prefix: prefix, cutoff: time.Now().Add(-olderThan)}
	err := w.walk(ctx, ".", 0)
	if err == nil {
		err = w.firstErr
	}
	return w.removed, err
}

// staleWalk is the state of one RemoveStaleTemps.
type staleWalk struct {
	fsys     *FS
	prefix   string
	cutoff   time.Time
	removed  int
	firstErr error
}

// walk removes the stale temporaries under dir. It returns an error only
// when the walk must stop (ctx is done); others are kept in firstErr.
func (w *staleWalk) walk(ctx context.Context, dir string, depth int) error {
	if depth > maxStaleDepth {
		w.note(fmt.Errorf("local: remove stale temporaries: %q is deeper than %d levels, not searched", dir, maxStaleDepth))
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
func (w *staleWalk) scan(ctx context.Context, dir string) ([]string, error) {
	d, err := w.fsys.openDir(dir)
	if err != nil {
		return nil, w.fsys.wrap("readdir", dir, err)
	}
	defer d.Close()
	var subdirs []string
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("local: remove stale temporaries: %w", err)
		}
		infos, rerr := d.Readdir(defaultBatch)
		for _, fi := range infos {
			name := path.Join(dir, fi.Name())
			switch {
			case fi.IsDir():
				subdirs = append(subdirs, name)
			case fi.Mode().IsRegular() && strings.HasPrefix(fi.Name(), w.prefix) && fi.ModTime().Before(w.cutoff):
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

func (w *staleWalk) note(err error) {
	if w.firstErr == nil {
		w.firstErr = err
	}
}
