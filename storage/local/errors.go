package local

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/ferry-ftp/ferry/storage"
)

// wrap is wrapErr that also turns os.Root's "path escapes" error into
// fs.ErrPermission: to the client, a link out of its tree is forbidden.
func (f *FS) wrap(op, name string, err error) error {
	if err != nil && f.escapes != nil && errors.Is(err, f.escapes) {
		return fmt.Errorf("local: %s %q: %w: %w", op, name, fs.ErrPermission, err)
	}
	return wrapErr(op, name, err)
}

// wrapErr adds op and name to err and, for the errno values the server
// answers differently, the storage error that names the condition. The
// errno stays in the chain, so errors.Is finds both, except for
// ENOTEMPTY: syscall.ENOTEMPTY matches fs.ErrExist, which would read as
// "the name is taken" rather than "the directory has entries".
func wrapErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ENOSPC:
			return fmt.Errorf("local: %s %q: %w: %w", op, name, storage.ErrNoSpace, err)
		case syscall.EDQUOT:
			return fmt.Errorf("local: %s %q: %w: %w", op, name, storage.ErrQuota, err)
		case syscall.ENOTEMPTY:
			return fmt.Errorf("local: %s %q: %w (%v)", op, name, storage.ErrNotEmpty, err)
		case syscall.ENOTDIR:
			return fmt.Errorf("local: %s %q: %w: %w", op, name, storage.ErrNotDir, err)
		case syscall.EISDIR:
			return fmt.Errorf("local: %s %q: %w: %w", op, name, storage.ErrIsDir, err)
		case syscall.EINVAL: // syscall.EINVAL does not match fs.ErrInvalid
			return fmt.Errorf("local: %s %q: %w: %w", op, name, fs.ErrInvalid, err)
		}
	}
	return fmt.Errorf("local: %s %q: %w", op, name, err)
}
