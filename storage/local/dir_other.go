//go:build !linux

package local

import (
	"context"
	"io"
	"io/fs"
	"os"
)

// dirReader streams one directory's entries through os.File.Readdir,
// which stats each entry relative to the open directory.
type dirReader struct {
	// ctx is the ReadDir call's. A DirReader outlives that call but works
	// on its behalf, as database/sql.Rows does.
	ctx  context.Context
	dir  *os.File
	name string
}

func newDirReader(ctx context.Context, dir *os.File, name string) (*dirReader, error) {
	return &dirReader{ctx: ctx, dir: dir, name: name}, nil
}

// Next returns up to n entries, and io.EOF once there are none left.
func (d *dirReader) Next(n int) ([]fs.FileInfo, error) {
	n, err := batchSize(d.ctx, d.name, n)
	if err != nil {
		return nil, err
	}
	infos, err := d.dir.Readdir(n)
	if err == io.EOF {
		return infos, io.EOF
	}
	return infos, wrapErr("readdir", d.name, err)
}

// NextNames returns up to n names, without stat'ing them.
func (d *dirReader) NextNames(n int) ([]string, error) {
	n, err := batchSize(d.ctx, d.name, n)
	if err != nil {
		return nil, err
	}
	names, err := d.dir.Readdirnames(n)
	if err == io.EOF {
		return names, io.EOF
	}
	return names, wrapErr("readdir", d.name, err)
}

// Close releases the directory.
func (d *dirReader) Close() error {
	return wrapErr("readdir", d.name, d.dir.Close())
}
