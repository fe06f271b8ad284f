package server

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// Data is copied in chunks so that a stall deadline can be set before
// each one while the kernel still does the copying (sendfile from a file
// to a socket, splice from a socket to a file): io.CopyN hands the
// destination an io.LimitedReader, which both fast paths accept. A chunk
// must move within the stall timeout, which sets the slowest rate
// tolerated at chunkSize/DataStallTimeout (about 2 KiB/s by default).
const chunkSize = 256 << 10

// copyBufSize is the buffer of the generic path (TLS, ASCII).
const copyBufSize = 64 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// errDataSide marks an error of the data connection, as opposed to the
// storage side: the first becomes 426, the second a storage reply.
type dataErr struct{ err error }

func (e dataErr) Error() string { return "data connection: " + e.err.Error() }
func (e dataErr) Unwrap() error { return e.err }

// sendData copies src (a file being read) to the data connection.
func sendData(conn net.Conn, src io.Reader, ascii bool, stall time.Duration) (int64, error) {
	if tc, ok := conn.(*net.TCPConn); ok && !ascii {
		if f, ok := src.(*os.File); ok {
			return sendfileChunks(tc, f, stall)
		}
	}
	w := io.Writer(&stallConn{conn: conn, stall: stall})
	if ascii {
		w = ftp.NewCRLFWriter(w)
	}
	return copyGeneric(w, src, func(err error) error { return dataErr{err} }, nil)
}

// sendfileChunks takes the kernel's sendfile path chunk by chunk.
func sendfileChunks(conn *net.TCPConn, f *os.File, stall time.Duration) (int64, error) {
	var total int64
	for {
		if err := conn.SetWriteDeadline(time.Now().Add(stall)); err != nil {
			return total, dataErr{err}
		}
		n, err := io.CopyN(conn, f, chunkSize)
		total += n
		switch {
		case errors.Is(err, io.EOF):
			return total, nil
		case err != nil:
			// io.CopyN cannot tell which side failed; a file read error
			// on a local disk is rare, a closed socket is not.
			var pe *os.PathError
			if errors.As(err, &pe) && pe.Op == "read" {
				return total, err
			}
			return total, dataErr{err}
		}
	}
}

// receiveData copies the data connection into dst (a file being written).
func receiveData(conn net.Conn, dst io.Writer, ascii bool, stall time.Duration) (int64, error) {
	if tc, ok := conn.(*net.TCPConn); ok && !ascii {
		if _, ok := dst.(io.ReaderFrom); ok {
			return spliceChunks(tc, dst, stall)
		}
	}
	r := io.Reader(&stallConn{conn: conn, stall: stall})
	if ascii {
		cw := ftp.NewLFWriter(dst)
		n, err := copyGeneric(cw, r, nil, func(err error) error { return dataErr{err} })
		if err == nil {
			err = cw.Flush()
		}
		return n, err
	}
	return copyGeneric(dst, r, nil, func(err error) error { return dataErr{err} })
}

// spliceChunks receives chunk by chunk so the kernel can splice socket
// data into the file.
func spliceChunks(conn *net.TCPConn, dst io.Writer, stall time.Duration) (int64, error) {
	var total int64
	for {
		if err := conn.SetReadDeadline(time.Now().Add(stall)); err != nil {
			return total, dataErr{err}
		}
		n, err := io.CopyN(dst, conn, chunkSize)
		total += n
		switch {
		case errors.Is(err, io.EOF):
			return total, nil
		case err != nil:
			var pe *os.PathError
			if errors.As(err, &pe) && (pe.Op == "write" || pe.Op == "copy_file_range") {
				return total, err
			}
			var ne *net.OpError
			if errors.As(err, &ne) || timeoutError(err) {
				return total, dataErr{err}
			}
			return total, err
		}
	}
}

// copyGeneric copies with a pooled buffer, tagging errors by side.
func copyGeneric(dst io.Writer, src io.Reader, wrapWrite, wrapRead func(error) error) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			w, werr := dst.Write(buf[:n])
			total += int64(w)
			if werr != nil {
				if wrapWrite != nil {
					werr = wrapWrite(werr)
				}
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			if wrapRead != nil {
				rerr = wrapRead(rerr)
			}
			return total, rerr
		}
	}
}

// stallConn refreshes a deadline before every read or write, so a data
// connection on which nothing moves for the stall timeout fails.
type stallConn struct {
	conn  net.Conn
	stall time.Duration
}

func (c *stallConn) Read(p []byte) (int, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(c.stall))
	return c.conn.Read(p)
}

func (c *stallConn) Write(p []byte) (int, error) {
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.stall))
	return c.conn.Write(p)
}

// ctxReader stops a long read loop (HASH of a large file) when the
// session ends.
type ctxReader struct {
	ctx interface{ Err() error }
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
