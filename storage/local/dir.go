package local

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/ferry-ftp/ferry/storage"
)

// defaultBatch is the batch Next reads when asked for n <= 0, which for
// os.File.Readdir would mean "everything" and for a DirReader means nothing.
const defaultBatch = 256

// ReadDir opens the directory name for listing. Each Next reads at most n
// entries from the kernel (getdents(2) and one fstatat(2) per entry, not
// following symbolic links), so memory does not grow with the directory.
// Next also stops once ctx is done, so a cancelled listing of a huge
// directory ends at the next batch.
func (f *FS) ReadDir(ctx context.Context, name string) (storage.DirReader, error) {
	if err := check(ctx, "readdir", name); err != nil {
		return nil, err
	}
	dir, err := f.openDir(name)
	if err != nil {
		return nil, f.wrap("readdir", name, err)
	}
	return &dirReader{ctx: ctx, dir: dir, name: name}, nil
}

// dirReader streams one directory's entries.
type dirReader struct {
	// ctx is the ReadDir call's. A DirReader outlives that call but works
	// on its behalf, as database/sql.Rows does.
	ctx  context.Context
	dir  *os.File
	name string
}

// Next returns up to n entries, and io.EOF once there are none left.
func (d *dirReader) Next(n int) ([]fs.FileInfo, error) {
	if err := d.ctx.Err(); err != nil {
		return nil, fmt.Errorf("local: readdir %q: %w", d.name, err)
	}
	if n <= 0 {
		n = defaultBatch
	}
	infos, err := d.dir.Readdir(n)
	if err == io.EOF {
		return infos, io.EOF
	}
	return infos, wrapErr("readdir", d.name, err)
}

// Close releases the directory.
func (d *dirReader) Close() error {
	return wrapErr("readdir", d.name, d.dir.Close())
}
