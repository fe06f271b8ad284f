package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// DataInfo describes the most recent data connection, for diagnosis.
type DataInfo struct {
	Command    string        // EPSV, PASV, EPRT or PORT
	Advertised string        // the address the server's 227/229 reply named, or the one we announced
	Addr       string        // the address actually connected to or accepted from
	Duration   time.Duration // from the mode command to an open (and, with TLS, handshaken) connection
	Fallback   string        // why another command or mode than the first choice was used; "" if none
	Err        error         // why the data connection failed; nil if it opened
}

// LastData reports how the most recent data connection was opened.
func (c *Conn) LastData() DataInfo { return c.last }

// pending is a data connection being set up: dialed (passive) or
// listening (active), waiting for the transfer command's 1yz reply.
type pending struct {
	conn  net.Conn     // passive: already connected
	ln    net.Listener // active: waiting for the server
	start time.Time
}

func (p *pending) close() {
	if p.conn != nil {
		p.conn.Close()
	}
	if p.ln != nil {
		p.ln.Close()
	}
}

// SetMode changes how later data connections are set up, on the live
// connection: the classic client's passive and epsv toggles. What the
// server refused before (EPSV, EPRT) stays refused; auto mode starts
// passive again.
func (c *Conn) SetMode(m Mode) {
	c.cfg.mode = m
	c.autoActive = ""
}

// prepareData sends the mode command chosen by the configuration, with
// the fallbacks it allows, and returns the half-open data connection.
func (c *Conn) prepareData(ctx context.Context) (*pending, error) {
	c.last = DataInfo{}
	var fallback string
	switch c.cfg.mode {
	case ModeEPSV, ModePASV, ModeEPRT, ModePORT:
		return c.prepareWith(ctx, c.cfg.mode)
	case ModeActive:
		return c.prepareActive(ctx, &fallback)
	case ModeAuto:
		if c.autoActive != "" {
			fallback = c.autoActive
			return c.prepareActive(ctx, &fallback)
		}
		p, err := c.preparePassive(ctx, &fallback)
		if err == nil || c.broken != nil || !errors.Is(err, ErrTransfer) && !refused(err) {
			return p, err
		}
		// The passive connection could not be opened (a firewall in
		// the way, or the server cannot listen): try active, and keep
		// using it for this session.
		why := fmt.Sprintf("passive data connection failed (%v); switched to active", err)
		c.note("%s", why)
		c.autoActive = why
		fallback = why
		return c.prepareActive(ctx, &fallback)
	default:
		return c.preparePassive(ctx, &fallback)
	}
}

func (c *Conn) preparePassive(ctx context.Context, fallback *string) (*pending, error) {
	if !c.noEPSV {
		p, err := c.prepareWith(ctx, ModeEPSV)
		if !refused(err) {
			c.last.Fallback = *fallback
			return p, err
		}
		c.noEPSV = true
		*fallback = joinWhy(*fallback, fmt.Sprintf("EPSV refused (%v); using PASV", err))
		c.note("EPSV refused (%v); using PASV", err)
	}
	p, err := c.prepareWith(ctx, ModePASV)
	c.last.Fallback = *fallback
	return p, err
}

func (c *Conn) prepareActive(ctx context.Context, fallback *string) (*pending, error) {
	if !c.noEPRT {
		p, err := c.prepareWith(ctx, ModeEPRT)
		if !refused(err) {
			c.last.Fallback = *fallback
			return p, err
		}
		c.noEPRT = true
		*fallback = joinWhy(*fallback, fmt.Sprintf("EPRT refused (%v); using PORT", err))
		c.note("EPRT refused (%v); using PORT", err)
	}
	p, err := c.prepareWith(ctx, ModePORT)
	c.last.Fallback = *fallback
	return p, err
}

func joinWhy(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// refused reports whether err is a permanent negative reply to a mode
// command, which means "use the other one" (500, 502, 522, ...).
func refused(err error) bool {
	var rep *ftp.Reply
	return errors.As(err, &rep) && rep.Code >= 500
}

// prepareWith sends exactly one mode command and sets up its side of
// the data connection.
func (c *Conn) prepareWith(ctx context.Context, m Mode) (*pending, error) {
	start := time.Now()
	c.last = DataInfo{Command: m.String()}
	p, err := c.prepare(ctx, m)
	if err != nil {
		c.last.Err = err
		c.last.Duration = time.Since(start)
		return nil, err
	}
	p.start = start
	return p, nil
}

func (c *Conn) prepare(ctx context.Context, m Mode) (*pending, error) {
	switch m {
	case ModeEPSV:
		rep, err := c.cmd(ctx, ftp.CodeExtendedPassive, "EPSV", "")
		if err != nil {
			return nil, err
		}
		port, err := ftp.ParseEPSVReply(rep.Msg)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTransfer, err)
		}
		addr := netip.AddrPortFrom(c.peer, port)
		c.last.Advertised = "|||" + strconv.Itoa(int(port)) + "|"
		return c.dialData(ctx, addr)
	case ModePASV:
		rep, err := c.cmd(ctx, ftp.CodePassive, "PASV", "")
		if err != nil {
			return nil, err
		}
		addr, err := ftp.ParsePASVReply(rep.Msg)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTransfer, err)
		}
		c.last.Advertised = addr.String()
		if addr.Addr() != c.peer && !c.cfg.trustPASV && c.peer.IsValid() {
			// A server behind NAT often names its private address; and
			// connecting wherever a reply says would let a hostile
			// server aim us at a third host. Use the control peer.
			c.note("PASV reply names %s, not the control connection's peer %s; connecting to %s instead",
				addr.Addr(), c.peer, c.peer)
			addr = netip.AddrPortFrom(c.peer, addr.Port())
		}
		return c.dialData(ctx, addr)
	default: // ModeEPRT, ModePORT
		ln, err := c.listenActive(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTransfer, err)
		}
		ap := netip.MustParseAddrPort(ln.Addr().String())
		if c.cfg.activeAddr.IsValid() {
			// Behind NAT: announce the outside address, listen inside.
			ap = netip.AddrPortFrom(c.cfg.activeAddr, ap.Port())
		}
		var arg, verb string
		if m == ModeEPRT {
			verb, arg = "EPRT", ftp.FormatEPRT(ap)
		} else {
			verb = "PORT"
			arg, err = ftp.FormatHostPort(ap)
			if err != nil {
				ln.Close()
				return nil, fmt.Errorf("%w: %w", ErrTransfer, err)
			}
		}
		c.last.Advertised = ap.String()
		if _, err := c.cmd(ctx, ftp.CodeOK, verb, arg); err != nil {
			ln.Close()
			return nil, err
		}
		return &pending{ln: ln}, nil
	}
}

func (c *Conn) dialData(ctx context.Context, addr netip.AddrPort) (*pending, error) {
	c.last.Addr = addr.String()
	dctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	conn, err := c.cfg.dataDial(dctx, "tcp", addr.String())
	if err != nil {
		return nil, fmt.Errorf("%w: data connection to %s: %w", ErrTransfer, addr, err)
	}
	return &pending{conn: conn}, nil
}

// listenActive listens for the server's data connection on the control
// connection's local address, in the configured port range.
func (c *Conn) listenActive(ctx context.Context) (net.Listener, error) {
	ap, err := netip.ParseAddrPort(c.conn.LocalAddr().String())
	if err != nil {
		return nil, err
	}
	ip := ap.Addr().Unmap()
	var lc net.ListenConfig
	if c.cfg.activeMin == 0 {
		return lc.Listen(ctx, "tcp", netip.AddrPortFrom(ip, 0).String())
	}
	for p := int(c.cfg.activeMin); p <= int(c.cfg.activeMax); p++ {
		var ln net.Listener
		if ln, err = lc.Listen(ctx, "tcp", netip.AddrPortFrom(ip, uint16(p)).String()); err == nil {
			return ln, nil
		}
	}
	return nil, fmt.Errorf("no free port in %d-%d: %w", c.cfg.activeMin, c.cfg.activeMax, err)
}

// open completes the data connection after the transfer command's 1yz
// reply: accepts the server's connection in active mode (only from the
// control connection's peer), then runs the TLS handshake if PROT P.
func (c *Conn) open(ctx context.Context, p *pending) (net.Conn, error) {
	conn, err := c.openConn(ctx, p)
	c.last.Duration = time.Since(p.start)
	if err != nil {
		c.last.Err = err
		return nil, err
	}
	return conn, nil
}

func (c *Conn) openConn(ctx context.Context, p *pending) (net.Conn, error) {
	conn := p.conn
	if p.ln != nil {
		defer p.ln.Close()
		if tl, ok := p.ln.(*net.TCPListener); ok {
			tl.SetDeadline(time.Now().Add(c.cfg.timeout))
		}
		stop := context.AfterFunc(ctx, func() { p.ln.Close() })
		defer stop()
		for {
			nc, err := p.ln.Accept()
			if err != nil {
				return nil, fmt.Errorf("%w: waiting for the server's data connection: %w", ErrTransfer, err)
			}
			ap, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
			if ap.Addr().Unmap() == c.peer || !c.peer.IsValid() {
				c.last.Addr = ap.String()
				conn = nc
				break
			}
			// Someone else raced the server to our port: refuse them.
			c.note("refused data connection from %s (not the server %s)", ap, c.peer)
			nc.Close()
		}
	}
	if c.protP {
		tc := tls.Client(conn, c.tlsConf)
		hctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%w: data connection TLS handshake: %w", ErrTransfer, err)
		}
		conn = tc
	}
	return conn, nil
}
