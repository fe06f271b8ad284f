package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// The load generator speaks just enough FTP to drive the workloads, with
// nothing between the socket and the measurement: no progress bars, no
// listing parser, one reused buffer per transfer. It is deliberately not
// ferry's own client, so that a bug shared by ferry's client and server
// cannot flatter ferry.

// opTimeout bounds every single command and every data transfer step.
const opTimeout = 2 * time.Minute

// bufSize is the read/write buffer of the load generator's data side; the
// machine-limit measurement reads with the same size.
const bufSize = 256 << 10

// ftpConn is one control connection.
type ftpConn struct {
	c   net.Conn
	r   *bufio.Reader
	tls *tls.Config // non-nil after AUTH TLS: data connections are protected too
	// lines are the inner lines of the last multi-line reply (FEAT).
	lines []string
}

// dialFTP connects and reads the greeting.
func dialFTP(ctx context.Context, addr string) (*ftpConn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	fc := &ftpConn{c: c, r: bufio.NewReaderSize(c, 4096)}
	if _, _, err := fc.reply(220); err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	return fc, nil
}

// reply reads one (possibly multi-line) reply and checks its code class
// against want: a want below 10 is a class (1-5), otherwise an exact code.
func (f *ftpConn) reply(want int) (int, string, error) {
	f.c.SetReadDeadline(time.Now().Add(opTimeout))
	line, err := f.r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	if len(line) < 4 {
		return 0, "", fmt.Errorf("short reply %q", line)
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil {
		return 0, "", fmt.Errorf("bad reply %q", line)
	}
	msg := strings.TrimRight(line[4:], "\r\n")
	f.lines = f.lines[:0]
	if line[3] == '-' {
		end := line[:3] + " "
		for {
			l, err := f.r.ReadString('\n')
			if err != nil {
				return 0, "", err
			}
			if strings.HasPrefix(l, end) {
				break
			}
			f.lines = append(f.lines, strings.TrimSpace(l))
		}
	}
	if (want < 10 && code/100 != want) || (want >= 10 && code != want) {
		return code, msg, fmt.Errorf("got %d %s, want %d", code, msg, want)
	}
	return code, msg, nil
}

// cmd sends one command line and reads its reply.
func (f *ftpConn) cmd(want int, format string, args ...any) (int, string, error) {
	f.c.SetWriteDeadline(time.Now().Add(opTimeout))
	if _, err := fmt.Fprintf(f.c, format+"\r\n", args...); err != nil {
		return 0, "", err
	}
	code, msg, err := f.reply(want)
	if err != nil {
		err = fmt.Errorf("%s: %w", strings.Fields(format)[0], err)
	}
	return code, msg, err
}

// login sends USER and PASS.
func (f *ftpConn) login(user, pass string) error {
	code, _, err := f.cmd(3, "USER %s", user)
	if err != nil {
		if code == 230 {
			return nil
		}
		return err
	}
	_, _, err = f.cmd(230, "PASS %s", pass)
	return err
}

// secure upgrades the control connection (AUTH TLS) and protects data
// connections (PBSZ 0, PROT P). It must come before login.
func (f *ftpConn) secure(cfg *tls.Config) error {
	if _, _, err := f.cmd(234, "AUTH TLS"); err != nil {
		return err
	}
	tc := tls.Client(f.c, cfg)
	tc.SetDeadline(time.Now().Add(opTimeout))
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("control TLS handshake: %w", err)
	}
	f.c, f.r, f.tls = tc, bufio.NewReaderSize(tc, 4096), cfg
	return nil
}

// protect finishes the TLS setup after login.
func (f *ftpConn) protect() error {
	if _, _, err := f.cmd(200, "PBSZ 0"); err != nil {
		return err
	}
	_, _, err := f.cmd(200, "PROT P")
	return err
}

// quit says goodbye and closes. The client side closes with an RST so that
// tens of thousands of short logins leave no TIME_WAIT on loopback ports.
func (f *ftpConn) quit() error {
	_, _, err := f.cmd(221, "QUIT")
	if tc, ok := f.c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	f.c.Close()
	return err
}

// hasFeature reports whether the last reply (to FEAT) listed feat.
func (f *ftpConn) hasFeature(feat string) bool {
	for _, l := range f.lines {
		if name, _, _ := strings.Cut(l, " "); strings.EqualFold(name, feat) {
			return true
		}
	}
	return false
}

// close drops the connection without QUIT.
func (f *ftpConn) close() { f.c.Close() }

// dataMode picks how data connections are made.
type dataMode int

const (
	passive dataMode = iota
	active
)

// pendingData is a data connection being set up: for passive mode it is
// already connected, for active mode it is a listener still to accept.
type pendingData struct {
	conn net.Conn
	ln   net.Listener
	tls  *tls.Config
}

// open prepares a data connection before the transfer command is sent.
func (f *ftpConn) open(ctx context.Context, mode dataMode) (*pendingData, error) {
	if mode == active {
		host, _, _ := net.SplitHostPort(f.c.LocalAddr().String())
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		p := ln.Addr().(*net.TCPAddr)
		ip := p.IP.To4()
		if _, _, err := f.cmd(200, "PORT %d,%d,%d,%d,%d,%d", ip[0], ip[1], ip[2], ip[3], p.Port>>8, p.Port&0xff); err != nil {
			ln.Close()
			return nil, err
		}
		return &pendingData{ln: ln, tls: f.tls}, nil
	}
	_, msg, err := f.cmd(227, "PASV")
	if err != nil {
		return nil, err
	}
	addr, err := parsePASV(msg)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("data connection: %w", err)
	}
	return &pendingData{conn: c, tls: f.tls}, nil
}

// ready returns the data connection once the server said 150/125: for
// active mode it accepts, and with PROT P it does the client handshake.
func (p *pendingData) ready() (net.Conn, error) {
	c := p.conn
	if p.ln != nil {
		p.ln.(*net.TCPListener).SetDeadline(time.Now().Add(opTimeout))
		var err error
		c, err = p.ln.Accept()
		p.ln.Close()
		if err != nil {
			return nil, fmt.Errorf("accept data connection: %w", err)
		}
	}
	if p.tls != nil {
		tc := tls.Client(c, p.tls)
		tc.SetDeadline(time.Now().Add(opTimeout))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, fmt.Errorf("data TLS handshake: %w", err)
		}
		c = tc
	}
	return c, nil
}

func (p *pendingData) abandon() {
	if p.conn != nil {
		p.conn.Close()
	}
	if p.ln != nil {
		p.ln.Close()
	}
}

// transfer runs one data command (RETR, STOR, LIST, MLSD): it opens the
// data connection, sends the command, and hands the connection to move,
// which returns the bytes moved; then it reads the final 226.
func (f *ftpConn) transfer(ctx context.Context, mode dataMode, command string, move func(net.Conn) (int64, error)) (int64, error) {
	p, err := f.open(ctx, mode)
	if err != nil {
		return 0, err
	}
	if _, _, err := f.cmd(1, "%s", command); err != nil {
		p.abandon()
		return 0, err
	}
	c, err := p.ready()
	if err != nil {
		return 0, err
	}
	n, err := move(c)
	if err != nil {
		c.Close()
		return n, fmt.Errorf("%s: %w", command, err)
	}
	if tc, ok := c.(*tls.Conn); ok {
		tc.CloseWrite() // close_notify, so the server sees a clean end of an upload
	}
	c.Close()
	if _, _, err := f.reply(2); err != nil {
		return n, fmt.Errorf("%s: %w", command, err)
	}
	return n, nil
}

// discard reads r to the end with buf and returns the byte count.
func discard(r net.Conn, buf []byte) (int64, error) {
	var n int64
	for {
		r.SetReadDeadline(time.Now().Add(opTimeout))
		k, err := r.Read(buf)
		n += int64(k)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// countLines reads r to the end and counts its lines, and its bytes.
func countLines(r net.Conn, buf []byte) (lines int, n int64, err error) {
	for {
		r.SetReadDeadline(time.Now().Add(opTimeout))
		k, err := r.Read(buf)
		n += int64(k)
		for _, b := range buf[:k] {
			if b == '\n' {
				lines++
			}
		}
		if errors.Is(err, io.EOF) {
			return lines, n, nil
		}
		if err != nil {
			return lines, n, err
		}
	}
}

// send writes size bytes from buf (repeated) to w.
func send(w net.Conn, buf []byte, size int64) (int64, error) {
	var n int64
	for n < size {
		chunk := buf
		if rest := size - n; rest < int64(len(chunk)) {
			chunk = chunk[:rest]
		}
		w.SetWriteDeadline(time.Now().Add(opTimeout))
		k, err := w.Write(chunk)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// parsePASV extracts host:port from "Entering Passive Mode (h1,h2,h3,h4,p1,p2)".
func parsePASV(msg string) (string, error) {
	open, end := strings.IndexByte(msg, '('), strings.LastIndexByte(msg, ')')
	if open < 0 || end < open {
		return "", fmt.Errorf("PASV reply %q has no address", msg)
	}
	parts := strings.Split(msg[open+1:end], ",")
	if len(parts) != 6 {
		return "", fmt.Errorf("PASV reply %q: want 6 numbers", msg)
	}
	var v [6]int
	for i, s := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || n > 255 {
			return "", fmt.Errorf("PASV reply %q: bad number %q", msg, s)
		}
		v[i] = n
	}
	return fmt.Sprintf("%d.%d.%d.%d:%d", v[0], v[1], v[2], v[3], v[4]<<8|v[5]), nil
}
