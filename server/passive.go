package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Errors of a passive accept. The handler answers 425 to each.
var (
	// errDataTimeout means no acceptable data connection arrived in
	// time. It is returned wrapped together with os.ErrDeadlineExceeded.
	errDataTimeout = errors.New("data connection timed out")
	// errTooManyStrangers means the listener dropped maxStrangers
	// connections from the wrong address and gave up.
	errTooManyStrangers = errors.New("too many data connections from foreign addresses")
	// errPassiveClosed means the listener was closed (a new PASV, the
	// session ending) while waiting.
	errPassiveClosed = errors.New("passive listener closed")
)

// maxStrangers bounds how many foreign connections one accept drops
// before it gives up, so a flood cannot keep it busy; the timeout bounds
// it as well.
const maxStrangers = 100

// passiveListener is the listening end of one passive data connection,
// opened by PASV or EPSV and consumed by the next transfer command.
//
// On Linux it starts as a bare socket that Go's netpoller does not know
// (see listenBare): most small downloads take their connection from it
// with one accept4 in the session goroutine (acceptPending), and a
// socket in the netpoller would wake a sleeping thread for nothing when
// the client connects. Only an accept that has to wait hands the socket
// to the netpoller (netListener).
type passiveListener struct {
	alloc *portAllocator
	port  uint16

	// onStranger, if set before accept, is told of each connection that
	// came from an address other than the control peer and was dropped.
	onStranger func(netip.AddrPort)

	// expiry closes the listener if no transfer takes it within the
	// data-connect timeout (see expireAfter); nil when not armed.
	expiry *time.Timer

	mu       sync.Mutex
	bare     int              // the bare listening socket, or -1
	ln       *net.TCPListener // the socket in the netpoller, once it is there
	closed   bool
	closeErr error
}

// expireAfter closes the listener, and calls expired, when no transfer
// has taken it (take) within d: an unused passive port must not be held
// until the session ends, or idle sessions that each sent PASV would
// exhaust the range for everyone.
func (p *passiveListener) expireAfter(d time.Duration, expired func()) {
	p.expiry = time.AfterFunc(d, func() {
		if p.closeIfOpen() {
			expired()
		}
	})
}

// take disarms the expiry for a transfer that uses the listener; false
// means it has expired (or is expiring) and must not be used.
func (p *passiveListener) take() bool {
	if p.expiry != nil && !p.expiry.Stop() {
		_ = p.Close()
		return false
	}
	return true
}

// closeIfOpen closes the listener and reports whether it was open.
func (p *passiveListener) closeIfOpen() bool {
	p.mu.Lock()
	open := !p.closed
	p.mu.Unlock()
	_ = p.close()
	return open
}

// openPassive binds a listener on ip (the control connection's local
// address) with a port from alloc.
func openPassive(alloc *portAllocator, ip netip.Addr) (*passiveListener, error) {
	p := &passiveListener{alloc: alloc, bare: -1}
	port, err := alloc.bindPort(func(port uint16) error {
		fd, err := listenBare(ip, port)
		if err == nil {
			p.bare = fd
			return nil
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
		p.ln, err = listenTCP(ip, port)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.port = port
	return p, nil
}

// Port returns the local port, before any PassivePortMap translation.
func (p *passiveListener) Port() uint16 { return p.port }

// Close closes the listener and releases its port. It is idempotent and
// may be called while accept waits, which then returns errPassiveClosed.
func (p *passiveListener) Close() error {
	if p.expiry != nil {
		p.expiry.Stop()
	}
	return p.close()
}

// close is Close without the expiry, which its own timer calls.
func (p *passiveListener) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return p.closeErr
	}
	p.closed = true
	if p.ln != nil {
		p.closeErr = p.ln.Close()
	}
	if p.bare >= 0 {
		p.closeErr = closeBare(p.bare)
		p.bare = -1
	}
	p.alloc.release(p.port)
	return p.closeErr
}

// netListener returns the listener in Go's netpoller, moving the bare
// socket there first if need be.
func (p *passiveListener) netListener() (*net.TCPListener, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, net.ErrClosed
	}
	if p.ln == nil {
		f := os.NewFile(uintptr(p.bare), "passive")
		ln, err := net.FileListener(f) // a duplicate of the descriptor
		_ = f.Close()
		p.bare = -1
		if err != nil {
			p.closed, p.closeErr = true, err
			p.alloc.release(p.port)
			return nil, fmt.Errorf("passive listener: %w", err)
		}
		p.ln = ln.(*net.TCPListener)
	}
	return p.ln, nil
}

// accept waits for the data connection and returns it. Unless anyPeer,
// a connection whose address is not peer's is closed at once (port
// stealing, RFC 2577 section 7) and accept keeps waiting for the client. It gives up after timeout
// (errDataTimeout), when ctx is done (ctx's cause), or when Close is
// called. Whatever the outcome, the listener is closed before accept
// returns: one PASV serves one transfer.
func (p *passiveListener) accept(ctx context.Context, peer netip.Addr, anyPeer bool, timeout time.Duration) (net.Conn, error) {
	defer p.Close()
	ln, err := p.netListener()
	if errors.Is(err, net.ErrClosed) {
		return nil, fmt.Errorf("passive accept: %w", errPassiveClosed)
	}
	if err != nil {
		return nil, fmt.Errorf("passive accept: %w", err)
	}
	if timeout > 0 {
		if err := ln.SetDeadline(time.Now().Add(timeout)); err != nil {
			return nil, fmt.Errorf("passive accept: %w", errPassiveClosed)
		}
	}
	stop := context.AfterFunc(ctx, func() { p.Close() })
	defer stop()

	peer = peer.Unmap()
	for strangers := 0; ; {
		c, err := ln.Accept()
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return nil, fmt.Errorf("passive accept: %w", context.Cause(ctx))
			case errors.Is(err, os.ErrDeadlineExceeded):
				return nil, fmt.Errorf("passive accept on port %d: %w: %w", p.port, errDataTimeout, err)
			case errors.Is(err, net.ErrClosed):
				return nil, fmt.Errorf("passive accept: %w", errPassiveClosed)
			}
			return nil, fmt.Errorf("passive accept: %w", err)
		}
		from := remoteAddrPort(c)
		if anyPeer || from.Addr().Unmap() == peer {
			return c, nil
		}
		c.Close()
		if p.onStranger != nil {
			p.onStranger(from)
		}
		if strangers++; strangers >= maxStrangers {
			return nil, fmt.Errorf("passive accept on port %d: %w (last %s)", p.port, errTooManyStrangers, from)
		}
	}
}

// remoteAddrPort returns c's peer address, or the zero AddrPort when it
// is not TCP.
func remoteAddrPort(c net.Conn) netip.AddrPort {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

// listenTCP opens a passive listener with Go, where listenBare cannot.
func listenTCP(ip netip.Addr, port uint16) (*net.TCPListener, error) {
	addr := &net.TCPAddr{Port: int(port)}
	network := "tcp"
	if ip.IsValid() {
		ip = ip.Unmap()
		addr.IP = ip.AsSlice()
		addr.Zone = ip.Zone()
		if ip.Is4() {
			network = "tcp4"
		} else {
			network = "tcp6"
		}
	}
	ln, err := dataListenConfig.Listen(context.Background(), network, addr.String())
	if err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

// dataListenConfig is how passive listeners are made. A data connection
// lives for one transfer and its stall timeout notices a dead peer, so it
// gets no TCP keepalive (four setsockopt calls per accept saved); and no
// Multipath TCP, which Go otherwise asks for on Linux listeners: setting
// up an MPTCP listener costs a quarter more per PASV, and a transfer
// that takes sendfile gains nothing from it.
var dataListenConfig = func() *net.ListenConfig {
	lc := &net.ListenConfig{KeepAlive: -1}
	lc.SetMultipathTCP(false)
	return lc
}()
