package server

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// Downloads are copied in chunks so that a stall deadline can be set
// before each one while the kernel still does the copying (sendfile from
// a file to a socket): io.CopyN hands the socket an io.LimitedReader,
// which the sendfile path accepts. Chunks are large because each one is a
// round through the netpoller; 256 KiB chunks cost the server and the
// client about a tenth more CPU per GiB than 8 MiB ones, and the
// throughput with it. A chunk that the stall deadline cuts short after
// moving some bytes is a slow client, not a dead one (copyChunks goes on),
// so a big chunk does not set a minimum rate.
const chunkSize = 8 << 20

// Uploads are read into a large buffer and written to the file. The
// kernel's splice path (socket to pipe to file), which Go takes for an
// io.Copy into an *os.File, measured 2 to 4 times slower than plain reads
// into the page cache (bench: 376 against 1316 MiB/s for a 1 GiB upload),
// so it is not used.
const recvBufSize = 1 << 20

// deadlineEvery is how often a copy loop moves its stall deadline (at
// most every half stall timeout): often enough that a live connection
// never hits it, seldom enough to cost nothing per read.
const deadlineEvery = time.Second

// copyBufSize is the buffer of the generic path (TLS, ASCII).
const copyBufSize = 64 << 10

var (
	copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
	recvBufs = sync.Pool{New: func() any { b := make([]byte, recvBufSize); return &b }}
)

// errDataSide marks an error of the data connection, as opposed to the
// storage side: the first becomes 426, the second a storage reply.
type dataErr struct{ err error }

func (e dataErr) Error() string { return "data connection: " + e.err.Error() }
func (e dataErr) Unwrap() error { return e.err }

// sendData copies src (a file being read) to the data connection. size
// is what the 150 reply announced (what is left of the file after REST);
// the sendfile path stops there instead of asking the kernel once more to
// learn that the file ended, which for a small file is a tenth of its
// cost. A file that grew since is sent as it was announced; one that
// shrank ends early. size < 0 means unknown: send to the end. Every copy
// path adds what it moved to progress as it goes (for STAT).
func sendData(conn net.Conn, src io.Reader, size int64, ascii bool, stall time.Duration, progress *atomic.Int64) (int64, error) {
	if tc, ok := conn.(*net.TCPConn); ok && !ascii {
		if f, ok := src.(*os.File); ok {
			return sendfileChunks(tc, f, size, stall, progress)
		}
	}
	w := io.Writer(&stallConn{conn: conn, stall: stall})
	if ascii {
		w = ftp.NewCRLFWriter(w)
	}
	return copyGeneric(w, src, func(err error) error { return dataErr{err} }, nil, progress)
}

// sendfileChunks takes the kernel's sendfile path chunk by chunk, up to
// size bytes (to the end of f if size < 0).
func sendfileChunks(conn *net.TCPConn, f *os.File, size int64, stall time.Duration, progress *atomic.Int64) (int64, error) {
	cork(conn)
	var sent int64
	return copyChunks(conn.SetWriteDeadline, stall, progress,
		func() (int64, error) {
			n := int64(chunkSize)
			if size >= 0 {
				if sent >= size {
					return 0, io.EOF
				}
				n = min(n, size-sent)
			}
			k, err := io.CopyN(conn, f, n)
			sent += k
			return k, err
		},
		func(err error) error {
			// io.CopyN cannot tell which side failed; a file read error
			// on a local disk is rare, a closed socket is not.
			var pe *os.PathError
			if errors.As(err, &pe) && pe.Op == "read" {
				return err
			}
			return dataErr{err}
		})
}

// receiveData copies the data connection into dst (a file being written),
// adding what it moved to progress as it goes.
func receiveData(conn net.Conn, dst io.Writer, ascii bool, stall time.Duration, progress *atomic.Int64) (int64, error) {
	if !ascii {
		return receiveRaw(conn, dst, stall, progress)
	}
	r := &stallConn{conn: conn, stall: stall}
	cw := ftp.NewLFWriter(dst)
	n, err := copyGeneric(cw, r, nil, func(err error) error { return dataErr{err} }, progress)
	if err == nil {
		err = cw.Flush()
	}
	return n, err
}

// receiveRaw reads the data connection into a large pooled buffer and
// writes each read to dst, moving the stall deadline once a second.
func receiveRaw(conn net.Conn, dst io.Writer, stall time.Duration, progress *atomic.Int64) (int64, error) {
	bp := recvBufs.Get().(*[]byte)
	defer recvBufs.Put(bp)
	buf := *bp
	var total int64
	var moved time.Time
	every := min(deadlineEvery, stall/2)
	for {
		if now := time.Now(); now.Sub(moved) >= every {
			if err := conn.SetReadDeadline(now.Add(stall)); err != nil {
				return total, dataErr{err}
			}
			moved = now
		}
		n, rerr := conn.Read(buf)
		if n > 0 {
			w, werr := dst.Write(buf[:n])
			total += int64(w)
			progress.Add(int64(w))
			if werr != nil {
				return total, werr
			}
		}
		switch {
		case rerr == io.EOF:
			return total, nil
		case rerr != nil:
			return total, dataErr{rerr}
		}
	}
}

// copyChunks runs copyChunk (an io.CopyN, which keeps the kernel path)
// until the end of the data, moving the stall deadline at most once a
// second (or every half stall timeout, if that is shorter);
// side tells a data-connection error (dataErr) from a storage one. A chunk
// cut short by the deadline after moving bytes gets a new deadline, so
// the transfer fails only when nothing moved for a whole stall timeout
// (noticed within two of them).
func copyChunks(deadline func(time.Time) error, stall time.Duration, progress *atomic.Int64, copyChunk func() (int64, error), side func(error) error) (int64, error) {
	var total int64
	var moved time.Time
	every := min(deadlineEvery, stall/2)
	for {
		if now := time.Now(); now.Sub(moved) >= every {
			if err := deadline(now.Add(stall)); err != nil {
				return total, dataErr{err}
			}
			moved = now
		}
		n, err := copyChunk()
		total += n
		progress.Add(n)
		switch {
		case errors.Is(err, io.EOF):
			return total, nil
		case n > 0 && errors.Is(err, os.ErrDeadlineExceeded):
			moved = time.Time{} // slow, not stalled: a new deadline
		case err != nil:
			return total, side(err)
		}
	}
}

// copyGeneric copies with a pooled buffer, tagging errors by side and
// adding what it moved to progress, if not nil.
func copyGeneric(dst io.Writer, src io.Reader, wrapWrite, wrapRead func(error) error, progress *atomic.Int64) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			w, werr := dst.Write(buf[:n])
			total += int64(w)
			if progress != nil {
				progress.Add(int64(w))
			}
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

// countWriter adds what passes through it to n (a listing's progress).
type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
