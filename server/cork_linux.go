package server

import (
	"net"

	"golang.org/x/sys/unix"
)

// cork sets TCP_CORK on conn: the kernel sends only full segments until
// the connection is closed (or uncorked), as ProFTPD does around its
// sendfile. For a bulk download that means fewer, fuller segments and
// fewer wake-ups of the receiver (a 1 GiB loopback download, pinned to
// separate CPUs: 1560 -> 1765 MiB/s, the client's CPU 430 -> 355 ms). The
// close that ends a download pushes out the last partial segment with
// the FIN.
func cork(conn *net.TCPConn) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK, 1)
	})
}
