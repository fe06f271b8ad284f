package server

import (
	"errors"
	"fmt"
	"net"
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

// pendingConn is a data connection taken off the accept queue with a
// bare accept4(2), not (yet) known to Go's netpoller. The fast path
// needs a cork, one sendfile and a close; registering the socket with
// epoll, and the netFD, addresses and deadlines that come with it,
// would cost about as much as those three calls. A transfer that cannot
// finish on the fast path turns it into a net.Conn (netConn) and goes on as usual.
type pendingConn struct {
	fd int
}

// acceptPending takes the client's data connection if it is already in
// the listener's accept queue, without waiting; ok is false if there is
// none. A stranger found there is dropped (and reported), and the
// listener stays open for the waiting accept. A connection it returns
// has closed the listener, as accept does: one PASV serves one transfer.
func (p *passiveListener) acceptPending(peer netip.Addr, anyPeer bool) (pc pendingConn, ok bool) {
	fd, from := p.acceptNow()
	if fd < 0 {
		return pendingConn{}, false
	}
	if !anyPeer && from.Addr().Unmap() != peer.Unmap() {
		_ = unix.Close(fd)
		if p.onStranger != nil {
			p.onStranger(from)
		}
		return pendingConn{}, false
	}
	_ = p.Close()
	return pendingConn{fd: fd}, true
}

// acceptNow calls accept4 once on the listening socket, bare or already
// in the netpoller, and returns the new socket and its peer; -1 when
// nothing is queued, or the listener is closed.
func (p *passiveListener) acceptNow() (int, netip.AddrPort) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return -1, netip.AddrPort{}
	}
	fd, from := -1, netip.AddrPort{}
	accept := func(lfd int) {
		for {
			nfd, sa, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			if err == unix.EINTR || err == unix.ECONNABORTED {
				continue // as Go's accept does
			}
			if err == nil {
				fd, from = nfd, sockaddrAddrPort(sa)
			}
			return // EAGAIN: nothing queued yet
		}
	}
	if p.bare >= 0 {
		accept(p.bare)
		return fd, from
	}
	raw, err := p.ln.SyscallConn()
	if err != nil {
		return -1, netip.AddrPort{}
	}
	_ = raw.Control(func(lfd uintptr) { accept(int(lfd)) })
	return fd, from
}

func sockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// sendfile makes one non-blocking sendfile(2) of up to size bytes of f
// (from its current offset) and returns how many it moved. It never
// waits: a full send buffer or an error moves fewer bytes, and the
// transfer goroutine finishes the rest or reports the error. The socket
// is corked first, so that the close that follows a whole file tacks the
// FIN onto the data: a packet and a wake-up of the client fewer per small
// file. A transfer handed on stays corked, as sendfileChunks, which
// sends the rest, would cork it anyway.
func (pc pendingConn) sendfile(f *os.File, size int64) int64 {
	_ = unix.SetsockoptInt(pc.fd, unix.IPPROTO_TCP, unix.TCP_CORK, 1)
	fraw, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	var moved int64
	_ = fraw.Control(func(ffd uintptr) {
		for moved < size {
			n, err := unix.Sendfile(pc.fd, int(ffd), nil, int(size-moved))
			if err == unix.EINTR {
				continue
			}
			if err != nil || n <= 0 {
				return
			}
			moved += int64(n)
		}
	})
	return moved
}

// close closes the connection; the kernel sends what is queued, and the
// FIN, after it.
func (pc pendingConn) close() error {
	if err := unix.Close(pc.fd); err != nil {
		return fmt.Errorf("close data connection: %w", err)
	}
	return nil
}

// netConn hands the connection to Go's netpoller, for a transfer that
// has to wait. pc is closed either way; only the returned conn remains.
func (pc pendingConn) netConn() (net.Conn, error) {
	f := os.NewFile(uintptr(pc.fd), "data")
	defer f.Close() // FileConn works on a duplicate
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("data connection: %w", err)
	}
	if _, ok := c.(*net.TCPConn); !ok {
		_ = c.Close()
		return nil, errors.New("data connection: not TCP")
	}
	return c, nil
}
