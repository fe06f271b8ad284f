package server

import (
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// acceptPending returns the client's data connection if it is already
// in the listener's accept queue, without waiting; nil if there is none.
// A stranger found there is dropped (and reported), and the listener
// stays open for the waiting accept. A connection it returns has closed
// the listener, as accept does: one PASV serves one transfer.
func (p *passiveListener) acceptPending(peer netip.Addr, anyPeer bool) *net.TCPConn {
	raw, err := p.ln.SyscallConn()
	if err != nil {
		return nil
	}
	var ready bool
	if err := raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		ready = err == nil && n > 0 && fds[0].Revents&unix.POLLIN != 0
	}); err != nil || !ready {
		return nil
	}
	c, err := p.ln.AcceptTCP()
	if err != nil {
		return nil
	}
	from := remoteAddrPort(c)
	if !anyPeer && from.Addr().Unmap() != peer.Unmap() {
		_ = c.Close()
		if p.onStranger != nil {
			p.onStranger(from)
		}
		return nil
	}
	_ = p.Close()
	return c
}

// sendfileNow makes one non-blocking sendfile(2) of up to size bytes of f
// (from its current offset) to conn and returns how many it moved. It
// never waits: a full send buffer or an error moves fewer bytes, and the
// transfer goroutine finishes the rest or reports the error. The socket
// is corked first, so that the close that follows a whole file tacks the
// FIN onto the data: a packet and a wake-up of the client fewer per small
// file. A transfer handed on stays corked, as sendfileChunks, which
// sends the rest, would cork it anyway.
func sendfileNow(conn *net.TCPConn, f *os.File, size int64) int64 {
	cork(conn)
	craw, err := conn.SyscallConn()
	if err != nil {
		return 0
	}
	fraw, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	var moved int64
	_ = craw.Write(func(cfd uintptr) bool {
		_ = fraw.Control(func(ffd uintptr) {
			for moved < size {
				n, err := syscall.Sendfile(int(cfd), int(ffd), nil, int(size-moved))
				if err == syscall.EINTR {
					continue
				}
				if err != nil || n <= 0 {
					return
				}
				moved += int64(n)
			}
		})
		return true // done either way: never park here
	})
	return moved
}
