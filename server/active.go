package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// Refusals of a PORT or EPRT target. Their text is safe to show to the
// client; the handler maps them to a reply code.
var (
	// errBounceHost: the target is not the control connection's peer
	// (FTP bounce attack, RFC 2577 section 2).
	errBounceHost = errors.New("data connection must go to the client's own address")
	// errBouncePort: the target port is privileged; a bounce to a
	// well-known service is the classic attack.
	errBouncePort = errors.New("data port below 1024 refused")
	// errBadTarget: no data connection can go there, whatever the
	// policy (port 0, unspecified, multicast or broadcast address).
	errBadTarget = errors.New("invalid data connection address")
)

// checkActiveTarget decides whether the server may connect to target
// for a client whose control connection comes from peer. anyPeer
// (Config.ActiveAnyPeer) turns bounce protection off, for FXP.
func checkActiveTarget(target netip.AddrPort, peer netip.Addr, anyPeer bool) error {
	ip := target.Addr().Unmap()
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() ||
		ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || target.Port() == 0 {
		return errBadTarget
	}
	if anyPeer {
		return nil
	}
	if ip != peer.Unmap() {
		return errBounceHost
	}
	if target.Port() < 1024 {
		return errBouncePort
	}
	return nil
}

// dialActive opens an active data connection to target. It leaves from
// localIP, the control connection's local address, so that the data
// connection uses the interface the client talked to and passes the
// same firewall and NAT state. When fromPort is not 0 (the control port
// minus one, 20 by convention) it binds that source port with
// SO_REUSEADDR, so transfers to different clients can share it. If the
// port cannot be had (no privilege, held by another program, or the
// same connection still in TIME_WAIT) it connects from an ephemeral
// port instead and reports fellBack, so the caller can warn once.
func dialActive(ctx context.Context, localIP netip.Addr, target netip.AddrPort, fromPort uint16, timeout time.Duration) (c net.Conn, fellBack bool, err error) {
	target = netip.AddrPortFrom(target.Addr().Unmap(), target.Port())
	local := localIP.Unmap()
	if local.IsValid() && local.Is4() != target.Addr().Is4() {
		local = netip.Addr{} // EPRT named the other family; let routing pick
	}
	if fromPort != 0 {
		c, err = dialFrom(ctx, local, fromPort, target, timeout)
		if err == nil || !sourcePortRefused(err) {
			return c, false, err
		}
		fellBack = true
	}
	c, err = dialFrom(ctx, local, 0, target, timeout)
	return c, fellBack, err
}

func dialFrom(ctx context.Context, local netip.Addr, port uint16, target netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	// No keepalive: the stall timeout watches a data connection.
	d := net.Dialer{Timeout: timeout, KeepAlive: -1}
	if local.IsValid() || port != 0 {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, port))
	}
	if port != 0 {
		d.Control = reuseAddr
	}
	c, err := d.DialContext(ctx, "tcp", target.String())
	if err != nil {
		return nil, fmt.Errorf("active data connection to %s: %w", target, err)
	}
	return c, nil
}

// sourcePortRefused reports whether err is the kernel refusing the
// fixed source port, rather than the target refusing the connection.
func sourcePortRefused(err error) bool {
	var se *os.SyscallError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Syscall {
	case "bind":
		return errors.Is(se.Err, syscall.EACCES) || errors.Is(se.Err, syscall.EADDRINUSE) ||
			errors.Is(se.Err, syscall.EPERM)
	case "connect":
		// The same source and target are still in TIME_WAIT.
		return errors.Is(se.Err, syscall.EADDRNOTAVAIL) || errors.Is(se.Err, syscall.EADDRINUSE)
	}
	return false
}

// reuseAddr sets SO_REUSEADDR before bind, so several connections can
// leave from the same fixed port.
func reuseAddr(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = setsockoptInt(syscall.SetsockoptInt, fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// setsockoptInt calls set with fd converted to its descriptor type: an
// int on Unix, a syscall.Handle on Windows. It keeps this file free of
// build tags.
func setsockoptInt[FD ~int | ~uintptr](set func(FD, int, int, int) error, fd uintptr, level, opt, value int) error {
	return set(FD(fd), level, opt, value)
}

// canBindPort reports whether this process may bind port, checked once
// at start for ActiveFromPort20 so that the warning is logged there.
func canBindPort(port uint16) bool {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{Port: int(port)})
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
