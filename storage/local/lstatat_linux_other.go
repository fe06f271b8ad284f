//go:build linux && !amd64 && !arm64

package local

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// lstatat is fstatat(2) of the NUL-terminated name relative to the
// directory fd, not following a symbolic link.
func lstatat(fd int, name []byte, st *syscall.Stat_t) error {
	var u unix.Stat_t
	if err := unix.Fstatat(fd, string(name[:len(name)-1]), &u, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	*st = sysStat(&u)
	return nil
}

// sysStat copies x/sys's Stat_t into syscall's, the type os.Lstat's
// FileInfo.Sys returns and that the server looks for (the MLSD unique
// fact). The two mirror the same kernel structure.
func sysStat(u *unix.Stat_t) syscall.Stat_t {
	return syscall.Stat_t{
		Dev:     u.Dev,
		Ino:     u.Ino,
		Nlink:   u.Nlink,
		Mode:    u.Mode,
		Uid:     u.Uid,
		Gid:     u.Gid,
		Rdev:    u.Rdev,
		Size:    u.Size,
		Blksize: u.Blksize,
		Blocks:  u.Blocks,
		Atim:    syscall.Timespec(u.Atim),
		Mtim:    syscall.Timespec(u.Mtim),
		Ctim:    syscall.Timespec(u.Ctim),
	}
}
