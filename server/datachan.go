package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/ferry-ftp/ferry/ftp"
)

// dataChan is a session's data channel: everything PASV, EPSV, PORT,
// EPRT, EPSV ALL and PROT have set up for the next data connection. Each
// setup serves one transfer (RFC 959 3.2): the transfer command takes it
// (take) and gets a dataConn of its own, so a transfer goroutine never
// touches the channel. The session goroutine owns every field.
type dataChan struct {
	srv    *Server
	log    *slog.Logger   // the session's; replaced at login
	local  netip.AddrPort // control connection's local address, unmapped
	remote netip.AddrPort // control connection's peer, unmapped
	tls    *tlsBinder     // nil when the server has no TLS

	protP   bool // PROT P: data connections are protected
	epsvAll bool // after EPSV ALL only EPSV may set up data connections

	// What the next transfer connects with: a passive listener, or an
	// active target. At most one is set; cmd names the command that set it.
	pasv   *passiveListener
	active netip.AddrPort
	cmd    string
}

// reset forgets the pending setup and closes its listener, if any.
func (d *dataChan) reset() {
	if d.pasv != nil {
		_ = d.pasv.Close()
		d.pasv = nil
	}
	d.active, d.cmd = netip.AddrPort{}, ""
}

// reinitialize returns the channel to its state at login (REIN): no
// setup, EPSV ALL forgotten. PROT stays, with the TLS that allows it.
func (d *dataChan) reinitialize() {
	d.reset()
	d.epsvAll = false
}

// setProtection records PROT P (true) or PROT C.
func (d *dataChan) setProtection(private bool) { d.protP = private }

// passive opens a listener for PASV or EPSV, replacing any earlier
// setup, and returns the listener's local port and the port to advertise.
// Its failures are the 425 the client gets.
func (d *dataChan) passive(cmd string) (local, advertised uint16, r *ftp.Reply) {
	d.reset()
	l, err := openPassive(d.srv.ports, d.local.Addr())
	if err != nil {
		if errors.Is(err, errPortsExhausted) {
			d.log.Warn("passive port range exhausted; refusing data connection",
				"range", fmt.Sprintf("%d-%d", d.srv.cfg.PassivePorts.Min, d.srv.cfg.PassivePorts.Max))
			return 0, 0, reply(ftp.CodeCantOpenData, "No passive port available, try again later.")
		}
		d.log.Error("passive listen failed", "err", err)
		return 0, 0, reply(ftp.CodeCantOpenData, "Cannot open passive connection.")
	}
	d.pasv, d.cmd = l, cmd
	srv, log, port := d.srv, d.log, l.Port()
	l.expireAfter(srv.cfg.DataConnectTimeout, func() {
		srv.passiveExpired.Add(1)
		log.Info("passive port released: no transfer used it in time", "cmd", cmd, "port", port,
			"data_connect", srv.cfg.DataConnectTimeout)
	})
	return port, srv.cfg.PassivePortMap.Map(port), nil
}

// port sets up an active data connection to target (PORT or EPRT),
// refusing targets the bounce rules forbid.
func (d *dataChan) port(cmd string, target netip.AddrPort) *ftp.Reply {
	if d.epsvAll {
		return reply(ftp.CodeBadSequence, cmd+" not allowed after EPSV ALL.")
	}
	if d.srv.cfg.DisableActive {
		return reply(ftp.CodeNotImplemented, "Active mode is disabled on this server; use PASV or EPSV.")
	}
	target = netip.AddrPortFrom(target.Addr().Unmap(), target.Port())
	if err := checkActiveTarget(target, d.remote.Addr(), d.srv.cfg.ActiveAnyPeer); err != nil {
		d.log.Warn("active target refused", "cmd", cmd, "target", target.String(), "err", err)
		return reply(ftp.CodeBadArguments, err.Error())
	}
	d.reset()
	d.active, d.cmd = target, cmd
	return reply(ftp.CodeOK, cmd+" command successful. Consider using EPSV.")
}

// status describes the pending setup for STAT.
func (d *dataChan) status() string {
	switch {
	case d.pasv != nil:
		return "Waiting for a data connection (" + d.cmd + ")"
	case d.active.IsValid():
		return "Data connection will go to " + d.active.String() + " (" + d.cmd + ")"
	}
	return "No data connection"
}

// take hands the pending setup to a transfer and clears it.
func (d *dataChan) take() (*dataConn, *ftp.Reply) {
	c := &dataConn{ch: d, pasv: d.pasv, active: d.active, cmd: d.cmd, protP: d.protP}
	d.pasv, d.active, d.cmd = nil, netip.AddrPort{}, ""
	if c.pasv == nil && !c.active.IsValid() {
		return nil, reply(ftp.CodeCantOpenData, "Use PORT, EPRT, PASV or EPSV first.")
	}
	if c.pasv != nil && !c.pasv.take() {
		return nil, reply(ftp.CodeCantOpenData, "The passive port was not used in time and is closed; send "+c.cmd+" again.")
	}
	if d.srv.cfg.RequireTLSData && !c.protP {
		c.close()
		return nil, reply(ftp.CodeProtectionDenied, "Policy requires PROT P for data connections.")
	}
	return c, nil
}

// Errors of opening a data connection; the transfer answers each with its
// own reply (see transferReply).
var (
	// errDataConnect: no data connection could be accepted or made.
	errDataConnect = errors.New("no data connection")
	// errDataTLS: the data connection's TLS handshake failed.
	errDataTLS = errors.New("data connection TLS handshake failed")
)

// dataConn is one transfer's data connection: set up by PASV, EPSV, PORT
// or EPRT, taken from the channel by the transfer command, and opened
// once. It belongs to the transfer.
type dataConn struct {
	ch     *dataChan // for the server's settings, the addresses and TLS; never written
	pasv   *passiveListener
	active netip.AddrPort
	cmd    string // PASV, EPSV, PORT or EPRT: for logs and doctor
	protP  bool

	conn      net.Conn   // once open: the connection bytes move on
	batch     *batchConn // under a TLS download: gathers records
	announced bool       // the 150 went out before open (the bare fast path)
	// stop undoes the hook that closes the connection when the
	// transfer's context ends, which is what interrupts a copy blocked
	// in the kernel (ABOR, the session's end, Shutdown).
	stop func() bool
}

// acceptNow takes the client's passive connection if it is already
// waiting in the accept queue, without waiting and outside Go's
// netpoller (see passiveListener.acceptPending). It is the fast path of
// a small download; ok is false whenever it does not apply.
func (c *dataConn) acceptNow() (pendingConn, bool) {
	if c.pasv == nil || c.protP {
		return pendingConn{}, false
	}
	c.watchStrangers()
	cfg := &c.ch.srv.cfg
	return c.pasv.acceptPending(c.ch.remote.Addr(), cfg.PassiveAnyPeer)
}

// adopt makes conn, taken by acceptNow and already announced with 150,
// the connection a later open returns.
func (c *dataConn) adopt(conn net.Conn) {
	c.conn, c.announced = conn, true
}

// open returns the data connection ready for bytes: it accepts the
// client's connection on the passive listener (or connects to the active
// target), calls announce (the 150 reply), and then, under PROT P, runs
// the TLS handshake with the session-reuse rule. The 150 comes before
// the handshake: clients such as lftp start it only once they have read
// the reply. A download (gather) gathers TLS records into large writes.
func (c *dataConn) open(ctx context.Context, announce func(), gather bool) (net.Conn, error) {
	if c.conn == nil {
		conn, err := c.connect(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s data connection: %w: %w", c.cmd, errDataConnect, err)
		}
		c.conn = conn
	}
	raw := c.conn
	// The stall rule sits right on the TCP connection, beneath TLS: a
	// TLS record cut short by a deadline could not be resumed.
	c.conn = &stallConn{Conn: raw, stall: c.ch.srv.cfg.DataStallTimeout}
	c.stop = context.AfterFunc(ctx, func() { _ = raw.Close() })
	if !c.announced {
		announce()
		c.announced = true
	}
	if c.protP {
		if err := c.protect(ctx); err != nil {
			return nil, err
		}
		if gather {
			c.batch.start()
		}
	}
	return c.conn, nil
}

// connect accepts or dials the TCP connection.
func (c *dataConn) connect(ctx context.Context) (net.Conn, error) {
	cfg := &c.ch.srv.cfg
	if c.pasv != nil {
		c.watchStrangers()
		conn, err := c.pasv.accept(ctx, c.ch.remote.Addr(), cfg.PassiveAnyPeer, cfg.DataConnectTimeout)
		_ = c.pasv.Close()
		return conn, err
	}
	var from uint16
	if local := c.ch.local.Port(); cfg.ActiveFromPort20 && local > 1 {
		from = local - 1
	}
	conn, fellBack, err := dialActive(ctx, c.ch.local.Addr(), c.active, from, cfg.DataConnectTimeout)
	if fellBack && c.ch.srv.port20Warned.CompareAndSwap(false, true) {
		c.ch.srv.log.Warn("cannot bind the active-mode source port; using ephemeral source ports", "port", from)
	}
	return conn, err
}

// watchStrangers logs each connection the passive listener drops because
// it came from an address other than the client's: port theft or a
// misrouted client. The listener keeps waiting for the real client.
func (c *dataConn) watchStrangers() {
	log, cmd := c.ch.log, c.cmd
	c.pasv.onStranger = func(from netip.AddrPort) {
		log.Warn("dropped data connection from a foreign address", "from", from.String(), "cmd", cmd)
	}
}

// protect runs the server side of the TLS handshake (PROT P), bounded by
// the data-connect timeout, and applies the session-reuse policy.
func (c *dataConn) protect(ctx context.Context) error {
	var bound bool
	c.batch = &batchConn{Conn: c.conn}
	tc := tls.Server(c.batch, c.ch.tls.dataConfig(&bound))
	c.conn = tc
	hctx, cancel := context.WithTimeout(ctx, c.ch.srv.cfg.DataConnectTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return fmt.Errorf("%s data connection: %w: %w", c.cmd, errDataTLS, err)
	}
	return c.ch.tls.check(tc, bound, c.ch.log)
}

// finish ends a transfer's use of the connection: what a TLS download
// gathered is written out (only when the transfer succeeded, so a failed
// download's tail is dropped), then the connection is closed. Its error
// is the transfer's: the client is missing the end.
func (c *dataConn) finish(ok bool) error {
	var err error
	if c.stop != nil {
		c.stop()
	}
	if c.batch != nil && ok {
		if ferr := c.batch.stop(); ferr != nil {
			err = dataErr{ferr}
		}
	}
	if c.conn != nil {
		if cerr := c.conn.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = dataErr{cerr}
		}
	}
	return err
}

// close releases what was never opened (a listener not accepted on).
func (c *dataConn) close() {
	if c.pasv != nil {
		_ = c.pasv.Close()
	}
}
