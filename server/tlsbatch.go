package server

import (
	"net"
	"sync"
)

// tlsBatchSize is how many bytes of TLS records a download gathers
// before one write. crypto/tls writes every record (16 KiB of payload at
// most) with a write call of its own: 64 system calls per MiB, where a
// plain download takes sendfile with 8 MiB chunks.
const tlsBatchSize = 256 << 10

var tlsBatchBufs = sync.Pool{New: func() any { b := make([]byte, 0, tlsBatchSize); return &b }}

// batchConn sits under a download's tls.Conn and, between start and stop,
// gathers its records into large writes. It passes writes straight
// through outside that span: the handshake's flights must leave at once,
// and tls.Conn's Close sends close_notify and then makes the connection
// refuse writes, so everything gathered must be out before that (stop).
// It is used by one goroutine at a time, the transfer's; ABOR interrupts
// a blocked write by closing the connection beneath it.
type batchConn struct {
	net.Conn
	bp *[]byte // pooled buffer while gathering, else nil
}

func (c *batchConn) start() {
	if c.bp == nil {
		c.bp = tlsBatchBufs.Get().(*[]byte)
	}
}

// stop writes what is gathered and turns gathering off; its error is the
// download's (the client is missing the end).
func (c *batchConn) stop() error {
	if c.bp == nil {
		return nil
	}
	err := c.flush()
	c.release()
	return err
}

func (c *batchConn) release() {
	*c.bp = (*c.bp)[:0]
	tlsBatchBufs.Put(c.bp)
	c.bp = nil
}

func (c *batchConn) Write(p []byte) (int, error) {
	if c.bp == nil {
		return c.Conn.Write(p)
	}
	if len(*c.bp)+len(p) > cap(*c.bp) {
		if err := c.flush(); err != nil {
			return 0, err
		}
		if len(p) >= cap(*c.bp) {
			return c.Conn.Write(p)
		}
	}
	*c.bp = append(*c.bp, p...)
	return len(p), nil
}

// flush writes the gathered bytes. net.Conn's Write writes all of p or
// fails, so one call suffices.
func (c *batchConn) flush() error {
	buf := *c.bp
	if len(buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(buf)
	*c.bp = buf[:0]
	return err
}

// Close drops what was not stopped (a failed or aborted download) and
// closes the connection.
func (c *batchConn) Close() error {
	if c.bp != nil {
		c.release()
	}
	return c.Conn.Close()
}
