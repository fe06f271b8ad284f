package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// maxListLine bounds one line of a directory listing.
const maxListLine = 64 << 10

// Retrieve downloads path into w with RETR, starting at offset (sent as
// REST when offset > 0), and returns the number of bytes written.
func (c *Conn) Retrieve(ctx context.Context, path string, offset int64, w io.Writer) (int64, error) {
	var n int64
	_, err := c.transfer(ctx, "RETR", path, offset, false, func(dc net.Conn) error {
		var err error
		n, err = io.Copy(w, dc)
		return err
	})
	return n, err
}

// Store uploads r to path with STOR. With offset > 0 it first sends
// REST offset, and r must already be positioned at offset: the server
// keeps the file's first offset bytes and writes r after them.
func (c *Conn) Store(ctx context.Context, path string, r io.Reader, offset int64) (int64, error) {
	return c.upload(ctx, "STOR", path, r, offset)
}

// Append uploads r to the end of path with APPE, creating it if needed.
func (c *Conn) Append(ctx context.Context, path string, r io.Reader) (int64, error) {
	return c.upload(ctx, "APPE", path, r, 0)
}

// StoreUnique uploads r with STOU under a name the server chooses and
// returns that name, taken from the "FILE: name" text of the 1yz or 2yz
// reply (RFC 1123 4.1.2.9). The name is "" if the server does not say.
func (c *Conn) StoreUnique(ctx context.Context, r io.Reader) (name string, n int64, err error) {
	var pre *ftp.Reply
	final, err := c.transferWith(ctx, "STOU", "", 0, true, func(p *ftp.Reply) { pre = p }, func(dc net.Conn) error {
		var err error
		n, err = io.Copy(dc, r)
		return err
	})
	if err != nil {
		return "", n, err
	}
	for _, rep := range []*ftp.Reply{pre, final} {
		if rep == nil {
			continue
		}
		// Pure-FTPd puts it on the first line of a multi-line 150.
		for _, l := range append(rep.Lines, rep.Msg) {
			if _, after, ok := strings.Cut(l, "FILE:"); ok {
				return strings.TrimSpace(after), n, nil
			}
		}
	}
	return "", n, nil
}

func (c *Conn) upload(ctx context.Context, verb, path string, r io.Reader, offset int64) (int64, error) {
	var n int64
	_, err := c.transfer(ctx, verb, path, offset, true, func(dc net.Conn) error {
		var err error
		n, err = io.Copy(dc, r)
		return err
	})
	return n, err
}

// List lists the directory dir ("" for the current one): with MLSD if
// the server advertises MLST (RFC 3659), machine-readable and in UTC;
// otherwise with LIST, whose ls-style lines are parsed as well as their
// many forms allow. The entries "." and ".." are left out.
func (c *Conn) List(ctx context.Context, dir string) ([]ftp.Entry, error) {
	if _, ok := c.features["MLST"]; ok {
		entries, err := c.list(ctx, "MLSD", dir)
		if !refusedCommand(err) {
			return entries, err
		}
		// MLST advertised but MLSD unknown: a few servers do that.
		c.note("MLSD refused (%v); using LIST", err)
	}
	return c.list(ctx, "LIST", dir)
}

func (c *Conn) list(ctx context.Context, verb, dir string) ([]ftp.Entry, error) {
	now := time.Now()
	var entries []ftp.Entry
	err := c.lines(ctx, verb, dir, func(line string) error {
		var e ftp.Entry
		var err error
		if verb == "MLSD" {
			e, err = ftp.ParseMLSxLine(line)
			if t := strings.ToLower(e.Facts["type"]); err == nil && (t == "cdir" || t == "pdir") {
				return nil
			}
		} else {
			e, err = ftp.ParseListLine(line, now)
		}
		switch {
		case errors.Is(err, ftp.ErrSkipLine):
			return nil
		case err != nil:
			c.note("skipped unreadable %s line %q: %v", verb, truncate(line), err)
			return nil
		case e.Name == "." || e.Name == "..":
			return nil
		}
		entries = append(entries, e)
		return nil
	})
	return entries, err
}

// NameList returns the names NLST lists for dir ("" for the current
// directory), without "." and ".." (which some servers list as
// "dir/." and "dir/..").
func (c *Conn) NameList(ctx context.Context, dir string) ([]string, error) {
	var names []string
	err := c.lines(ctx, "NLST", dir, func(line string) error {
		if b := path.Base(line); line != "" && b != "." && b != ".." {
			names = append(names, line)
		}
		return nil
	})
	return names, err
}

// lines runs a listing command and hands each line, without CRLF, to f.
func (c *Conn) lines(ctx context.Context, verb, arg string, f func(string) error) error {
	_, err := c.transfer(ctx, verb, arg, 0, false, func(dc net.Conn) error {
		r := bufio.NewReaderSize(dc, 32<<10)
		for {
			line, err := readListLine(r)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := f(line); err != nil {
				return err
			}
		}
	})
	return err
}

func readListLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(b)+len(frag) > maxListLine {
			return "", fmt.Errorf("listing line longer than %d bytes", maxListLine)
		}
		b = append(b, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(b) > 0 {
			err = nil // a last line without CRLF
		}
		if err != nil {
			return "", err
		}
		return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
	}
}

// Abort stops the transfer in progress, if any, from another goroutine:
// the transfer closes its data connection, sends ABOR, reads the
// replies and returns an error wrapping ErrAborted.
func (c *Conn) Abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
}

// transfer runs one command that uses a data connection and returns its
// final reply. body gets the open data connection; it is closed after.
// Uploads end with endUpload; downloads read until the server closes.
func (c *Conn) transfer(ctx context.Context, verb, arg string, offset int64, upload bool, body func(net.Conn) error) (*ftp.Reply, error) {
	return c.transferWith(ctx, verb, arg, offset, upload, nil, body)
}

func (c *Conn) transferWith(ctx context.Context, verb, arg string, offset int64, upload bool, prelim func(*ftp.Reply), body func(net.Conn) error) (*ftp.Reply, error) {
	if c.broken != nil {
		return nil, c.broken
	}
	if !ftp.ValidArg(arg) {
		return nil, fmt.Errorf("ftp: %s argument contains CR, LF or NUL: %w", verb, ftp.ErrBadChars)
	}
	// bodyCtx is cancelled by Abort; control-connection reads keep ctx so
	// that an abort never leaves a reply half read.
	bodyCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c.mu.Lock()
	c.cancel = func() { cancel(ErrAborted) }
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.cancel = nil
		c.mu.Unlock()
	}()

	p, err := c.prepareData(ctx)
	if err != nil {
		return nil, transferErr(err)
	}
	// REST goes last, right before the transfer command, as RFC 959
	// asks ("immediately followed by the appropriate FTP service
	// command"); some servers forget the marker after EPSV or PORT.
	if offset > 0 {
		if _, err := c.cmd(ctx, ftp.CodeFilePending, "REST", strconv.FormatInt(offset, 10)); err != nil {
			p.close()
			return nil, transferErr(err)
		}
	}
	if err := c.send(ctx, verb, arg); err != nil {
		p.close()
		return nil, err
	}
	rep, err := c.readReply(ctx)
	if err != nil {
		p.close()
		return nil, err
	}
	switch {
	case rep.Code >= 200 && rep.Code < 300:
		// Nothing to transfer (some servers answer an empty NLST so).
		p.close()
		return rep, nil
	case !rep.Positive() || rep.Code >= 300:
		p.close()
		return rep, transferErr(rep)
	}
	if prelim != nil {
		prelim(rep)
	}
	dc, err := c.open(bodyCtx, p)
	if err != nil {
		// The server reports its side of the failure (425/426) too.
		if final, rerr := c.readReply(ctx); rerr == nil && !final.Positive() {
			return final, fmt.Errorf("%w; server: %w", err, final)
		}
		return nil, err
	}
	stop := context.AfterFunc(bodyCtx, func() { dc.Close() })
	berr := body(&deadlineConn{Conn: dc, timeout: c.cfg.timeout})
	stop()
	switch {
	case bodyCtx.Err() != nil:
		cause := context.Cause(bodyCtx)
		if !errors.Is(cause, ErrAborted) {
			cause = fmt.Errorf("%w: %w", ErrAborted, cause)
		}
		return nil, c.abort(ctx, dc, cause)
	case berr != nil && upload:
		// Reading the local file failed. Closing the data connection
		// would tell the server the file is complete; ABOR says it is not.
		return nil, c.abort(ctx, dc, fmt.Errorf("%w: %w", ErrTransfer, berr))
	}
	var cerr error
	if upload {
		cerr = c.endUpload(dc)
	}
	if err := dc.Close(); cerr == nil {
		cerr = err
	}
	final, err := c.readReply(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case berr != nil && !final.Positive():
		return final, fmt.Errorf("%w: %w (server: %w)", ErrTransfer, berr, final)
	case berr != nil:
		// A local write error, or the data connection broke after the
		// server had sent everything it meant to.
		return final, fmt.Errorf("%w: %w", ErrTransfer, berr)
	case !final.Positive():
		return final, transferErr(final)
	case cerr != nil && !errors.Is(cerr, net.ErrClosed):
		return final, fmt.Errorf("%w: closing data connection: %w", ErrTransfer, cerr)
	}
	return final, nil
}

// endUpload marks the end of an upload without losing its tail. Closing
// outright is not enough: with TLS 1.3 the server sends session tickets
// the client never reads, and closing a socket with unread input sends
// an RST, which can make the server discard data it has not read yet
// (vsftpd: "426 Failure reading network stream"). So: send the end of
// file (close_notify, or a TCP FIN), then read until the server closes.
func (c *Conn) endUpload(dc net.Conn) error {
	var err error
	switch w := dc.(type) {
	case *tls.Conn:
		err = w.CloseWrite()
	case interface{ CloseWrite() error }:
		err = w.CloseWrite()
	}
	if err != nil {
		return err
	}
	dc.SetReadDeadline(time.Now().Add(c.cfg.timeout))
	_, err = io.Copy(io.Discard, io.LimitReader(dc, 1<<20))
	return err
}

// abort stops a transfer on the server: ABOR, then the data connection
// is closed (a server that reads ABOR only between transfers needs the
// close to notice). RFC 959: the server answers the transfer command
// (426 if it was still running, else its 2yz) and then ABOR itself (225
// or 226): two replies in every case. It returns cause, with any error
// that kept the session from getting back in step.
func (c *Conn) abort(ctx context.Context, dc net.Conn, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.timeout)
	defer cancel()
	serr := c.send(ctx, "ABOR", "")
	dc.Close()
	if serr != nil {
		return fmt.Errorf("%w; %w", cause, serr)
	}
	for i := 0; i < 2; i++ {
		if _, err := c.readReply(ctx); err != nil {
			return fmt.Errorf("%w; %w", cause, err)
		}
	}
	return cause
}

func transferErr(err error) error {
	var rep *ftp.Reply
	if errors.As(err, &rep) && !errors.Is(err, ErrConnection) {
		return fmt.Errorf("%w: %w", ErrTransfer, err)
	}
	return err
}

// deadlineConn bounds every read and write of a data connection by
// timeout, so a stalled transfer fails instead of hanging.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	d.Conn.SetReadDeadline(time.Now().Add(d.timeout))
	return d.Conn.Read(p)
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	d.Conn.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.Conn.Write(p)
}
