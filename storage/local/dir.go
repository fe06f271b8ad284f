package local

import (
	"context"
	"fmt"

	"github.com/ferry-ftp/ferry/storage"
)

// defaultBatch is the batch Next reads when asked for n <= 0, which for
// os.File.Readdir would mean "everything" and for a DirReader means nothing.
const defaultBatch = 256

// batchSize is where every Next and NextNames starts: a listing whose
// context is done stops at the next batch, and n <= 0 asks for the
// default batch.
func batchSize(ctx context.Context, name string, n int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("local: readdir %q: %w", name, err)
	}
	if n <= 0 {
		n = defaultBatch
	}
	return n, nil
}

// ReadDir opens the directory name for listing. Each Next reads at most n
// entries from the kernel (getdents(2) and one fstatat(2) per entry,
// relative to the open directory and not following symbolic links), so
// memory does not grow with the directory. Next also stops once ctx is
// done, so a cancelled listing of a huge directory ends at the next batch.
func (f *FS) ReadDir(ctx context.Context, name string) (storage.DirReader, error) {
	if err := check(ctx, "readdir", name); err != nil {
		return nil, err
	}
	dir, err := f.openDir(name)
	if err != nil {
		return nil, f.wrap("readdir", name, err)
	}
	d, err := newDirReader(ctx, dir, name)
	if err != nil {
		dir.Close()
		return nil, err
	}
	return d, nil
}
