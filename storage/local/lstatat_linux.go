//go:build linux && (amd64 || arm64)

package local

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// lstatat is fstatat(2) of the NUL-terminated name relative to the
// directory fd, not following a symbolic link. It passes the name and
// the result in place: unix.Fstatat would copy the name to add a NUL
// (an allocation per entry) and fill a unix.Stat_t to be converted. On
// these architectures syscall.Stat_t is the kernel's struct stat.
func lstatat(fd int, name []byte, st *syscall.Stat_t) error {
	_, _, errno := syscall.Syscall6(unix.SYS_NEWFSTATAT, uintptr(fd),
		uintptr(unsafe.Pointer(&name[0])), uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
