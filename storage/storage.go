// Package storage is the contract between the FTP server and the place
// files live. A backend implements FS; optional capabilities that not every
// backend has (changing modes, setting times, sweeping temporaries) are
// separate small interfaces found by type assertion, as io/fs does.
//
// Names are io/fs paths: slash-separated, relative to the backend's root,
// cleaned, "." for the root itself (see ValidName). Unlike fs.ValidPath,
// a name need not be UTF-8: FTP paths are bytes (RFC 959; RFC 2640 only
// recommends UTF-8) and legacy clients send Latin-1 names that must still
// round-trip. The server resolves the client's virtual path before
// calling, so a backend never sees "..".
//
// Errors wrap the io/fs sentinels (fs.ErrNotExist, fs.ErrExist,
// fs.ErrPermission, fs.ErrInvalid) or the ones below, so that the server can
// map them to reply codes in one place. Their text is for logs, not clients.
//
// Nothing here assumes that rename or append is cheap or that an upload's
// length is known in advance, so that an object store can implement FS.
package storage

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"time"
)

// Errors a backend wraps beside the io/fs ones.
var (
	// ErrNoSpace: the device or the backend is full (FTP 452).
	ErrNoSpace = errors.New("insufficient storage space")
	// ErrQuota: a per-user quota would be exceeded (FTP 552).
	ErrQuota = errors.New("storage quota exceeded")
	// ErrNotEmpty: a directory to remove is not empty (FTP 550).
	ErrNotEmpty = errors.New("directory not empty")
	// ErrIsDir / ErrNotDir: the name is of the other kind (FTP 550).
	ErrIsDir  = errors.New("is a directory")
	ErrNotDir = errors.New("not a directory")
	// ErrUnsupported: the backend cannot do this at all (FTP 502/504).
	ErrUnsupported = errors.New("operation not supported by this storage")
)

// UploadTempPrefix begins the base name of the hidden temporary that an
// atomic upload writes before renaming it into place. The server hides
// such names from listings and refuses them from clients, and ferry
// serve removes at start those a crash left behind (TempSweeper).
// Temporaries outlive the process that wrote them, so the prefix must
// not change.
const UploadTempPrefix = ".ferry-upload-"

// FS is a user's view of storage.
type FS interface {
	// Stat describes name without following a final symbolic link.
	Stat(ctx context.Context, name string) (fs.FileInfo, error)
	// ReadDir opens the directory name for listing. Entries stream in
	// batches, so a directory of a million entries is never held whole.
	ReadDir(ctx context.Context, name string) (DirReader, error)
	// Open opens the file name for reading from offset.
	Open(ctx context.Context, name string, offset int64) (File, error)
	// Create opens name for writing as opts says. The returned writer
	// must be closed; Close reports whether the data is safely stored.
	Create(ctx context.Context, name string, opts CreateOptions) (WriteFile, error)
	// Remove removes the file name (not a directory).
	Remove(ctx context.Context, name string) error
	// Mkdir creates the directory name; its parent must exist.
	Mkdir(ctx context.Context, name string) error
	// RemoveDir removes the empty directory name.
	RemoveDir(ctx context.Context, name string) error
	// Rename moves oldname to newname, replacing a file at newname.
	Rename(ctx context.Context, oldname, newname string) error
}

// DirReader streams a directory's entries.
type DirReader interface {
	// Next returns up to n entries and io.EOF after the last. It may return
	// fewer than n entries with a nil error.
	Next(n int) ([]fs.FileInfo, error)
	Close() error
}

// NameReader is what a DirReader may also offer: the entries' names
// alone, without the stat that a FileInfo costs per entry (NLST needs
// only names). Next and NextNames read from the same stream of entries.
type NameReader interface {
	// NextNames returns up to n names and io.EOF after the last. It may
	// return fewer than n names with a nil error.
	NextNames(n int) ([]string, error)
}

// File is an open file being read. A local backend returns a value whose
// concrete type is *os.File where it can, so that copying to a TCP
// connection takes the kernel's sendfile path.
type File interface {
	io.ReadCloser
}

// WriteFile is an open file being written. Abort discards what was written
// where the backend can (an object store's multipart upload, a temporary
// file) and closes; after Close or Abort, neither may be called again.
type WriteFile interface {
	io.WriteCloser
	Abort() error
}

// CreateOptions says how Create opens a file.
type CreateOptions struct {
	// Offset: start writing at this byte, keeping what is before it
	// (REST followed by STOR). Zero truncates unless Append is set.
	Offset int64
	// Append: write after the current end (APPE); the file is created if absent.
	Append bool
	// Exclusive: fail with fs.ErrExist if name exists (STOU, atomic temporaries).
	Exclusive bool
	// KeepTail: with Offset, write over the bytes from Offset on
	// without cutting the file there (STOR after RANG writes a range in
	// place). A backend that cannot write in place returns
	// ErrUnsupported.
	KeepTail bool
}

// Chmoder is implemented by backends that keep Unix permission bits (SITE CHMOD).
type Chmoder interface {
	Chmod(ctx context.Context, name string, mode fs.FileMode) error
}

// Chtimeser is implemented by backends that can set a file's modification time (MFMT).
type Chtimeser interface {
	Chtimes(ctx context.Context, name string, mtime time.Time) error
}

// Spacer is implemented by backends that can tell how much space is free.
type Spacer interface {
	Available(ctx context.Context, name string) (int64, error)
}

// TempSweeper is implemented by backends that can remove, in one walk of
// the whole tree, the regular files whose base name starts with prefix
// and that were last modified more than olderThan ago: the temporaries
// of atomic uploads (UploadTempPrefix) that a crash left behind. It is
// meant for start-up, when every temporary is stale and olderThan is
// zero (zero or less: any age); a positive olderThan spares uploads in
// progress when someone else may be writing. The walk does not follow symbolic links and
// carries on past directories it cannot read, returning the first such
// error with the number of files removed. A prefix that is empty or
// holds a slash or a NUL byte fails with fs.ErrInvalid.
type TempSweeper interface {
	SweepTemps(ctx context.Context, prefix string, olderThan time.Duration) (removed int, err error)
}

// ValidName reports whether name is a storage name: "." or slash-separated
// elements that are neither empty, "." nor "..", with no NUL byte. It is
// fs.ValidPath without the UTF-8 requirement.
func ValidName(name string) bool {
	if name == "." {
		return true
	}
	if strings.IndexByte(name, 0) >= 0 {
		return false
	}
	for {
		elem, rest, more := strings.Cut(name, "/")
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
		if !more {
			return true
		}
		name = rest
	}
}
