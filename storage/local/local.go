// Package local stores files on a local disk, beneath one directory.
//
// Every access goes through an os.Root, so that no name, however it is
// spelled and whatever symbolic links lie on its way, reaches a file outside
// that directory: a link pointing out of the tree fails with an error
// wrapping fs.ErrPermission. Files are opened with O_NONBLOCK and refused
// unless they are regular, so that a FIFO or device placed in the tree
// cannot hang a session in open(2).
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferry-ftp/ferry/storage"
)

// Interface guards.
var (
	_ storage.FS          = (*FS)(nil)
	_ storage.Chmoder     = (*FS)(nil)
	_ storage.Chtimeser   = (*FS)(nil)
	_ storage.Spacer      = (*FS)(nil)
	_ storage.TempSweeper = (*FS)(nil)
	_ io.Closer           = (*FS)(nil)
)

// Modes given to new files and directories; the process umask applies.
const (
	fileMode = 0o666
	dirMode  = 0o777
)

// FS is a storage.FS rooted at a local directory. It is safe for
// concurrent use. Close releases the directory descriptor it holds.
type FS struct {
	root *os.Root
	dir  string
	// escapes is the error os.Root reports for a name leaving the root.
	// os does not export it, so New captures it by asking for "..".
	escapes error
}

// New returns an FS whose root is the existing directory root.
func New(root string) (*FS, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("local: open root %q: %w", root, err)
	}
	f := &FS{root: r, dir: root}
	if _, err := r.Lstat(".."); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			f.escapes = pe.Err
		}
	}
	return f, nil
}

// Root returns the directory the FS was opened on, for logs.
func (f *FS) Root() string { return f.dir }

// Close releases the root directory. Files already open stay usable.
func (f *FS) Close() error { return f.root.Close() }

// Stat describes name without following a final symbolic link.
func (f *FS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if err := check(ctx, "stat", name); err != nil {
		return nil, err
	}
	fi, err := f.root.Lstat(name)
	if err != nil {
		return nil, f.wrap("stat", name, err)
	}
	return fi, nil
}

// Open opens the regular file name for reading from offset. The concrete
// type of the result is *os.File, so that io.Copy to a *net.TCPConn finds
// (*net.TCPConn).ReadFrom and the kernel's sendfile(2) path: no copy of the
// data passes through user space. An offset at or past the end reads nothing.
func (f *FS) Open(ctx context.Context, name string, offset int64) (storage.File, error) {
	if err := check(ctx, "open", name); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("local: open %q: negative offset %d: %w", name, offset, fs.ErrInvalid)
	}
	file, err := f.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, f.wrap("open", name, err)
	}
	if _, err := regular("open", name, file); err != nil {
		file.Close()
		return nil, err
	}
	if offset > 0 {
		if _, err := file.Seek(offset, io.SeekStart); err != nil {
			file.Close()
			return nil, f.wrap("open", name, err)
		}
	}
	return file, nil
}

// Create opens name for writing as opts says:
//   - Exclusive creates a new file and fails with fs.ErrExist if name exists;
//   - Append writes after the current end, creating the file if absent;
//   - Offset > 0 keeps the first Offset bytes, drops anything after them
//     (so that the file ends up as prefix + upload, never with a stale
//     tail) and writes from there; an Offset past the end of the file is
//     refused with fs.ErrInvalid rather than leaving a hole;
//   - otherwise the file is created or truncated.
//
// Offset > 0 together with Append or Exclusive is refused with fs.ErrInvalid.
//
// The writer's ReadFrom is (*os.File).ReadFrom, so that io.Copy from a
// *net.TCPConn moves the data with splice(2) (not for Append: Linux cannot
// splice to an O_APPEND file, and os falls back to read and write).
// Its Abort keeps the bytes written so far and closes, as vsftpd does, so
// that a later REST and STOR can resume the upload.
func (f *FS) Create(ctx context.Context, name string, opts storage.CreateOptions) (storage.WriteFile, error) {
	if err := check(ctx, "create", name); err != nil {
		return nil, err
	}
	if opts.Offset < 0 || (opts.Offset > 0 && (opts.Append || opts.Exclusive)) {
		return nil, fmt.Errorf("local: create %q: offset %d with append=%t exclusive=%t: %w",
			name, opts.Offset, opts.Append, opts.Exclusive, fs.ErrInvalid)
	}
	// O_TRUNC is left out of the open and done after the check that the
	// file is regular, so that it never reaches a device.
	flag := os.O_WRONLY | os.O_CREATE | syscall.O_NONBLOCK
	switch {
	case opts.Exclusive:
		flag |= os.O_EXCL
	case opts.Append:
		flag |= os.O_APPEND
	}
	file, err := f.root.OpenFile(name, flag, fileMode)
	if err != nil {
		return nil, f.wrap("create", name, err)
	}
	fail := func(err error) (storage.WriteFile, error) {
		file.Close()
		return nil, err
	}
	fi, err := regular("create", name, file)
	if err != nil {
		return fail(err)
	}
	switch {
	case opts.Append, opts.Exclusive:
	case opts.Offset > fi.Size():
		return fail(fmt.Errorf("local: create %q: offset %d past the end (%d bytes): %w",
			name, opts.Offset, fi.Size(), fs.ErrInvalid))
	default:
		// Only a file with bytes past Offset is truncated. Truncating
		// to the size a file already has is not free: ext4 marks a file
		// truncated to zero as "replaced" and starts writeback of all of
		// it when it is closed (auto_da_alloc), which for a new 1 GiB
		// upload put the block allocation of the whole file in the
		// close before the 226.
		if fi.Size() > opts.Offset && !opts.KeepTail {
			if err := file.Truncate(opts.Offset); err != nil {
				return fail(f.wrap("create", name, err))
			}
		}
		if _, err := file.Seek(opts.Offset, io.SeekStart); err != nil {
			return fail(f.wrap("create", name, err))
		}
	}
	return &writeFile{file: file, name: name}, nil
}

// Remove removes the file name; a directory is refused with storage.ErrIsDir.
func (f *FS) Remove(ctx context.Context, name string) error {
	return f.unlink(ctx, "remove", name, 0)
}

// RemoveDir removes the empty directory name. A file is refused with
// storage.ErrNotDir, a directory with entries with storage.ErrNotEmpty.
func (f *FS) RemoveDir(ctx context.Context, name string) error {
	return f.unlink(ctx, "rmdir", name, unix.AT_REMOVEDIR)
}

// unlink removes name with unlinkat(2) relative to its parent, opened
// through the root. Unlike os.Root.Remove, which tries both kinds, the
// flag says which kind is meant, so a file that becomes a directory (or
// the reverse) between the client's check and the call is not removed.
func (f *FS) unlink(ctx context.Context, op, name string, flag int) error {
	if err := check(ctx, op, name); err != nil {
		return err
	}
	if name == "." {
		return fmt.Errorf("local: %s %q: the root cannot be removed: %w", op, name, fs.ErrInvalid)
	}
	parent, err := f.openDir(path.Dir(name))
	if err != nil {
		return f.wrap(op, name, err)
	}
	defer parent.Close()
	rc, err := parent.SyscallConn()
	if err != nil {
		return f.wrap(op, name, err)
	}
	var uerr error
	if err := rc.Control(func(fd uintptr) {
		uerr = ignoringEINTR(func() error { return unix.Unlinkat(int(fd), path.Base(name), flag) })
	}); err != nil {
		return f.wrap(op, name, err)
	}
	if uerr == nil {
		return nil
	}
	perr := &fs.PathError{Op: "unlinkat", Path: name, Err: uerr}
	switch {
	case flag == unix.AT_REMOVEDIR && uerr == syscall.EEXIST:
		// POSIX lets rmdir(2) report a non-empty directory with EEXIST.
		return fmt.Errorf("local: %s %q: %w (%v)", op, name, storage.ErrNotEmpty, perr)
	case flag == 0 && uerr == syscall.EPERM:
		// unlink(2) of a directory is EISDIR on Linux but EPERM in POSIX.
		if fi, err := f.root.Lstat(name); err == nil && fi.IsDir() {
			return fmt.Errorf("local: %s %q: %w: %w", op, name, storage.ErrIsDir, perr)
		}
	}
	return f.wrap(op, name, perr)
}

// openDir opens the directory name without following a FIFO into open(2).
func (f *FS) openDir(name string) (*os.File, error) {
	return f.root.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
}

// Mkdir creates the directory name; its parent must exist.
func (f *FS) Mkdir(ctx context.Context, name string) error {
	if err := check(ctx, "mkdir", name); err != nil {
		return err
	}
	return f.wrap("mkdir", name, f.root.Mkdir(name, dirMode))
}

// Rename moves oldname to newname, replacing a file at newname. Like
// os.Rename it refuses an existing directory at newname with fs.ErrExist,
// and a directory moved into itself with fs.ErrInvalid.
func (f *FS) Rename(ctx context.Context, oldname, newname string) error {
	if err := check(ctx, "rename", oldname); err != nil {
		return err
	}
	if !storage.ValidName(newname) {
		return fmt.Errorf("local: rename %q to %q: %w", oldname, newname, fs.ErrInvalid)
	}
	if oldname == "." || newname == "." {
		return fmt.Errorf("local: rename %q to %q: the root cannot move: %w", oldname, newname, fs.ErrInvalid)
	}
	return f.wrap("rename", oldname, f.root.Rename(oldname, newname))
}

// Chmod sets the permission bits of name. Only the 0o777 bits are kept:
// set-user-ID, set-group-ID and sticky bits are not an FTP client's to set.
func (f *FS) Chmod(ctx context.Context, name string, mode fs.FileMode) error {
	if err := check(ctx, "chmod", name); err != nil {
		return err
	}
	return f.wrap("chmod", name, f.root.Chmod(name, mode&fs.ModePerm))
}

// Chtimes sets the modification time of name, leaving its access time.
func (f *FS) Chtimes(ctx context.Context, name string, mtime time.Time) error {
	if err := check(ctx, "chtimes", name); err != nil {
		return err
	}
	return f.wrap("chtimes", name, f.root.Chtimes(name, time.Time{}, mtime))
}

// Available reports the bytes free to an unprivileged user on the file
// system holding name, from statfs(2).
func (f *FS) Available(ctx context.Context, name string) (int64, error) {
	if err := check(ctx, "statfs", name); err != nil {
		return 0, err
	}
	file, err := f.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, f.wrap("statfs", name, err)
	}
	defer file.Close()
	rc, err := file.SyscallConn()
	if err != nil {
		return 0, f.wrap("statfs", name, err)
	}
	var st unix.Statfs_t
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = ignoringEINTR(func() error { return unix.Fstatfs(int(fd), &st) })
	}); err != nil {
		return 0, f.wrap("statfs", name, err)
	}
	if serr != nil {
		return 0, f.wrap("statfs", name, &fs.PathError{Op: "fstatfs", Path: name, Err: serr})
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// check refuses a done ctx and a name that is not an io/fs path.
func check(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: %s %q: %w", op, name, err)
	}
	if !storage.ValidName(name) {
		return fmt.Errorf("local: %s %q: %w", op, name, fs.ErrInvalid)
	}
	return nil
}

// regular returns file's description, or an error if it is not a regular file.
func regular(op, name string, file *os.File) (fs.FileInfo, error) {
	fi, err := file.Stat()
	switch {
	case err != nil:
		return nil, wrapErr(op, name, err)
	case fi.IsDir():
		return nil, fmt.Errorf("local: %s %q: %w", op, name, storage.ErrIsDir)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("local: %s %q: not a regular file (%v): %w", op, name, fi.Mode().Type(), fs.ErrPermission)
	}
	return fi, nil
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != syscall.EINTR {
			return err
		}
	}
}
