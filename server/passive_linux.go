package server

import (
	"errors"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// listenBare opens a listening TCP socket on ip and port with plain
// system calls, outside Go's netpoller: socket, SO_REUSEADDR (as Go sets
// on its listeners), IPV6_V6ONLY for an IPv6 address, bind and listen.
// That is all a passive listener needs until an accept has to wait; Go's
// listen would also look up the bound address and register the socket
// with epoll, and remove it again at the close. Errors keep their errno
// (EADDRINUSE, EACCES) for the port probe. ip must be valid.
func listenBare(ip netip.Addr, port uint16) (int, error) {
	if !ip.IsValid() || ip.Zone() != "" {
		// Every address (Go's dual-stack listener), or a link-local
		// address with its zone: rare, and Go's listener handles both.
		return -1, errors.ErrUnsupported
	}
	ip = ip.Unmap()
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: int(port), Addr: ip.As16()})
	if ip.Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	fail := func(call string, err error) (int, error) {
		_ = unix.Close(fd)
		return -1, os.NewSyscallError(call, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt", err)
	}
	if family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		return fail("listen", err)
	}
	return fd, nil
}

// closeBare closes a socket from listenBare.
func closeBare(fd int) error {
	return os.NewSyscallError("close", unix.Close(fd))
}
